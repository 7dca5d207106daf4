#include "util/fs.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <vector>
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

namespace {

std::string temporary_name(std::string_view name) {
  // The pid keeps two processes apart; a leftover from a crash is never mistaken for the real file
  // and is removed by the next writer of the folder.
  return std::string(name) + ".tmp." + std::to_string(::getpid());
}

// Creates the temporary file exclusively: a leftover of ours (or anything planted under its name,
// a link or a directory) is removed first, never written through.
UniqueFd create_temporary(int dirfd, const std::string& temporary, const std::string& display) {
  for (int attempt = 0;; ++attempt) {
    UniqueFd fd(::openat(dirfd, temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd || errno != EEXIST || attempt > 0) {
      if (!fd) {
        throw_errno("open", display + ".tmp");
      }
      return fd;
    }
    remove_entry_at(dirfd, temporary, display + ".tmp");
  }
}

void rename_over(int dirfd, const std::string& temporary, std::string_view name, const std::string& display) {
  std::string target(name);
  if (::renameat(dirfd, temporary.c_str(), dirfd, target.c_str()) == 0) {
    return;
  }
  if (errno != EISDIR && errno != ENOTEMPTY && errno != EEXIST) {
    throw_errno("rename", display);
  }
  // A directory stands where the file goes (planted there): it is not ours to keep.
  remove_entry_at(dirfd, target, display);
  if (::renameat(dirfd, temporary.c_str(), dirfd, target.c_str()) != 0) {
    throw_errno("rename", display);
  }
}

void remove_tree_at(int dirfd, const std::string& name, const std::string& display, int depth) {
  if (depth > 256) {
    throw SystemError("remove", display, ELOOP);
  }
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) {
      return;
    }
    throw_errno("open", display);
  }
  ::fchmod(fd.get(), 0700);  // a task may have taken its own rights away; we may give them back
  for (const auto& [child, is_dir] : entries_at(fd.get(), display)) {
    if (!is_dir && ::unlinkat(fd.get(), child.c_str(), 0) == 0) {
      continue;
    }
    if (!is_dir && errno != EISDIR && errno != EPERM) {
      if (errno == ENOENT) {
        continue;
      }
      throw_errno("unlink", display + "/" + child);
    }
    remove_tree_at(fd.get(), child, display + "/" + child, depth + 1);
  }
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    throw_errno("rmdir", display);
  }
}

} // namespace

std::vector<std::pair<std::string, bool>> entries_at(int dirfd, const std::string& display) {
  // readdir on a copy of the descriptor, from the start: the original keeps serving *at() calls.
  int listed = ::dup(dirfd);
  DIR* dir = listed < 0 ? nullptr : ::fdopendir(listed);
  if (dir == nullptr) {
    if (listed >= 0) {
      ::close(listed);
    }
    throw_errno("opendir", display);
  }
  ::rewinddir(dir);
  std::vector<std::pair<std::string, bool>> entries;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") {
      entries.emplace_back(std::move(name), entry->d_type == DT_DIR);
    }
  }
  ::closedir(dir);
  return entries;
}

void remove_entry_at(int dirfd, std::string_view name, const std::string& display) {
  std::string entry(name);
  if (::unlinkat(dirfd, entry.c_str(), 0) == 0 || errno == ENOENT) {
    return;
  }
  if (errno != EISDIR && errno != EPERM) {
    throw_errno("unlink", display);
  }
  remove_tree_at(dirfd, entry, display, 0);
}

void write_file_atomic_at(int dirfd, std::string_view name, std::string_view content, const std::string& display,
                          bool sync) {
  std::string temporary = temporary_name(name);
  try {
    UniqueFd fd = create_temporary(dirfd, temporary, display);
    write_all(fd.get(), content, display + ".tmp");
    if (sync && ::fsync(fd.get()) != 0) {
      throw_errno("fsync", display + ".tmp");
    }
    if (::close(fd.release()) != 0) {
      throw_errno("close", display + ".tmp");
    }
    rename_over(dirfd, temporary, name, display);
  } catch (const SystemError&) {
    ::unlinkat(dirfd, temporary.c_str(), 0);  // a full disk must not keep half a file around
    throw;
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content, bool sync) {
  write_file_atomic_at(AT_FDCWD, path.string(), content, path.string(), sync);
}

AtomicFileWriter::AtomicFileWriter(std::filesystem::path path)
    : AtomicFileWriter(AT_FDCWD, path.string(), path.string()) {}

AtomicFileWriter::AtomicFileWriter(int dirfd, std::string name, std::string display)
    : m_dirfd(dirfd), m_name(std::move(name)), m_temporary(temporary_name(m_name)), m_display(std::move(display)) {
  m_fd = create_temporary(m_dirfd, m_temporary, m_display);
  m_buffer.reserve(1 << 20);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!m_committed) {
    ::unlinkat(m_dirfd, m_temporary.c_str(), 0);
  }
}

void AtomicFileWriter::flush() {
  write_all(m_fd.get(), m_buffer, m_display + ".tmp");
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
    throw_errno("close", m_display + ".tmp");
  }
  rename_over(m_dirfd, m_temporary, m_name, m_display);
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
