#include "exec/local_executor.hpp"

#include "util/signals.hpp"
#include "exec/spawn.hpp"
#include "exec/launch_report.h"
#include "exec/launcher_image.hpp"
#include "util/directory.hpp"
#include "util/command.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
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
constexpr std::uint64_t k_exit_key = 1ULL << 42;  // the exit watcher has exits for us
constexpr int k_max_events = 16;
constexpr int k_first_free_fd = 3;
constexpr int k_first_launch_fd = 5;  // the launcher's descriptors are moved to 3 and 4 in the child

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

int open_pidfd(pid_t pid) {
#if BENCHMATRIX_HAVE_PIDFD_OPEN
  return ::pidfd_open(pid, 0);  // pidfds are always close-on-exec
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

// Keeps a descriptor the child gets as stdin, stdout or stderr at 3 and above: with 0, 1 or 2
// closed in the orchestrator, open() would return one of them and an earlier dup2 could
// overwrite it before its own dup2 runs.
UniqueFd high(UniqueFd fd) {
  if (fd && fd.get() < k_first_free_fd) {
    int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, k_first_free_fd);
    int saved = errno;
    fd.reset(moved);
    errno = saved;
  }
  return fd;
}

UniqueFd above(UniqueFd fd, int lowest) {
  if (fd && fd.get() < lowest) {
    fd.reset(::fcntl(fd.get(), F_DUPFD_CLOEXEC, lowest));
  }
  return fd;
}

