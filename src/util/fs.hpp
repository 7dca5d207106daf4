#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bm {

// Owns a file descriptor; move-only.
class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.m_fd, -1));
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return m_fd; }
  explicit operator bool() const { return m_fd >= 0; }
  int release() { return std::exchange(m_fd, -1); }
  void reset(int fd = -1);

private:
  int m_fd = -1;
};

// Reads a whole file; throws SystemError when it cannot.
std::string read_file(const std::filesystem::path& path);
// read_file, or nullopt when there is no such file (the common case of a result not written
// yet: not an exception); other failures still throw SystemError.
std::optional<std::string> read_file_if_present(const std::filesystem::path& path);

// Writes `content` to a temporary file beside `path`, then renames it over `path`, so a reader
// sees either the old file or the whole new one. With `sync`, fsyncs the data before the rename
// (the store uses syncfs in batches instead, see Store::commit).
void write_file_atomic(const std::filesystem::path& path, std::string_view content, bool sync = false);
// The same for `name` in the directory `dirfd` (AT_FDCWD: `name` is a path); `display` names it in
// errors. The temporary file (NAME.tmp.PID) is created exclusively and without following a link,
// so nothing planted under that name can redirect the write; whatever is at `name` (a file, a
// link, a directory) is replaced.
void write_file_atomic_at(int dirfd, std::string_view name, std::string_view content, const std::string& display,
                          bool sync = false);

// The entries of the directory `dirfd` (but . and ..), each with whether readdir says it is a
// directory. Throws SystemError naming `display`.
std::vector<std::pair<std::string, bool>> entries_at(int dirfd, const std::string& display);

// Removes `name` in `dirfd` whatever it is (a directory with all it holds; a link, never what it
// points to); nothing there is fine. Throws SystemError.
void remove_entry_at(int dirfd, std::string_view name, const std::string& display);

// write_file_atomic for content made piece by piece (a report over 100,000 tasks), so that it is
// never all in memory: appended through a buffer to NAME.tmp.PID, renamed by commit(). Destroyed
// without commit() (an exception), the temporary file is removed and NAME is untouched.
class AtomicFileWriter {
public:
  explicit AtomicFileWriter(std::filesystem::path path);
  // `name` in the directory `dirfd` (held open by the caller for the writer's life).
  AtomicFileWriter(int dirfd, std::string name, std::string display);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void append(std::string_view data);
  void commit();

private:
  void flush();

  int m_dirfd;
  std::string m_name;
  std::string m_temporary;
  std::string m_display;
  UniqueFd m_fd;
  std::string m_buffer;
  bool m_committed = false;
};

// Writes all of `data` to `fd`, retrying short writes and EINTR; throws SystemError on failure.
void write_all(int fd, std::string_view data, const std::string& what);

// Creates a directory and its parents; throws SystemError with the path on failure.
void make_directories(const std::filesystem::path& path);

} // namespace bm
