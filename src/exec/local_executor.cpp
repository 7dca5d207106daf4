#include "exec/local_executor.hpp"

#include "exec/signals.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if BENCHMATRIX_HAVE_PIDFD_OPEN
// glibc 2.36 shipped this header without extern "C" (fixed in 2.37); harmless where it has it.
extern "C" {
#include <sys/pidfd.h>
}
#endif

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace bm {
namespace {

constexpr std::uint64_t k_signal_key = 0;  // epoll key of the signalfd; a child's pid is never 0
constexpr std::uint64_t k_pipe_key = 1ULL << 40;  // | pid << 1 | stream: a capped output pipe
constexpr int k_max_events = 16;
constexpr int k_first_free_fd = 3;

using CpuMask = std::vector<cpu_set_t>;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
void add_cpu(CpuMask& mask, int cpu) {
  CPU_SET_S(static_cast<std::size_t>(cpu), mask.size() * sizeof(cpu_set_t), mask.data());
}
#pragma GCC diagnostic pop

std::string error_text(const std::string& call, const std::string& what, int error_number) {
  return SystemError(call, what, error_number).what();
}

void check_spawn_call(int error_number, const char* call) {
  if (error_number != 0) {
    throw SystemError(call, {}, error_number);
  }
}

int open_pidfd(pid_t pid) {
#if BENCHMATRIX_HAVE_PIDFD_OPEN
  return ::pidfd_open(pid, 0);  // pidfds are always close-on-exec
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// Opens a file the child gets as stdin, stdout or stderr. With 0, 1 or 2 closed in the
// orchestrator, open() would return one of them and an earlier dup2 file action could overwrite
// it before its own dup2 runs: keep ours at 3 and above.
UniqueFd open_for_child(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY, 0644));
  if (fd && fd.get() < k_first_free_fd) {
    int high = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, k_first_free_fd);
    int saved = errno;
    fd.reset(high);
    errno = saved;
  }
  return fd;
}

// What exec will run for argv[0]. Like execvp in the child: the child's own PATH decides (the
// orchestrator's only when the spec sets none), and relative entries are relative to the child's
// working directory. Resolving here lets a missing command be reported by name.
std::optional<std::string> find_program(const ProcessSpec& spec) {
  const std::string& name = spec.argv.front();
  if (name.find('/') != std::string::npos) {
    return name;
  }
  if (name.empty()) {
    return std::nullopt;
  }
  std::string search_path = "/bin:/usr/bin";
  auto entry = std::find_if(spec.env.begin(), spec.env.end(), [](const std::string& e) { return e.starts_with("PATH="); });
  if (entry != spec.env.end()) {
    search_path = entry->substr(5);
  } else if (const char* own = std::getenv("PATH")) {
    search_path = own;
  }
  std::size_t begin = 0;
  for (;;) {
    std::size_t end = std::min(search_path.find(':', begin), search_path.size());
    std::string directory = search_path.substr(begin, end - begin);
    std::string candidate = (directory.empty() ? std::string(".") : directory) + "/" + name;
    std::string checked = candidate.front() != '/' && !spec.working_directory.empty()
                              ? spec.working_directory + "/" + candidate
                              : candidate;
    struct stat info {};
    if (::stat(checked.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(checked.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (end == search_path.size()) {
      return std::nullopt;
    }
    begin = end + 1;
  }
}

class SpawnAttributes {
public:
  SpawnAttributes() { check_spawn_call(posix_spawnattr_init(&m_attributes), "posix_spawnattr_init"); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&m_attributes); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &m_attributes; }

private:
  posix_spawnattr_t m_attributes;
};

class SpawnFileActions {
public:
  SpawnFileActions() { check_spawn_call(posix_spawn_file_actions_init(&m_actions), "posix_spawn_file_actions_init"); }
  ~SpawnFileActions() { posix_spawn_file_actions_destroy(&m_actions); }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &m_actions; }

private:
  posix_spawn_file_actions_t m_actions;
};

// Pins the calling thread while a child is spawned: the child inherits the mask at creation, so
// it runs pinned from its first instruction. Affinity is per thread, so this touches nothing else.
class ScopedAffinity {
public:
  ScopedAffinity() = default;
  ScopedAffinity(const ScopedAffinity&) = delete;
  ScopedAffinity& operator=(const ScopedAffinity&) = delete;
  // Best effort on the exception path only; restore() reports failures.
  ~ScopedAffinity() {
    if (!m_previous.empty()) {
      ::sched_setaffinity(0, bytes(m_previous), m_previous.data());
    }
  }

  // Returns why it could not pin, empty on success.
  std::string pin(const std::vector<int>& cpus) {
    int highest = *std::max_element(cpus.begin(), cpus.end());
    if (*std::min_element(cpus.begin(), cpus.end()) < 0) {
      return fmt::format("invalid cpu list {}", fmt::join(cpus, ","));
    }
    CpuMask wanted(static_cast<std::size_t>(highest) / CPU_SETSIZE + 1);
    for (int cpu : cpus) {
      add_cpu(wanted, cpu);
    }
    CpuMask previous = current();
    if (::sched_setaffinity(0, bytes(wanted), wanted.data()) != 0) {
      return error_text("sched_setaffinity", fmt::format("{}", fmt::join(cpus, ",")), errno);
    }
    m_previous = std::move(previous);
    return {};
  }

  void restore() {
    if (!m_previous.empty()) {
      CpuMask previous = std::move(m_previous);
      m_previous.clear();
      if (::sched_setaffinity(0, bytes(previous), previous.data()) != 0) {
        throw_errno("sched_setaffinity", "restore");
      }
    }
  }

private:
  static std::size_t bytes(const CpuMask& mask) { return mask.size() * sizeof(cpu_set_t); }

  static CpuMask current() {
    // EINVAL means the kernel's mask is larger than the buffer (more than CPU_SETSIZE cpus).
    for (std::size_t count = 1;; count *= 2) {
      CpuMask mask(count);
      if (::sched_getaffinity(0, bytes(mask), mask.data()) == 0) {
        return mask;
      }
      if (errno != EINVAL || count >= 1024) {
        throw_errno("sched_getaffinity");
      }
    }
  }

  CpuMask m_previous;
};

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) {
    pointers.push_back(const_cast<char*>(s.c_str()));  // posix_spawn does not write through them
  }
  pointers.push_back(nullptr);
  return pointers;
}