// The launcher (exec/launcher.c), in a sealed memfd made once per process: every start execs it
// from there, so benchmatrix needs no file of its own beside it.
int launcher_descriptor() {
  static const int fd = [] {
    std::string_view image = launcher_image();
    UniqueFd memfd(::memfd_create("benchmatrix-launcher", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!memfd) {
      throw_errno("memfd_create", "launcher");
    }
    std::size_t done = 0;
    while (done < image.size()) {
      ssize_t written = ::write(memfd.get(), image.data() + done, image.size() - done);
      if (written < 0 && errno != EINTR) {
        throw_errno("write", "launcher memfd");
      }
      done += written > 0 ? static_cast<std::size_t>(written) : 0;
    }
    ::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    memfd = above(std::move(memfd), k_first_launch_fd);
    if (!memfd) {
      throw_errno("fcntl", "launcher memfd");
    }
    return memfd.release();
  }();
  return fd;
}

UniqueFd open_for_child(const std::string& path, int flags) {
  return high(UniqueFd(::open(path.c_str(), flags | O_CLOEXEC | O_NOCTTY, 0644)));
}

// What exec will run for argv[0]. Like execvp in the child: the child's own PATH decides (the
// orchestrator's only when the spec sets none), and relative entries are relative to the child's
// working directory. Resolving here lets a missing command be reported by name.
std::optional<std::string> find_program(const ProcessSpec& spec) {
  const std::string& name = spec.argv.front();
  if (name.find('/') != std::string::npos) {
    return name;  // exec says what is wrong with it, by name
  }
  std::string search_path = "/bin:/usr/bin";
  auto entry = std::find_if(spec.env.begin(), spec.env.end(), [](const std::string& e) { return e.starts_with("PATH="); });
  if (entry != spec.env.end()) {
    search_path = entry->substr(5);
  } else if (const char* own = std::getenv("PATH")) {
    search_path = own;
  }
  return find_executable(name, search_path, spec.working_directory);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) {
    pointers.push_back(const_cast<char*>(s.c_str()));  // execve does not write through them
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
  std::string program;  // what the launcher execs
  UniqueFd report;      // the read end of the launcher's report pipe
  std::string error;  // set when nothing was started
  int error_number = 0;
  std::unique_ptr<OutputSink> sinks[2];
};

Spawned spawn(const ProcessSpec& spec, const sigset_t& child_signal_mask, int dev_null, const TaskCgroup* cgroup) {
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
  // Checked here for a clear message before anything is started.
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
      spawned.sinks[i] =
          OutputSink::open(spec.output_base, *paths[i], spec.output_cap, spawned.error, &spawned.error_number);
      if (!spawned.sinks[i]) {
        return spawned;
      }
    } else if (!paths[i]->empty()) {
      output[i] = high(open_log(spec.output_base, *paths[i], O_WRONLY | O_CREAT | O_APPEND));
      if (!output[i]) {
        spawned.error_number = errno;
        spawned.error = errno == EINVAL ? *paths[i] + " is not a regular file (a task must not replace its logs)"
                                        : error_text("open", *paths[i], errno);
        return spawned;
      }
    }
  }

  // The child joins its cgroups itself, through their cgroup.procs files.
  std::vector<std::string> cgroup_procs;
  std::vector<const char*> cgroup_paths;
  if (cgroup != nullptr) {
    for (const auto& dir : cgroup->dirs) {
      cgroup_procs.push_back(dir + "/cgroup.procs");
    }
    for (const auto& path : cgroup_procs) {
      cgroup_paths.push_back(path.c_str());
    }
  }
  CpuMask cpus;
  if (!spec.cpus.empty()) {
    if (*std::min_element(spec.cpus.begin(), spec.cpus.end()) < 0) {
      spawned.error = fmt::format("invalid cpu list {}", fmt::join(spec.cpus, ","));
      return spawned;
    }
    cpus.resize(static_cast<std::size_t>(*std::max_element(spec.cpus.begin(), spec.cpus.end())) / CPU_SETSIZE + 1);
    for (int cpu : spec.cpus) {
      add_cpu(cpus, cpu);
    }
  }

  // Ignored signals survive exec, and handled ones only reset to their default; reset the ones
  // we handle or a shell may have ignored for us (nohup, '&'), so every benchmark starts alike.
  sigset_t defaults = interrupt_signals();
  for (int signal : {SIGCHLD, SIGPIPE, SIGQUIT}) {
    sigaddset(&defaults, signal);
  }
  // The launcher starts the program from its own small address space (see exec/launcher.c) and
  // reports its end through a pipe: argv is the launcher's, then the program's.
  int pipe_ends[2] = {-1, -1};
  if (::pipe2(pipe_ends, O_CLOEXEC) != 0) {
    spawned.error_number = errno;
    spawned.error = error_text("pipe2", "launcher report", errno);
    return spawned;
  }
  spawned.report.reset(pipe_ends[0]);
  UniqueFd report_write = above(UniqueFd(pipe_ends[1]), k_first_launch_fd);
  if (!report_write) {
    spawned.error_number = errno;
    spawned.error = error_text("fcntl", "launcher report", errno);
    return spawned;
  }
  std::vector<std::string> launch_argv;
  launch_argv.reserve(spec.argv.size() + 2);
  launch_argv.emplace_back("benchmatrix-launcher");
  launch_argv.push_back(*program);
  launch_argv.insert(launch_argv.end(), spec.argv.begin(), spec.argv.end());
  std::vector<char*> argv = c_strings(launch_argv);
  std::vector<char*> envp = c_strings(spec.env);
  SpawnRequest request;
  request.launcher = launcher_descriptor();
  request.report = report_write.get();
  request.program = program->c_str();
  request.argv = argv.data();
  request.envp = envp.data();
  request.stdio[0] = dev_null;
  for (int i = 0; i < 2; ++i) {
    request.stdio[1 + i] = spawned.sinks[i] ? spawned.sinks[i]->write_fd() : output[i] ? output[i].get() : dev_null;
  }
  request.working_directory = spec.working_directory.empty() ? nullptr : spec.working_directory.c_str();
  request.cpus = cpus.empty() ? nullptr : cpus.data();
  request.cpus_size = cpus.size() * sizeof(cpu_set_t);
  request.cgroup_procs = cgroup_paths.data();
  request.cgroup_count = cgroup_paths.size();
  request.mask = &child_signal_mask;
  request.defaults = &defaults;

  spawned.started = Clock::now();
  SpawnResult result = spawn_process(request);
  report_write.reset();  // only the launcher holds it now: EOF without a report means it was killed
  for (auto& sink : spawned.sinks) {
    if (sink) {
      sink->close_write_end();  // only the child holds it now: EOF comes when its side closes
    }
  }
  if (result.pid < 0) {
    spawned.error_number = result.error;
    std::string_view step = result.step;
    spawned.error = step == "execveat"   ? error_text("exec", "benchmatrix launcher (memfd)", result.error)
                    : step == "execve"   ? error_text("exec", *program, result.error)
                    : step == "chdir"    ? error_text("chdir", spec.working_directory, result.error)
                    : step == "sched_setaffinity" ? error_text("sched_setaffinity", fmt::format("{}", fmt::join(spec.cpus, ",")), result.error)
                    : step == "cgroup.procs" ? error_text("cgroup: join", cgroup_procs.empty() ? "" : cgroup_procs.front(), result.error)
                                         : error_text(std::string(step), *program, result.error);
    return spawned;
  }
  spawned.pid = result.pid;
  spawned.program = *program;
  if (result.exec_time.tv_sec != 0 || result.exec_time.tv_nsec != 0) {
    // steady_clock is CLOCK_MONOTONIC: the run is timed from the child's execve.
    spawned.started = Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::seconds(result.exec_time.tv_sec) + std::chrono::nanoseconds(result.exec_time.tv_nsec)));
  }
  return spawned;
}

