#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace bm {

// Where in a user's file something went wrong. line and column are 1-based; 0 means unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;

  std::string to_string() const;
};

// The one error type for problems the user caused (config, CLI, environment): it carries where
// and what, and main() turns it into a message and exit code 2. Nothing has been started or
// written when it is thrown before a run.
class UserError : public std::runtime_error {
public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
  UserError(SourceLocation location, const std::string& message)
      : std::runtime_error(location.to_string() + ": " + message), m_location(std::move(location)) {}

  const SourceLocation& location() const { return m_location; }

private:
  SourceLocation m_location;
};

// A failed system call: names the call, what it was applied to, and strerror(errno).
class SystemError : public std::runtime_error {
public:
  SystemError(const std::string& call, const std::string& what, int error_number);
  int error_number() const { return m_errno; }

private:
  int m_errno;
};

// Throws SystemError from the current errno.
[[noreturn]] void throw_errno(const std::string& call, const std::string& what = {});

// Invariants that stay checked in release builds: a broken one is a bug in benchmatrix.
[[noreturn]] void assertion_failed(const char* expression, const char* file, int line);

} // namespace bm

#define BM_ASSERT(expr) ((expr) ? static_cast<void>(0) : ::bm::assertion_failed(#expr, __FILE__, __LINE__))