void kill_group_and_reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  while (::wait4(pid, nullptr, 0, nullptr) < 0 && errno == EINTR) {
  }
}

struct Spawned {
  pid_t pid = -1;
  Clock::time_point started{};
  std::string error;  // set when nothing was started
  int error_number = 0;
  std::unique_ptr<OutputSink> sinks[2];
};

Spawned spawn(const ProcessSpec& spec, const sigset_t& child_signal_mask, int dev_null) {
  Spawned spawned;
  if (spec.argv.empty()) {
    spawned.error = "empty command";
    return spawned;
  }
  std::optional<std::string> program = find_program(spec);
  if (!program) {
    spawned.error = "command not found: " + spec.argv.front();
    return spawned;
  }
  // Checked here for a clear message; posix_spawn would only say ENOENT for the chdir action.
  if (!spec.working_directory.empty()) {
    struct stat info {};
    int error = ::stat(spec.working_directory.c_str(), &info) != 0 ? errno : S_ISDIR(info.st_mode) ? 0 : ENOTDIR;
    if (error != 0) {
      spawned.error = error_text("chdir", spec.working_directory, error);
      return spawned;
    }
  }
  // Opened here rather than with an open file action, for the same reason, and because an
  // O_CLOEXEC open action landing directly on its target fd would be closed by exec.
  UniqueFd output[2];
  const std::string* paths[2] = {&spec.stdout_path, &spec.stderr_path};
  for (int i = 0; i < 2; ++i) {
    if (!paths[i]->empty() && spec.output_cap > 0) {
      spawned.sinks[i] = OutputSink::open(*paths[i], spec.output_cap, spawned.error, &spawned.error_number);
      if (!spawned.sinks[i]) {
        return spawned;
      }
    } else if (!paths[i]->empty()) {
      output[i] = open_for_child(*paths[i], O_WRONLY | O_CREAT | O_APPEND);
      if (!output[i]) {
        spawned.error_number = errno;
        spawned.error = error_text("open", *paths[i], errno);
        return spawned;
      }
    }
  }

  SpawnFileActions actions;
  check_spawn_call(posix_spawn_file_actions_adddup2(actions.get(), dev_null, STDIN_FILENO), "posix_spawn_file_actions_adddup2");
  for (int i = 0; i < 2; ++i) {
    int source = spawned.sinks[i] ? spawned.sinks[i]->write_fd() : output[i] ? output[i].get() : dev_null;
    check_spawn_call(posix_spawn_file_actions_adddup2(actions.get(), source, STDOUT_FILENO + i), "posix_spawn_file_actions_adddup2");
  }
#if defined(__GLIBC_PREREQ) && __GLIBC_PREREQ(2, 34)
  // Everything of ours is close-on-exec already; this also catches fds that other code (or a
  // library) opened without it, so a benchmark never inherits anything but 0, 1 and 2.
  check_spawn_call(posix_spawn_file_actions_addclosefrom_np(actions.get(), k_first_free_fd), "posix_spawn_file_actions_addclosefrom_np");
#endif
  if (!spec.working_directory.empty()) {
    check_spawn_call(posix_spawn_file_actions_addchdir_np(actions.get(), spec.working_directory.c_str()), "posix_spawn_file_actions_addchdir_np");
  }

  // Ignored signals survive exec, and handled ones only reset to their default; reset the ones
  // we handle or a shell may have ignored for us (nohup, '&'), so every benchmark starts alike.
  sigset_t defaults = interrupt_signals();
  for (int signal : {SIGCHLD, SIGPIPE, SIGQUIT}) {
    sigaddset(&defaults, signal);
  }
  SpawnAttributes attributes;
  // A process group of its own (pgid = pid), so a timeout or interrupt reaches its descendants.
  check_spawn_call(posix_spawnattr_setflags(attributes.get(), static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)), "posix_spawnattr_setflags");
  check_spawn_call(posix_spawnattr_setpgroup(attributes.get(), 0), "posix_spawnattr_setpgroup");
  check_spawn_call(posix_spawnattr_setsigmask(attributes.get(), &child_signal_mask), "posix_spawnattr_setsigmask");
  check_spawn_call(posix_spawnattr_setsigdefault(attributes.get(), &defaults), "posix_spawnattr_setsigdefault");

  std::vector<char*> argv = c_strings(spec.argv);
  std::vector<char*> envp = c_strings(spec.env);
  ScopedAffinity affinity;
  if (!spec.cpus.empty()) {
    spawned.error = affinity.pin(spec.cpus);
    if (!spawned.error.empty()) {
      return spawned;
    }
  }
  spawned.started = Clock::now();
  // glibc reports errors of the file actions and of execve itself as posix_spawn's result.
  int result = posix_spawn(&spawned.pid, program->c_str(), actions.get(), attributes.get(), argv.data(), envp.data());
  try {
    affinity.restore();
  } catch (...) {
    if (result == 0) {
      kill_group_and_reap(spawned.pid);
    }
    throw;
  }
  for (auto& sink : spawned.sinks) {
    if (sink) {
      sink->close_write_end();  // only the child holds it now: EOF comes when its side closes
    }
  }
  if (result != 0) {
    spawned.error_number = result;
    spawned.error = error_text("posix_spawn", *program, result);
  }
  return spawned;
}

