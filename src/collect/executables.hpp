#pragma once

#include <string>
#include <vector>

namespace bm {

// A program a task's command ran, by content: what tells "the same binary" from "a rebuilt one"
// when two results are compared.
struct ExecutableHash {
  std::string path;  // as resolved (PATH searched for a bare name), relative to the working directory
  std::string hash;  // 16 hex digits over the file's bytes
};

// The programs of an argv: its first word (searched in PATH when it has no '/') and every later
// word naming an executable regular file (a benchmark binary given to a wrapper script). Each file
// is hashed once per process while its size, time and inode stay the same.
std::vector<ExecutableHash> hash_executables(const std::vector<std::string>& argv, const std::string& workdir);

} // namespace bm
