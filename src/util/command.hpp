#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace bm {

// How a helper command ended (a discovery command, Node.js rendering plots).
struct CommandResult {
  std::string output;          // its standard output
  int exit_code = -1;          // >= 0 when it exited
  int term_signal = 0;         // > 0 when a signal ended it
  bool timed_out = false;      // killed at the deadline
  bool too_much_output = false;  // killed when its output passed the limit

  bool succeeded() const { return exit_code == 0 && !timed_out && !too_much_output; }
  // "exit code 3", "killed by signal 9", "did not finish within 60s", ...
  std::string describe(std::chrono::seconds timeout) const;
};

// The executable file `name` in the directories of PATH (an empty entry is the current one; no
// PATH: /usr/bin:/bin), as execvp would find it; empty when there is none.
std::string find_in_path(const std::string& name);

// What exec would run for `word` in a process whose PATH is `path_variable` and whose working
// directory is `workdir` (empty: ours): a word with a '/' is itself, a name is searched in PATH
// (relative entries, and the word, relative to `workdir`). Returns the path as the process will
// see it, or nullopt when there is no executable regular file there.
std::optional<std::string> find_executable(const std::string& word, const std::string& path_variable,
                                           const std::string& workdir);

// Runs argv[0] (looked up in PATH) with stdin from /dev/null, its standard output captured (at most
// `max_output` bytes) and its standard error left as ours, in a process group of its own, with the
// signal mask and dispositions benchmatrix had before it blocked the interrupt signals. Waits on
// its output and the interrupt signals together: an interrupt ends the group and throws
// Interrupted, a deadline ends it and says so. Returns errno from the spawn in `spawn_error` (0
// when it started).
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::seconds timeout, std::size_t max_output,
                          int& spawn_error);

} // namespace bm