double seconds(const timeval& time) {
  return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
}

// Whether the child has exited, without reaping it: the zombie keeps its pid and process group
// id reserved until wait4, so signalling the group stays safe until then.
bool has_exited(pid_t pid) {
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno != EINTR) {
      throw_errno("waitid", std::to_string(pid));
    }
  }
  return info.si_pid != 0;
}

} // namespace

LocalExecutor::LocalExecutor(const sigset_t& child_signal_mask, ExitWatch exit_watch)
    : m_child_signal_mask(child_signal_mask), m_exit_watch(exit_watch) {
  if (m_exit_watch == ExitWatch::Pidfd) {
    UniqueFd probe(open_pidfd(::getpid()));
    if (!probe) {
      // ENOSYS before Linux 5.3; some seccomp sandboxes answer EPERM for unknown calls.
      if (errno != ENOSYS && errno != EPERM) {
        throw_errno("pidfd_open");
      }
      m_exit_watch = ExitWatch::Sigchld;
    }
  }
  sigset_t watched = interrupt_signals();
  if (m_exit_watch == ExitWatch::Sigchld) {
    // A signalfd only sees blocked signals; unblocked, SIGCHLD would just be discarded.
    BM_ASSERT(is_blocked(SIGCHLD));
    sigaddset(&watched, SIGCHLD);
  }
  m_signals.reset(::signalfd(-1, &watched, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!m_signals) {
    throw_errno("signalfd");
  }
  m_epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!m_epoll) {
    throw_errno("epoll_create1");
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = k_signal_key;
  if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_signals.get(), &event) != 0) {
    throw_errno("epoll_ctl", "signalfd");
  }
  m_dev_null = open_for_child("/dev/null", O_RDWR);
  if (!m_dev_null) {
    throw_errno("open", "/dev/null");
  }
}

