#include "util/fs.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bm {

void UniqueFd::reset(int fd) {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  m_fd = fd;
}

namespace {

std::string read_all(int fd, const std::filesystem::path& path) {
  std::string content;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("read", path.string());
    }
    if (n == 0) {
      break;
    }
    content.append(buffer, static_cast<size_t>(n));
  }
  return content;
}

} // namespace

std::string read_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open", path.string());
  }
  return read_all(fd.get(), path);
}

std::optional<std::string> read_file_if_present(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return std::nullopt;
    }
    throw_errno("open", path.string());
  }
  return read_all(fd.get(), path);
}

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("write", what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content, bool sync) {
  // The temporary name carries the pid so two processes never share one; a leftover from a
  // crash is never mistaken for the real file and is removed by the next writer of the folder.
  std::filesystem::path temporary = path;
  temporary += ".tmp." + std::to_string(::getpid());
  try {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) {
      throw_errno("open", temporary.string());
    }
    write_all(fd.get(), content, temporary.string());
    if (sync && ::fsync(fd.get()) != 0) {
      throw_errno("fsync", temporary.string());
    }
    if (::close(fd.release()) != 0) {
      throw_errno("close", temporary.string());
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
      throw_errno("rename", temporary.string() + " -> " + path.string());
    }
  } catch (const SystemError&) {
    ::unlink(temporary.c_str());  // a full disk must not keep half a file around
    throw;
  }
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path path) : m_path(std::move(path)) {
  m_temporary = m_path;
  m_temporary += ".tmp." + std::to_string(::getpid());
  m_fd.reset(::open(m_temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!m_fd) {
    throw_errno("open", m_temporary.string());
  }
  m_buffer.reserve(1 << 20);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!m_committed) {
    ::unlink(m_temporary.c_str());
  }
}

void AtomicFileWriter::flush() {
  write_all(m_fd.get(), m_buffer, m_temporary.string());
  m_buffer.clear();
}

void AtomicFileWriter::append(std::string_view data) {
  m_buffer.append(data);
  if (m_buffer.size() >= (1 << 20)) {
    flush();
  }
}

void AtomicFileWriter::commit() {
  flush();
  if (::close(m_fd.release()) != 0) {
    throw_errno("close", m_temporary.string());
  }
  if (::rename(m_temporary.c_str(), m_path.c_str()) != 0) {
    throw_errno("rename", m_temporary.string() + " -> " + m_path.string());
  }
  m_committed = true;
}

void make_directories(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    throw SystemError("mkdir", path.string(), error.value());
  }
}

} // namespace bm
