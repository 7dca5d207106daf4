#pragma once

#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "exec/executor.hpp"
#include "util/fs.hpp"

namespace bm {

// Timestamps process exits on a thread of its own, so that a run's measured end is when the
// process ended, not when the event loop (perhaps busy writing results) got round to it. The
// thread blocks on the children's pidfds and does nothing else; the loop sees notify_fd()
// readable and take()s the exits with their times.
class ExitWatcher {
public:
  ExitWatcher();
  ~ExitWatcher();
  ExitWatcher(const ExitWatcher&) = delete;
  ExitWatcher& operator=(const ExitWatcher&) = delete;

  int notify_fd() const { return m_notify.get(); }
  // Watches one child; its exit is reported once. Closing the pidfd stops the watch. Returns
  // false with errno set when it cannot be watched.
  bool watch(int pidfd, pid_t pid);
  // The exits seen since the last call, each with when it was seen.
  std::vector<std::pair<pid_t, Clock::time_point>> take();

private:
  void loop();

  UniqueFd m_epoll;
  UniqueFd m_notify;  // eventfd: exits are waiting
  UniqueFd m_stop;    // eventfd: the thread is to end
  std::mutex m_mutex;
  std::vector<std::pair<pid_t, Clock::time_point>> m_exits;
  std::thread m_thread;
};

} // namespace bm
