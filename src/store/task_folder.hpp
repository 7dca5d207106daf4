#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace bm {

// What a run needs to know of a task's folder: where it is (for the task's environment and for
// messages) and how to reach it safely (a path below the open OUT/tasks, resolved without
// following links).
struct TaskFolderRef {
  std::filesystem::path path;  // absolute
  int tasks_fd = -1;           // OUT/tasks, open for the run
  std::string relative;        // below it
};

} // namespace bm
