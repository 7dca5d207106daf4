#include "exec/orphans.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <set>
#include <sys/syscall.h>
#include <unistd.h>

#include "exec/executor.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

// Whether the process's environment holds a variable starting with `prefix` ("NAME=value...").
bool environment_has(int pid, const std::string& prefix) {
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/environ").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return false;  // gone, or not ours to read
  }
  std::string environment;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) > 0 && environment.size() < (4u << 20);) {
    environment.append(buffer, static_cast<size_t>(n));
  }
  for (std::size_t start = 0; start < environment.size();) {
    std::size_t end = environment.find('\0', start);
    if (end == std::string::npos) {
      end = environment.size();
    }
    if (std::string_view(environment).substr(start, end - start).starts_with(prefix)) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

// benchmatrix's launcher (exec/launcher.c) names itself so: it is ended with its program but not
// counted as one of the task's processes.
bool is_launcher(int pid) {
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/comm").c_str(), O_RDONLY | O_CLOEXEC));
  char name[32] = {};
  return fd && ::read(fd.get(), name, sizeof name - 1) > 0 && std::string_view(name) == "bm-launcher\n";
}

} // namespace

std::size_t end_orphans(const LeftBehind& left, std::chrono::milliseconds patience) {
  if (left.processes.empty() && left.tasks_dir.empty()) {
    return 0;
  }
  const int self = ::getpid();
  std::set<int> found;
  // 1. Its cgroups hold everything their processes started, setsid() or not.
  for (const auto& process : left.processes) {
    for (const auto& dir : process.cgroups) {
      std::optional<std::string> procs;
      try {
        procs = read_file_if_present(dir + "/cgroup.procs");
      } catch (const std::exception&) {
      }
      for (const auto& line : split(procs.value_or(""), '\n')) {
        int pid = std::atoi(line.c_str());
        if (pid > 1 && pid != self) {
          found.insert(pid);
        }
      }
    }
  }
  // 2. and 3. One pass over /proc: the groups of its processes, and its tasks' environment.
  std::map<int, std::uint64_t> groups;  // group id -> start of its leader
  for (const auto& process : left.processes) {
    if (process.pid > 1) {
      groups.emplace(process.pid, process.start_ticks);
    }
  }
  std::string marker = left.tasks_dir.empty() ? std::string() : "BENCHMATRIX_RESULT_DIR=" + left.tasks_dir + "/";
  for (int pid : process_ids()) {
    if (pid == self || found.count(pid) != 0) {
      continue;
    }
    std::optional<ProcessStat> stat = read_process_stat(pid);
    if (!stat || stat->state == 'Z' || stat->state == 'X') {
      continue;
    }
    auto group = groups.find(stat->group);
    // A member of a journaled group started no earlier than its leader did (the group id could
    // only have been reused after every member of the old group was gone).
    if (group != groups.end() && stat->start_ticks >= group->second) {
      found.insert(pid);
      continue;
    }
    if (!marker.empty() && left.run_started_ticks > 0 && stat->start_ticks >= left.run_started_ticks &&
        environment_has(pid, marker)) {
      found.insert(pid);
    }
  }
  // Pin each by a pidfd before the kill: no race with pid reuse after the checks above.
  std::vector<UniqueFd> pinned;
  std::size_t ended = 0;
  for (int pid : found) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    bool counted = !is_launcher(pid);
    if (pidfd) {
      if (::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) == 0) {
        ended += counted ? 1 : 0;
        pinned.push_back(std::move(pidfd));
      }
    } else if (errno == ENOSYS && ::kill(pid, SIGKILL) == 0) {
      ended += counted ? 1 : 0;  // before Linux 5.3: a plain kill, just after the checks
    }
  }
  for (const auto& process : left.processes) {
    for (const auto& dir : process.cgroups) {
      UniqueFd kill_file(::open((dir + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC));
      if (kill_file) {
        (void)!::write(kill_file.get(), "1", 1);  // v2: whatever appeared meanwhile
      }
    }
  }
  // Not our children: init reaps them; a pidfd turns readable when its process has exited.
  auto deadline = std::chrono::steady_clock::now() + patience;
  for (const auto& pidfd : pinned) {
    for (;;) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (wait.count() <= 0) {
        break;
      }
      pollfd entry{pidfd.get(), POLLIN, 0};
      int ready = ::poll(&entry, 1, static_cast<int>(wait.count()));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      break;
    }
  }
  // Empty now (or soon): the cgroups go too, and their run's parent folder when it is empty.
  for (const auto& process : left.processes) {
    for (const auto& dir : process.cgroups) {
      ::rmdir(dir.c_str());
      ::rmdir(dir.substr(0, dir.rfind('/')).c_str());
    }
  }
  return ended;
}

} // namespace bm