LocalExecutor::~LocalExecutor() {
  for (const auto& [pid, child] : m_children) {
    kill_group_and_reap(pid);
  }
}

void LocalExecutor::start(const ProcessSpec& spec) {
  ++m_unreturned;
  if (spec.start_delay.count() > 0) {
    // A cool-down is a deadline like any other: wait() starts the process when it is due.
    m_delayed.emplace_back(Clock::now() + spec.start_delay, spec);
    return;
  }
  start_now(spec);
}

void LocalExecutor::start_due(Clock::time_point now) {
  for (std::size_t i = 0; i < m_delayed.size();) {
    if (m_delayed[i].first <= now) {
      ProcessSpec spec = std::move(m_delayed[i].second);
      m_delayed.erase(m_delayed.begin() + static_cast<long>(i));
      start_now(spec);
    } else {
      ++i;
    }
  }
}

void LocalExecutor::start_now(const ProcessSpec& spec) {
  std::optional<TaskCgroup> cgroup;
  if (m_cgroups != nullptr) {
    // The child is created inside its cgroup: we step in for the spawn and straight back out.
    std::string error;
    cgroup = m_cgroups->create(spec.token, {spec.cpus, spec.memory_max, spec.pids_max}, error);
    if (!cgroup || !m_cgroups->enter(*cgroup, error)) {
      if (cgroup) {
        m_cgroups->finish(*cgroup);
      }
      queue_start_failure(spec.token, "cgroup: " + error);
      return;
    }
  }
  Spawned spawned = spawn(spec, m_child_signal_mask, m_dev_null.get());
  if (m_cgroups != nullptr) {
    m_cgroups->leave();
    if (!spawned.error.empty()) {
      m_cgroups->finish(*cgroup);
    }
  }
  if ((spawned.error_number == EMFILE || spawned.error_number == ENFILE) && !m_children.empty()) {
    // Out of file descriptors only for now: start it when a running process has given its back.
    m_waiting_for_descriptors.push_back(spec);
    return;
  }
  if (!spawned.error.empty()) {
    queue_start_failure(spec.token, std::move(spawned.error));
    return;
  }
  Child child;
  child.token = spec.token;
  child.pid = spawned.pid;
  child.cgroup = std::move(cgroup);
  child.started = spawned.started;
  child.kill_grace = spec.kill_grace;
  if (spec.timeout) {
    child.terminate_at = spawned.started + *spec.timeout;
  }
  if (m_exit_watch == ExitWatch::Pidfd) {
    // A child that already exited is a zombie still, so its pidfd opens and is readable at once.
    child.pidfd.reset(open_pidfd(child.pid));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = static_cast<std::uint64_t>(child.pid);
    if (!child.pidfd || ::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, child.pidfd.get(), &event) != 0) {
      int saved = errno;
      kill_group_and_reap(child.pid);
      queue_start_failure(spec.token, error_text(child.pidfd ? "epoll_ctl" : "pidfd_open", std::to_string(child.pid), saved));
      return;
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (spawned.sinks[i]) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = k_pipe_key | (static_cast<std::uint64_t>(child.pid) << 1) | static_cast<std::uint64_t>(i);
      if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, spawned.sinks[i]->read_fd(), &event) != 0) {
        throw_errno("epoll_ctl", "output pipe");
      }
      child.sinks[i] = std::move(spawned.sinks[i]);
    }
  }
  if (m_spawn_listener) {
    m_spawn_listener(spec.token, child.pid, process_start_ticks(child.pid).value_or(0));
  }
  m_children.emplace(child.pid, std::move(child));
}