double seconds(const timeval& time) {
  return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) / 1e6;
}

Clock::time_point monotonic(std::int64_t nanoseconds) {
  // steady_clock is CLOCK_MONOTONIC, which the launcher reads.
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(nanoseconds)));
}

// The launcher's report, once it has exited: nullopt when it wrote none (killed by SIGKILL).
std::optional<bm_launch_report> read_launch_report(int fd) {
  bm_launch_report report{};
  ssize_t got = 0;
  do {
    got = ::read(fd, &report, sizeof report);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof report) || report.magic != BM_LAUNCH_MAGIC) {
    return std::nullopt;
  }
  return report;
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
  launcher_descriptor();  // made now: a start never fails for it
  if (m_exit_watch == ExitWatch::Pidfd) {
    m_watcher = std::make_unique<ExitWatcher>();
    event.data.u64 = k_exit_key;
    if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_watcher->notify_fd(), &event) != 0) {
      throw_errno("epoll_ctl", "exit watcher");
    }
  }
}

LocalExecutor::~LocalExecutor() {
  for (const auto& [pid, child] : m_children) {
    kill_group_and_reap(pid);
  }
}

void LocalExecutor::start(const ProcessSpec& spec) {
  ++m_unreturned;
  if (spec.start_delay.count() > 0 || (spec.ready && !spec.ready())) {
    // A cool-down is a deadline like any other: wait() starts the process when it is due.
    m_delayed.emplace_back(Clock::now() + spec.start_delay, spec);
    return;
  }
  start_now(spec);
}

