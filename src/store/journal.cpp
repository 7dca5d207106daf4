#include "store/journal.hpp"

#include <cstdint>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

std::size_t Journal::repair(int fd, const std::string& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    throw_errno("fstat", path);
  }
  off_t size = info.st_size;
  // Scan back from the end for the last newline, a block at a time.
  off_t keep = 0;
  char buffer[4096];
  for (off_t end = size; end > 0;) {
    off_t start = end > static_cast<off_t>(sizeof buffer) ? end - static_cast<off_t>(sizeof buffer) : 0;
    ssize_t n = ::pread(fd, buffer, static_cast<size_t>(end - start), start);
    if (n < 0) {
      throw_errno("pread", path);
    }
    bool found = false;
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (buffer[i] == '\n') {
        keep = start + i + 1;
        found = true;
        break;
      }
    }
    if (found) {
      break;
    }
    end = start;
  }
  if (keep == size) {
    return 0;
  }
  if (::ftruncate(fd, keep) != 0) {
    throw_errno("ftruncate", path);
  }
  return static_cast<size_t>(size - keep);
}

Journal Journal::open(const Directory& out, std::string_view name) {
  std::string path = (out.path() / name).string();
  UniqueFd fd = out.open_file(name, O_RDWR | O_CREAT | O_APPEND);
  if (!fd) {
    throw SystemError("open", path + (errno == EINVAL ? " (not a regular file)" : ""), errno);
  }
  repair(fd.get(), path);
  return Journal(std::move(fd), path);
}

void Journal::append(nlohmann::json event) {
  event["schema"] = 1;
  event["time"] = utc_timestamp();
  // One write() per event with O_APPEND: a line is never interleaved or split by another writer.
  std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  write_all(m_fd.get(), line, m_path);
}

std::vector<nlohmann::json> Journal::read(const std::filesystem::path& path) {
  std::vector<nlohmann::json> events;
  std::optional<std::string> file;
  try {
    file = Directory::open(path.parent_path()).read(path.filename().string(), SIZE_MAX);
  } catch (const SystemError& error) {
    if (error.error_number() == ENOENT) {
      return events;
    }
    throw;
  }
  if (!file) {
    return events;
  }
  const std::string& text = *file;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      break;  // a torn last line: the event was never completely written
    }
    auto event = nlohmann::json::parse(std::string_view(text).substr(start, end - start), nullptr, false);
    if (!event.is_discarded() && event.is_object()) {
      events.push_back(std::move(event));
    }
    start = end + 1;
  }
  return events;
}

} // namespace bm
