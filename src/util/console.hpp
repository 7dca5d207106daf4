#pragma once

#include <cstdio>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace bm {

// Writes to stdout or stderr, which may be a terminal, a file or a pipe whose reader has gone:
// never throws. When a write fails with EPIPE, SIGPIPE is pending (benchmatrix blocks it) and the
// run stops through its interrupt path; the stream is pointed at /dev/null so that whatever is
// still said (and buffered) goes nowhere instead of failing again.
void console_write(std::FILE* out, std::string_view text);

template <typename... Args>
void say(std::FILE* out, fmt::format_string<Args...> format, Args&&... args) {
  console_write(out, fmt::format(format, std::forward<Args>(args)...));
}

// fflush that never throws and silences a stream whose reader has gone, as console_write does.
void console_flush(std::FILE* out);

} // namespace bm
