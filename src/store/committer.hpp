#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>

namespace bm {

// Makes a results tree durable off the event loop: request() asks for a syncfs of the tree's
// file system and an fdatasync of the journal and returns at once; a background thread does
// them, so that a slot's hand-off never waits for the disk. Requests made while a sync runs are
// served together by the next one (group commit). wait() blocks until everything requested so
// far is durable, and rethrows the first error the thread met.
class Committer {
public:
  Committer(int filesystem_fd, int journal_fd, std::string what);
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  void request();
  void wait();
  // Rethrows the thread's first error, if any, without waiting.
  void check();

private:
  void loop();

  int m_filesystem_fd;
  int m_journal_fd;
  std::string m_what;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::uint64_t m_requested = 0;
  std::uint64_t m_completed = 0;
  bool m_stopping = false;
  std::exception_ptr m_error;
  std::thread m_thread;
};

} // namespace bm
