#include "exec/exit_watcher.hpp"

#include <cerrno>
#include <cstdint>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/error.hpp"
#include "util/threads.hpp"

namespace bm {
namespace {

constexpr std::uint64_t k_stop_key = ~std::uint64_t{0};  // never a pid

} // namespace

ExitWatcher::ExitWatcher() {
  m_epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  m_notify.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  m_stop.reset(::eventfd(0, EFD_CLOEXEC));
  if (!m_epoll || !m_notify || !m_stop) {
    throw_errno("exit watcher");
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = k_stop_key;
  if (::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_stop.get(), &event) != 0) {
    throw_errno("epoll_ctl", "exit watcher");
  }
  m_thread = start_signal_free_thread([this] { loop(); });
}

ExitWatcher::~ExitWatcher() {
  std::uint64_t one = 1;
  while (::write(m_stop.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
  m_thread.join();
}

bool ExitWatcher::watch(int pidfd, pid_t pid) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLONESHOT;  // a pidfd stays readable until reaped: report it once
  event.data.u64 = static_cast<std::uint64_t>(pid);
  return ::epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, pidfd, &event) == 0;
}

std::vector<std::pair<pid_t, Clock::time_point>> ExitWatcher::take() {
  std::uint64_t count = 0;
  while (::read(m_notify.get(), &count, sizeof count) < 0 && errno == EINTR) {
  }
  std::lock_guard lock(m_mutex);
  return std::exchange(m_exits, {});
}

void ExitWatcher::loop() {
  epoll_event events[64];
  for (;;) {
    int count = ::epoll_wait(m_epoll.get(), events, 64, -1);
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;  // cannot happen with a valid epoll fd; the loop's own wait then sees nothing more
    }
    Clock::time_point seen = Clock::now();
    bool stop = false;
    {
      std::lock_guard lock(m_mutex);
      for (int i = 0; i < count; ++i) {
        if (events[i].data.u64 == k_stop_key) {
          stop = true;
        } else {
          m_exits.emplace_back(static_cast<pid_t>(events[i].data.u64), seen);
        }
      }
    }
    std::uint64_t one = 1;
    while (::write(m_notify.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
    if (stop) {
      return;
    }
  }
}

} // namespace bm
