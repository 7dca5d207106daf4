#include "store/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

std::size_t Journal::repair(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) {
      return 0;
    }
    throw_errno("open", path.string());
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    throw_errno("fstat", path.string());
  }
  off_t size = info.st_size;
  // Scan back from the end for the last newline, a block at a time.
  off_t keep = 0;
  char buffer[4096];
  for (off_t end = size; end > 0;) {
    off_t start = end > static_cast<off_t>(sizeof buffer) ? end - static_cast<off_t>(sizeof buffer) : 0;
    ssize_t n = ::pread(fd.get(), buffer, static_cast<size_t>(end - start), start);
    if (n < 0) {
      throw_errno("pread", path.string());
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
  if (::ftruncate(fd.get(), keep) != 0) {
    throw_errno("ftruncate", path.string());
  }
  return static_cast<size_t>(size - keep);
}

Journal Journal::open(const std::filesystem::path& path) {
  repair(path);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) {
    throw_errno("open", path.string());
  }
  return Journal(std::move(fd), path.string());
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
  std::optional<std::string> file = read_file_if_present(path);
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
