#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <sys/stat.h>

#include "util/fs.hpp"

namespace bm {

// Opens `relative` ('/'-separated, no "..", not absolute) below the directory `base`, never
// following a symbolic link on the way or at the end (openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS; a component-by-component O_NOFOLLOW walk where the kernel lacks it). A link
// gives ELOOP, a non-directory on the way ENOTDIR. Returns an empty UniqueFd with errno set on
// failure. O_CLOEXEC is always added.
UniqueFd open_beneath(int base, std::string_view relative, int flags, mode_t mode = 0644);

// Opens a log (or any file a process writes) for appending: below `base` as open_beneath does, or,
// with AT_FDCWD, the path itself without following a link at its end. Refuses (EINVAL) anything
// but a regular file: a FIFO planted there would block, a device would swallow or flood. Adds
// O_CLOEXEC and O_NOCTTY; never blocks.
UniqueFd open_log(int base, const std::string& path, int flags);

// The identity of a file or directory: what tells whether the same one is still at its path.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileIdentity&) const = default;
};

// A file as someone left it: replacing it changes its identity, writing into it its ctime.
struct FileVersion {
  FileIdentity identity;
  std::int64_t changed_ns = 0;
  bool operator==(const FileVersion&) const = default;
};
FileVersion version_of(const struct stat& info);

// A directory held open by descriptor. Every operation names an entry relative to it and never
// follows a symbolic link, so a link planted in a tree benchmatrix writes cannot send a write (or
// a read of one of its own files) anywhere else. Move-only.
class Directory {
public:
  Directory() = default;

  // Opens `path` itself following links (the user chose it). Throws SystemError.
  static Directory open(const std::filesystem::path& path);
  // The directory at `relative` below this one; nullopt when it does not exist. Throws
  // SystemError for anything else (ELOOP: a symbolic link on the way; ENOTDIR).
  std::optional<Directory> find(std::string_view relative) const;
  // The same, making missing components (0755). `made` (when given) says whether the last one was
  // made now. With `replace`, a link or a non-directory standing on the way is removed (never what
  // a link points to) and a folder made in its place; `replaced` says whether that happened.
  // Throws SystemError (ELOOP or ENOTDIR for such an entry without `replace`).
  Directory make(std::string_view relative, bool* made = nullptr, bool replace = false, bool* replaced = nullptr) const;

  int fd() const { return m_fd.get(); }
  explicit operator bool() const { return static_cast<bool>(m_fd); }
  // Where it is, for messages and for the processes that are told of it.
  const std::filesystem::path& path() const { return m_path; }
  FileIdentity identity() const;

  // What `name` is (lstat: a link is a link); nullopt when there is nothing of that name.
  std::optional<struct stat> entry(std::string_view name) const;
  // The content of the regular file `name`; nullopt when there is none. Throws SystemError when
  // it is anything else (ELOOP for a link, EINVAL for a FIFO, a device or a directory) or longer
  // than `limit` (EFBIG): a reader never blocks on a FIFO or reads /dev/zero without end.
  std::optional<std::string> read(std::string_view name, std::size_t limit) const;
  // The same for a file at `relative` below this directory, resolved as open_beneath does.
  std::optional<std::string> read_below(std::string_view relative, std::size_t limit) const;
  // Opens the regular file `name` (with O_NOFOLLOW and O_NONBLOCK, so a link or FIFO planted there
  // is refused rather than followed or waited on; O_NONBLOCK is cleared again). Empty with errno
  // set on failure; EINVAL when it is not a regular file.
  UniqueFd open_file(std::string_view name, int flags, mode_t mode = 0644) const;
  // Writes `content` under a temporary name (created exclusively) and renames it over `name`,
  // whatever was there (a file, a link, a whole directory planted in its place).
  void write_atomic(std::string_view name, std::string_view content) const;
  // Removes `name`, whatever it is: a file, a link (never what it points to), a directory with
  // everything in it. Nothing there is fine. Throws SystemError.
  void remove(std::string_view name) const;
  // Removes the temporary files (NAME.tmp.PID) left by writers that were killed before their
  // rename.
  void remove_temporaries() const;

private:
  Directory(UniqueFd fd, std::filesystem::path path) : m_fd(std::move(fd)), m_path(std::move(path)) {}

  UniqueFd m_fd;
  std::filesystem::path m_path;
};

} // namespace bm