void LocalExecutor::start_due(Clock::time_point now) {
  for (std::size_t i = 0; i < m_delayed.size();) {
    if (m_delayed[i].first <= now && m_delayed[i].second.ready && !m_delayed[i].second.ready()) {
      m_delayed[i].first = now + m_delayed[i].second.recheck;  // not yet: asked again later
      ++i;
    } else if (m_delayed[i].first <= now) {
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
    // The child joins it before exec: it runs inside from its program's first instruction.
    std::string error;
    cgroup = m_cgroups->create(spec.token, {spec.cpus, spec.memory_max, spec.pids_max}, error);
    if (!cgroup) {
      queue_start_failure(spec.token, "cgroup: " + error);
      return;
    }
  }
  Spawned spawned = spawn(spec, m_child_signal_mask, m_dev_null.get(), cgroup ? &*cgroup : nullptr);
  if (cgroup && !spawned.error.empty()) {
    m_cgroups->finish(*cgroup);
  } else if (cgroup) {
    m_cgroups->want_spare({spec.cpus, spec.memory_max, spec.pids_max});  // for this slot's next start
  }
  if ((spawned.error_number == EMFILE || spawned.error_number == ENFILE) && !m_children.empty()) {
    // Out of file descriptors only for now: start it when a running process has given its back.
    m_waiting_for_descriptors.push_back(spec);
    return;
  }
  if ((spawned.error_number == EMFILE || spawned.error_number == ENFILE) && m_descriptor_waits[spec.token]++ < 40) {
    // No process of ours holds any: another thread's (the monitor reading /proc) are in use for
    // a moment. Try again shortly, for up to two seconds.
    m_delayed.emplace_back(Clock::now() + std::chrono::milliseconds(50), spec);
    return;
  }
  if (!m_descriptor_waits.empty()) {
    m_descriptor_waits.erase(spec.token);
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
  child.program = std::move(spawned.program);
  child.report = std::move(spawned.report);
  child.kill_grace = spec.kill_grace;
  if (spec.timeout) {
    child.terminate_at = spawned.started + *spec.timeout;
  }
  if (m_exit_watch == ExitWatch::Pidfd) {
    // A child that already exited is a zombie still, so its pidfd opens and is readable at once.
    // The watcher thread timestamps its exit, whatever this thread is busy with then.
    child.pidfd.reset(open_pidfd(child.pid));
    if (!child.pidfd || !m_watcher->watch(child.pidfd.get(), child.pid)) {
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
    static const std::vector<std::string> k_none;
    m_spawn_listener(spec.token, child.pid, process_start_ticks(child.pid).value_or(0),
                     child.cgroup ? child.cgroup->dirs : k_none);
  }
  m_children.emplace(child.pid, std::move(child));
}

bool LocalExecutor::stopped_with_us(const ProcessResult& result) const {
  auto stop = [](int signal) { return signal == SIGTERM || signal == SIGINT || signal == SIGHUP || signal == SIGKILL; };
  bool by_signal = result.term_signal > 0 ? stop(result.term_signal)
                                          : result.exit_code > 128 && stop(result.exit_code - 128);
  if (!by_signal || result.timed_out || !result.start_error.empty()) {
    return false;
  }
  // Ours read a moment ago, or still to come: the sender signals one process after another.
  if (m_last_interrupt && Clock::now() - *m_last_interrupt < std::chrono::seconds(2)) {
    return true;
  }
  for (int i = 0; i < 20; ++i) {
    if (interrupt_waiting()) {
      return true;
    }
    ::usleep(5000);
  }
  return false;
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
    if (m_cgroups != nullptr) {
      m_cgroups->tidy();  // about to wait: the cheapest moment for removals
    }
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
      } else if (events[i].data.u64 == k_exit_key) {
        for (const auto& [pid, ended] : m_watcher->take()) {
          finish_if_exited(pid, ended);
        }
      } else if ((events[i].data.u64 & k_pipe_key) != 0) {
        read_output(events[i].data.u64);
      } else {
        finish_if_exited(static_cast<pid_t>(events[i].data.u64), seen);
      }
    }
  }
}

bool LocalExecutor::has_pending() const {
  if (!m_ready.empty()) {
    return true;
  }
  // Exits (through the watcher, or SIGCHLD) and interrupts: the same descriptors wait() uses.
  pollfd fds[2] = {{m_signals.get(), POLLIN, 0}, {m_watcher ? m_watcher->notify_fd() : -1, POLLIN, 0}};
  return ::poll(fds, 2, 0) > 0;
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
      m_last_interrupt = seen;
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
  result.timed_out = child.timed_out;
  result.interrupted = child.interrupted;
  std::optional<bm_launch_report> report = child.report ? read_launch_report(child.report.get()) : std::nullopt;
  if (report && report->kind == BM_LAUNCH_EXEC_FAILED) {
    result.start_error = error_text("exec", child.program, report->error);
    result.started = child.started;
    result.ended = seen;
  } else if (report) {
    // The program's own end, usage and peak, as the launcher saw them: a run is timed from its
    // execve to its exit, and its max_rss starts from the launcher's few hundred KiB. (No exec
    // time: the program was killed before it got there; then from the launcher's start.)
    status = report->status;
    result.started = report->exec_ns > 0 ? monotonic(report->exec_ns) : child.started;
    result.ended = monotonic(report->end_ns);
    result.user_seconds = static_cast<double>(report->user_us) / 1e6;
    result.system_seconds = static_cast<double>(report->system_us) / 1e6;
    result.max_rss_kib = report->max_rss_kib;
  } else {
    // The launcher was killed (SIGKILL after a timeout's grace): its own status stands, and no
    // honest peak is known (its usage would count benchmatrix's address space).
    result.started = child.started;
    result.ended = seen;
    result.user_seconds = seconds(usage.ru_utime);
    result.system_seconds = seconds(usage.ru_stime);
  }
  if (result.start_error.empty()) {
    if (WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      result.term_signal = WTERMSIG(status);
    }
  }
  result.wall_seconds = std::chrono::duration<double>(result.ended - result.started).count();
  if (!result.interrupted && stopped_with_us(result)) {
    // Killed by the same stop request that benchmatrix got: a scheduler's scancel, or a service
    // manager stopping the whole cgroup, signals every process at once. Interrupted, not failed.
    result.interrupted = true;
  }
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
