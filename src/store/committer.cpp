#include "store/committer.hpp"

#include <unistd.h>

#include "util/error.hpp"
#include "util/threads.hpp"

namespace bm {

Committer::Committer(int filesystem_fd, int journal_fd, std::string what)
    : m_filesystem_fd(filesystem_fd), m_journal_fd(journal_fd), m_what(std::move(what)) {
  m_thread = start_signal_free_thread([this] { loop(); });
}

Committer::~Committer() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_changed.notify_all();
  m_thread.join();
}

void Committer::request() {
  {
    std::lock_guard lock(m_mutex);
    ++m_requested;
  }
  m_changed.notify_all();
}

void Committer::wait() {
  std::unique_lock lock(m_mutex);
  m_changed.wait(lock, [this] { return m_completed >= m_requested || m_error; });
  if (m_error) {
    std::rethrow_exception(m_error);
  }
}

void Committer::check() {
  std::lock_guard lock(m_mutex);
  if (m_error) {
    std::rethrow_exception(m_error);
  }
}

void Committer::loop() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_changed.wait(lock, [this] { return m_stopping || m_requested > m_completed; });
    if (m_requested == m_completed) {
      return;  // stopping, with nothing left to make durable
    }
    std::uint64_t target = m_requested;
    lock.unlock();
    std::exception_ptr error;
    // One syncfs makes every renamed result and its directory entry durable together, instead
    // of an fsync per file and per directory; the journal's fdatasync is then nearly free.
    if (::syncfs(m_filesystem_fd) != 0) {
      error = std::make_exception_ptr(SystemError("syncfs", m_what, errno));
    } else if (::fdatasync(m_journal_fd) != 0) {
      error = std::make_exception_ptr(SystemError("fdatasync", m_what + "/journal.jsonl", errno));
    }
    lock.lock();
    m_completed = target;
    if (error && !m_error) {
      m_error = error;
    }
    m_changed.notify_all();
  }
}

} // namespace bm
