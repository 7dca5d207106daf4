#include "util/directory.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include <linux/openat2.h>

#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

std::vector<std::string> components(std::string_view relative) {
  std::vector<std::string> parts;
  for (auto& part : split(relative, '/')) {
    if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
  }
  return parts;
}

// The same as openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, one component at a time.
UniqueFd walk_beneath(int base, std::string_view relative, int flags, mode_t mode) {
  std::vector<std::string> parts = components(relative);
  if (parts.empty() || relative.front() == '/') {
    errno = parts.empty() ? ENOENT : EXDEV;
    return UniqueFd();
  }
  UniqueFd current;
  int at = base;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "..") {
      errno = EXDEV;
      return UniqueFd();
    }
    bool last = i + 1 == parts.size();
    int step_flags = last ? flags | O_NOFOLLOW | O_CLOEXEC : O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    UniqueFd next(::openat(at, parts[i].c_str(), step_flags, mode));
    if (!next) {
      return UniqueFd();
    }
    current = std::move(next);
    at = current.get();
  }
  return current;
}

} // namespace

UniqueFd open_beneath(int base, std::string_view relative, int flags, mode_t mode) {
  static std::atomic<bool> has_openat2{true};
  if (has_openat2.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) != 0 ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    std::string path(relative);
    for (;;) {
      long fd = ::syscall(SYS_openat2, base, path.c_str(), &how, sizeof how);
      if (fd >= 0) {
        return UniqueFd(static_cast<int>(fd));
      }
      if (errno == EAGAIN || errno == EINTR) {
        continue;  // a concurrent rename somewhere in the tree: openat2 asks to be retried
      }
      if (errno != ENOSYS && errno != EPERM) {
        return UniqueFd();
      }
      has_openat2.store(false, std::memory_order_relaxed);  // before Linux 5.6 (or a sandbox that forbids it)
      break;
    }
  }
  return walk_beneath(base, relative, flags, mode);
}

namespace {

// A descriptor opened with O_NONBLOCK (so that a FIFO never blocks the open) kept only when it is
// a regular file, then made blocking again unless the caller asked for O_NONBLOCK itself.
UniqueFd regular_only(UniqueFd fd, int flags) {
  if (!fd) {
    return fd;
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    errno = EINVAL;
    return UniqueFd();
  }
  if ((flags & O_NONBLOCK) == 0) {
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  }
  return fd;
}

} // namespace

UniqueFd open_log(int base, const std::string& path, int flags) {
  int opened = flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  return regular_only(base == AT_FDCWD ? UniqueFd(::open(path.c_str(), opened | O_NOFOLLOW, 0644))
                                       : open_beneath(base, path, opened, 0644),
                      flags);
}

Directory Directory::open(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    throw_errno("open", path.string());
  }
  return Directory(std::move(fd), path);
}

std::optional<Directory> Directory::find(std::string_view relative) const {
  UniqueFd fd = open_beneath(m_fd.get(), relative, O_RDONLY | O_DIRECTORY);
  if (!fd) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw_errno("open", (m_path / relative).string());
  }
  return Directory(std::move(fd), m_path / relative);
}

Directory Directory::make(std::string_view relative, bool* made, bool replace, bool* replaced) const {
  if (made != nullptr) {
    *made = false;
  }
  if (replaced != nullptr) {
    *replaced = false;
  }
  UniqueFd existing = open_beneath(m_fd.get(), relative, O_RDONLY | O_DIRECTORY);
  if (existing) {
    return Directory(std::move(existing), m_path / relative);
  }
  if (errno != ENOENT && !((errno == ELOOP || errno == ENOTDIR) && replace)) {
    throw_errno("open", (m_path / relative).string());
  }
  UniqueFd current;
  int at = m_fd.get();
  std::filesystem::path where = m_path;
  for (const auto& part : components(relative)) {
    where /= part;
    if (part == "..") {
      throw SystemError("mkdir", where.string(), EXDEV);
    }
    bool created = ::mkdirat(at, part.c_str(), 0755) == 0;
    if (!created && errno != EEXIST) {
      throw_errno("mkdir", where.string());
    }
    if (made != nullptr) {
      *made = created;
    }
    UniqueFd next(::openat(at, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next && replace && (errno == ELOOP || errno == ENOTDIR)) {
      remove_entry_at(at, part, where.string());
      if (::mkdirat(at, part.c_str(), 0755) != 0 && errno != EEXIST) {
        throw_errno("mkdir", where.string());
      }
      next.reset(::openat(at, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (replaced != nullptr) {
        *replaced = true;
      }
      if (made != nullptr) {
        *made = true;
      }
    }
    if (!next) {
      throw_errno("open", where.string());
    }
    current = std::move(next);
    at = current.get();
  }
  if (!current) {
    throw SystemError("open", where.string(), ENOENT);
  }
  return Directory(std::move(current), m_path / relative);
}

FileVersion version_of(const struct stat& info) {
  return {{info.st_dev, info.st_ino},
          static_cast<std::int64_t>(info.st_ctim.tv_sec) * 1'000'000'000 + static_cast<std::int64_t>(info.st_ctim.tv_nsec)};
}

FileIdentity Directory::identity() const {
  struct stat info {};
  if (::fstat(m_fd.get(), &info) != 0) {
    throw_errno("fstat", m_path.string());
  }
  return {info.st_dev, info.st_ino};
}

std::optional<struct stat> Directory::entry(std::string_view name) const {
  struct stat info {};
  std::string entry(name);
  if (::fstatat(m_fd.get(), entry.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw_errno("stat", (m_path / name).string());
  }
  return info;
}

UniqueFd Directory::open_file(std::string_view name, int flags, mode_t mode) const {
  std::string entry(name);
  return regular_only(
      UniqueFd(::openat(m_fd.get(), entry.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode)), flags);
}

namespace {

std::optional<std::string> read_regular(UniqueFd fd, const std::string& display, std::size_t limit) {
  if (!fd) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw SystemError("open", display + (errno == EINVAL ? " (not a regular file)" : ""), errno);
  }
  std::string content;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("read", display);
    }
    if (n == 0) {
      return content;
    }
    if (content.size() + static_cast<std::size_t>(n) > limit) {
      throw SystemError("read", display + " (larger than " + std::to_string(limit) + " bytes)", EFBIG);
    }
    content.append(buffer, static_cast<std::size_t>(n));
  }
}

} // namespace

std::optional<std::string> Directory::read(std::string_view name, std::size_t limit) const {
  return read_regular(open_file(name, O_RDONLY), (m_path / name).string(), limit);
}

std::optional<std::string> Directory::read_below(std::string_view relative, std::size_t limit) const {
  return read_regular(open_log(m_fd.get(), std::string(relative), O_RDONLY), (m_path / relative).string(), limit);
}

void Directory::write_atomic(std::string_view name, std::string_view content) const {
  write_file_atomic_at(m_fd.get(), name, content, (m_path / name).string());
}

void Directory::remove(std::string_view name) const {
  remove_entry_at(m_fd.get(), name, (m_path / name).string());
}

void Directory::remove_temporaries() const {
  std::vector<std::string> temporaries;
  try {
    for (auto& [name, is_directory] : entries_at(m_fd.get(), m_path.string())) {
      if (name.find(".tmp.") != std::string::npos) {
        temporaries.push_back(std::move(name));
      }
    }
  } catch (const SystemError&) {
    return;  // an unreadable folder keeps its clutter
  }
  for (const auto& name : temporaries) {
    try {
      remove(name);
    } catch (const SystemError&) {
      // a leftover that cannot be removed is only clutter: it never counts as a result
    }
  }
}

} // namespace bm
