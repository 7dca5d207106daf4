#include "util/error.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bm {

std::string SourceLocation::to_string() const {
  if (line <= 0) {
    return file;
  }
  if (column <= 0) {
    return fmt::format("{}:{}", file, line);
  }
  return fmt::format("{}:{}:{}", file, line, column);
}

SystemError::SystemError(const std::string& call, const std::string& what, int error_number)
    : std::runtime_error(what.empty() ? fmt::format("{}: {}", call, std::strerror(error_number))
                                      : fmt::format("{}({}): {}", call, what, std::strerror(error_number))),
      m_errno(error_number) {}

void throw_errno(const std::string& call, const std::string& what) {
  throw SystemError(call, what, errno);
}

void assertion_failed(const char* expression, const char* file, int line) {
  std::fprintf(stderr, "benchmatrix: internal error: assertion '%s' failed at %s:%d\n", expression, file, line);
  std::abort();
}

} // namespace bm
