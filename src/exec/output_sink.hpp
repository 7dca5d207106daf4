#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "util/fs.hpp"

namespace bm {

// Receives one output stream of one process through a pipe and appends it to a log file,
// keeping at most `cap` bytes of it: the first half and the last half, with a marker saying how
// much was dropped between them. Neither memory (one 64 KiB buffer) nor the file grows without
// bound, however much the process writes. The tail is kept as a ring inside the file itself and
// put in order when the stream ends.
class OutputSink {
public:
  // Opens a pipe; the child gets write_fd() as its stdout or stderr. The log is created (or
  // appended to) when the first byte arrives; when it cannot be, write_error() says why and the
  // output is read and dropped. Returns null with `error` set when the pipe cannot be opened.
  // `path` is resolved as open_log does, below `base` (or AT_FDCWD).
  static std::unique_ptr<OutputSink> open(int base, const std::string& path, std::uint64_t cap, std::string& error,
                                          int* error_number = nullptr);

  int read_fd() const { return m_read.get(); }
  int write_fd() const { return m_write.get(); }
  void close_write_end() { m_write.reset(); }

  // Reads what the pipe holds now, up to `budget` bytes (a flooding process must not starve
  // the event loop); returns false at end of stream.
  bool drain(std::uint64_t budget = 1 << 20);
  // The stream is over (the process has exited): reads what is left, puts the kept tail in
  // order after the marker, and closes. Returns the number of bytes dropped.
  std::uint64_t finish();

  std::uint64_t total() const { return m_total; }
  const std::string& write_error() const { return m_write_error; }

private:
  OutputSink() = default;
  bool open_file();
  void store(const char* data, std::uint64_t length);
  void put(std::uint64_t offset, const char* data, std::uint64_t length);

  UniqueFd m_read;
  UniqueFd m_write;
  UniqueFd m_file;
  int m_directory = -1;
  std::string m_path;
  std::uint64_t m_base = 0;   // where this process's output starts in the file
  std::uint64_t m_head = 0;   // bytes kept from the start
  std::uint64_t m_tail = 0;   // bytes kept from the end
  std::uint64_t m_total = 0;  // bytes received
  std::string m_write_error;
};

} // namespace bm
