#include "exec/output_sink.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "util/directory.hpp"
#include "util/error.hpp"

namespace bm {

namespace {

constexpr std::size_t k_chunk = 64 * 1024;

} // namespace

std::unique_ptr<OutputSink> OutputSink::open(int base, const std::string& path, std::uint64_t cap, std::string& error,
                                             int* error_number) {
  std::unique_ptr<OutputSink> sink(new OutputSink());
  sink->m_directory = base;
  sink->m_path = path;
  sink->m_head = cap / 2;
  sink->m_tail = cap - sink->m_head;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    if (error_number != nullptr) {
      *error_number = errno;
    }
    error = SystemError("pipe2", path, errno).what();
    return nullptr;
  }
  sink->m_read.reset(fds[0]);
  sink->m_write.reset(fds[1]);
  // Only our end is non-blocking: the child's end stays blocking, as a terminal or file would be.
  ::fcntl(sink->m_read.get(), F_SETFL, ::fcntl(sink->m_read.get(), F_GETFL) | O_NONBLOCK);
  return sink;
}

bool OutputSink::open_file() {
  // The log is created with the first byte of output, so that a quiet process costs no file
  // (most benchmarks write nothing, and a file create is most of the cost of a short task).
  // Never through a link, and never into a FIFO or device planted under its name.
  m_file = open_log(m_directory, m_path, O_RDWR | O_CREAT);
  if (!m_file) {
    m_write_error = errno == EINVAL ? m_path + " is not a regular file (a task must not replace its logs)"
                                    : SystemError("open", m_path, errno).what();
    return false;
  }
  off_t end = ::lseek(m_file.get(), 0, SEEK_END);
  m_base = end < 0 ? 0 : static_cast<std::uint64_t>(end);
  return true;
}

void OutputSink::put(std::uint64_t offset, const char* data, std::uint64_t length) {
  if (!m_write_error.empty()) {
    return;  // the log cannot be written (a full disk, say): the output is read and dropped
  }
  if (!m_file && !open_file()) {
    return;
  }
  while (length > 0) {
    ssize_t n = ::pwrite(m_file.get(), data, length, static_cast<off_t>(m_base + offset));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      m_write_error = SystemError("pwrite", m_path, errno).what();
      return;
    }
    data += n;
    offset += static_cast<std::uint64_t>(n);
    length -= static_cast<std::uint64_t>(n);
  }
}

void OutputSink::store(const char* data, std::uint64_t length) {
  // Bytes [0, head) go in place; later bytes go round a ring of `tail` bytes after the head.
  while (length > 0) {
    if (m_total < m_head) {
      std::uint64_t n = std::min(length, m_head - m_total);
      put(m_total, data, n);
      data += n;
      length -= n;
      m_total += n;
      continue;
    }
    std::uint64_t position = (m_total - m_head) % m_tail;
    std::uint64_t n = std::min(length, m_tail - position);
    put(m_head + position, data, n);
    data += n;
    length -= n;
    m_total += n;
  }
}

bool OutputSink::drain(std::uint64_t budget) {
  char buffer[k_chunk];
  std::uint64_t read_now = 0;
  while (read_now < budget) {
    ssize_t n = ::read(m_read.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno == EAGAIN;  // anything else: treat the stream as over
    }
    if (n == 0) {
      return false;
    }
    store(buffer, static_cast<std::uint64_t>(n));
    read_now += static_cast<std::uint64_t>(n);
  }
  return true;
}

std::uint64_t OutputSink::finish() {
  // What is left in the pipe; a descendant that escaped the process group could keep writing,
  // so this reads a bounded amount and leaves the rest.
  drain(m_head + m_tail + k_chunk);
  m_read.reset();
  m_write.reset();
  std::uint64_t kept = m_head + m_tail;
  if (m_total <= kept || m_tail == 0 || !m_file) {
    return 0;
  }
  std::uint64_t dropped = m_total - kept;
  // The ring's oldest byte is where the next one would have gone: copy the ring out in order
  // (through a temporary file, a chunk at a time), then write marker and tail after the head.
  std::uint64_t oldest = (m_total - m_head) % m_tail;
  std::string marker = fmt::format("\n[benchmatrix: {} bytes dropped here; the first {} and last {} bytes of this "
                                   "process's output are kept]\n",
                                   dropped, m_head, m_tail);
  // A nameless file beside the log (O_TMPFILE: nothing planted in the folder can stand in for it).
  std::size_t slash = m_path.rfind('/');
  std::string folder = slash == std::string::npos ? "." : m_path.substr(0, slash);
  UniqueFd parent = m_directory == AT_FDCWD ? UniqueFd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
                                            : open_beneath(m_directory, folder, O_RDONLY | O_DIRECTORY);
  UniqueFd temporary(parent ? ::openat(parent.get(), ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1);
  if (!temporary && parent) {
    // A file system without O_TMPFILE: a name of our own, created exclusively, unlinked at once.
    std::string name = ".tail.tmp." + std::to_string(::getpid());
    temporary.reset(::openat(parent.get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    ::unlinkat(parent.get(), name.c_str(), 0);
  }
  if (!temporary || !m_write_error.empty()) {
    return dropped;
  }
  std::vector<char> buffer(k_chunk);
  std::uint64_t copied = 0;
  auto copy_ring = [&](std::uint64_t from, std::uint64_t length) {
    while (length > 0) {
      std::uint64_t n = std::min<std::uint64_t>(length, buffer.size());
      ssize_t got = ::pread(m_file.get(), buffer.data(), n, static_cast<off_t>(m_base + m_head + from));
      if (got <= 0 || ::pwrite(temporary.get(), buffer.data(), static_cast<size_t>(got), static_cast<off_t>(copied)) != got) {
        return false;
      }
      from += static_cast<std::uint64_t>(got);
      length -= static_cast<std::uint64_t>(got);
      copied += static_cast<std::uint64_t>(got);
    }
    return true;
  };
  if (!copy_ring(oldest, m_tail - oldest) || !copy_ring(0, oldest)) {
    return dropped;
  }
  put(m_head, marker.data(), marker.size());
  std::uint64_t offset = m_head + marker.size();
  for (std::uint64_t done = 0; done < copied;) {
    ssize_t got = ::pread(temporary.get(), buffer.data(), std::min<std::uint64_t>(buffer.size(), copied - done),
                          static_cast<off_t>(done));
    if (got <= 0) {
      break;
    }
    put(offset + done, buffer.data(), static_cast<std::uint64_t>(got));
    done += static_cast<std::uint64_t>(got);
  }
  if (::ftruncate(m_file.get(), static_cast<off_t>(m_base + offset + copied)) != 0 && m_write_error.empty()) {
    m_write_error = SystemError("ftruncate", m_path, errno).what();
  }
  return dropped;
}

} // namespace bm
