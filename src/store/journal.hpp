#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/directory.hpp"
#include "util/fs.hpp"

namespace bm {

// OUT/journal.jsonl: an append-only record of attempts (started / finished / failed / skipped).
// Each event is written at once (a crash of benchmatrix loses nothing already written); it is made
// durable by the Store's group commit (a Committer fdatasyncs fd() at most once per window).
class Journal {
public:
  // Opens `name` in `out` for appending (a regular file only: never a link, a FIFO or a device);
  // a torn last line left by a crash is cut off first (see repair()).
  static Journal open(const Directory& out, std::string_view name);

  void append(nlohmann::json event);

  int fd() const { return m_fd.get(); }

  // Reads every complete event; a torn last line is ignored, a corrupt middle line skipped.
  static std::vector<nlohmann::json> read(const std::filesystem::path& path);
  // Truncates the open file after its last newline; returns how many bytes were cut.
  static std::size_t repair(int fd, const std::string& path);

  static constexpr std::chrono::milliseconds k_commit_window{50};

private:
  Journal(UniqueFd fd, std::string path) : m_fd(std::move(fd)), m_path(std::move(path)) {}

  UniqueFd m_fd;
  std::string m_path;
};

} // namespace bm
