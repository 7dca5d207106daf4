#include "exec/orphans.hpp"

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exec/executor.hpp"
#include "util/fs.hpp"

namespace bm {

std::size_t end_orphans(const std::vector<std::pair<int, std::uint64_t>>& processes,
                        std::chrono::milliseconds patience) {
  std::size_t ended = 0;
  auto deadline = std::chrono::steady_clock::now() + patience;
  for (const auto& [pid, start_ticks] : processes) {
    if (pid <= 1) {
      continue;
    }
    std::optional<std::uint64_t> now_ticks = process_start_ticks(pid);
    if (!now_ticks || *now_ticks != start_ticks) {
      continue;  // gone, or the pid now belongs to another process
    }
    // The pidfd pins this very process before the kill: no race with pid reuse after the check.
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ++ended;
    if (!pidfd) {
      continue;
    }
    // Not our child: it is reaped by init (or stays a zombie there); the pidfd turns readable
    // when it has exited.
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        break;
      }
      pollfd entry{pidfd.get(), POLLIN, 0};
      int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      break;
    }
  }
  return ended;
}

} // namespace bm