ExecutorEvent LocalExecutor::wait() {
  for (;;) {
    if (!m_ready.empty()) {
      ExecutorEvent event = std::move(m_ready.front());
      m_ready.pop_front();
      if (event.kind == ExecutorEvent::Kind::ProcessEnded) {
        --m_unreturned;
      }
      return event;
    }
    Clock::time_point now = Clock::now();
    start_due(now);
    if (!m_ready.empty()) {
      continue;  // a delayed start failed at once
    }
    enforce_deadlines(now);
    // With nothing running, only an interrupt can end the wait: it must be able to arrive.
    BM_ASSERT(!m_children.empty() || !m_delayed.empty() || is_blocked(SIGINT));
    epoll_event events[k_max_events];
    int count = ::epoll_wait(m_epoll.get(), events, k_max_events, epoll_timeout_ms(now));
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("epoll_wait");
    }
    Clock::time_point seen = Clock::now();
    for (int i = 0; i < count; ++i) {
      if (events[i].data.u64 == k_signal_key) {
        read_signals(seen);
      } else if ((events[i].data.u64 & k_pipe_key) != 0) {
        read_output(events[i].data.u64);
      } else {
        finish_if_exited(static_cast<pid_t>(events[i].data.u64), seen);
      }
    }
  }
}

void LocalExecutor::terminate_all(int signal) {
  Clock::time_point now = Clock::now();
  // Processes still in their cool-down (or waiting for descriptors) never start: they end here,
  // interrupted.
  for (auto& spec : m_waiting_for_descriptors) {
    m_delayed.emplace_back(now, std::move(spec));
  }
  m_waiting_for_descriptors.clear();
  for (auto& [due, spec] : m_delayed) {
    ExecutorEvent event;
    event.result.token = spec.token;
    event.result.interrupted = true;
    event.result.started = event.result.ended = now;
    m_ready.push_back(std::move(event));
  }
  m_delayed.clear();
  for (auto& [pid, child] : m_children) {
    if (has_exited(pid)) {
      continue;  // it ended on its own; wait() reports it as it was
    }
    ::kill(-pid, signal);
    if (signal == SIGKILL && child.cgroup) {
      m_cgroups->kill(*child.cgroup);
    }
    child.interrupted = true;
    child.terminate_at.reset();
    if (signal != SIGKILL) {
      Clock::time_point kill_at = now + child.kill_grace;
      child.kill_at = child.kill_at ? std::min(*child.kill_at, kill_at) : kill_at;
    }
  }
}

void LocalExecutor::read_output(std::uint64_t key) {
  auto pid = static_cast<pid_t>((key & ~k_pipe_key) >> 1);
  auto it = m_children.find(pid);
  if (it == m_children.end()) {
    return;
  }
  std::unique_ptr<OutputSink>& sink = it->second.sinks[key & 1];
  if (sink && !sink->drain()) {
    // End of stream: stop watching it (a hung-up pipe would wake every wait); the sink is
    // finished with its process.
    ::epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, sink->read_fd(), nullptr);
  }
}

void LocalExecutor::queue_start_failure(std::uint64_t token, std::string message) {
  ExecutorEvent event;
  event.result.token = token;
  event.result.start_error = std::move(message);
  event.result.started = event.result.ended = Clock::now();
  m_ready.push_back(std::move(event));
}

void LocalExecutor::read_signals(Clock::time_point seen) {
  bool child_changed = false;
  signalfd_siginfo info{};
  for (;;) {
    ssize_t size = ::read(m_signals.get(), &info, sizeof info);
    if (size < 0) {
      if (errno == EAGAIN) {
        break;
      }
      if (errno == EINTR) {
        continue;
      }
      throw_errno("read", "signalfd");
    }
    BM_ASSERT(size == static_cast<ssize_t>(sizeof info));
    int signal = static_cast<int>(info.ssi_signo);
    if (signal == SIGCHLD) {
      child_changed = true;
    } else {
      ExecutorEvent event;
      event.kind = ExecutorEvent::Kind::Interrupted;
      event.signal = signal;
      m_ready.push_back(std::move(event));
    }
  }
  if (child_changed) {
    // Pending SIGCHLDs merge into one, so ask every child of ours. waitid(P_PID) rather than
    // P_ALL: with WNOWAIT, P_ALL would return the same zombie forever, possibly not even ours.
    std::vector<pid_t> pids;
    for (const auto& [pid, child] : m_children) {
      pids.push_back(pid);
    }
    for (pid_t pid : pids) {
      finish_if_exited(pid, seen);
    }
  }
}

void LocalExecutor::finish_if_exited(pid_t pid, Clock::time_point seen) {
  auto it = m_children.find(pid);
  if (it == m_children.end() || !has_exited(pid)) {
    return;
  }
  // A run ends when its main process does. Whatever it left behind in its group (background
  // jobs holding the log open, say) dies now, while the zombie still reserves the group id.
  ::kill(-pid, SIGKILL);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      throw_errno("wait4", std::to_string(pid));
    }
  }
  Child& child = it->second;
  ExecutorEvent event;
  ProcessResult& result = event.result;
  result.token = child.token;
  if (child.cgroup) {
    // Ends whatever the run left in its cgroup, setsid() escapees included, then reads what the
    // kernel accounted for the whole tree.
    CgroupStats stats = m_cgroups->finish(*child.cgroup);
    result.oom_killed = stats.oom_killed;
    result.memory_peak = stats.memory_peak;
  }
  for (int i = 0; i < 2; ++i) {
    if (child.sinks[i]) {
      result.output_dropped[i] = child.sinks[i]->finish();
      result.output_bytes[i] = child.sinks[i]->total();
      if (result.output_error.empty()) {
        result.output_error = child.sinks[i]->write_error();
      }
    }
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  result.timed_out = child.timed_out;
  result.interrupted = child.interrupted;
  result.started = child.started;
  result.ended = seen;
  result.wall_seconds = std::chrono::duration<double>(seen - child.started).count();
  // wait4 gives this child's own usage plus that of the descendants it reaped itself, never
  // that of other runs (which getrusage(RUSAGE_CHILDREN) would mix in). ru_maxrss is in KiB.
  result.user_seconds = seconds(usage.ru_utime);
  result.system_seconds = seconds(usage.ru_stime);
  result.max_rss_kib = usage.ru_maxrss;
  m_ready.push_back(std::move(event));
  m_children.erase(it);  // closing the pidfd also takes it out of the epoll set
  if (!m_waiting_for_descriptors.empty()) {
    ProcessSpec waiting = std::move(m_waiting_for_descriptors.front());
    m_waiting_for_descriptors.pop_front();
    start_now(waiting);
  }
}

void LocalExecutor::enforce_deadlines(Clock::time_point now) {
  for (auto& [pid, child] : m_children) {
    if (child.terminate_at && now >= *child.terminate_at) {
      child.terminate_at.reset();
      if (!has_exited(pid)) {
        ::kill(-pid, SIGTERM);
        child.timed_out = true;
        child.kill_at = now + child.kill_grace;
      }
    }
    if (child.kill_at && now >= *child.kill_at) {
      child.kill_at.reset();
      ::kill(-pid, SIGKILL);
      if (child.cgroup) {
        m_cgroups->kill(*child.cgroup);
      }
    }
  }
}

int LocalExecutor::epoll_timeout_ms(Clock::time_point now) const {
  std::optional<Clock::time_point> nearest;
  for (const auto& [due, spec] : m_delayed) {
    if (!nearest || due < *nearest) {
      nearest = due;
    }
  }
  for (const auto& [pid, child] : m_children) {
    for (const auto& deadline : {child.terminate_at, child.kill_at}) {
      if (deadline && (!nearest || *deadline < *nearest)) {
        nearest = deadline;
      }
    }
  }
  if (!nearest) {
    return -1;
  }
  if (*nearest <= now) {
    return 0;
  }
  // Rounded up: waking a little early would only spin until the deadline.
  auto milliseconds = std::chrono::ceil<std::chrono::milliseconds>(*nearest - now).count();
  return static_cast<int>(std::min<long long>(milliseconds, INT_MAX));
}

} // namespace bm
