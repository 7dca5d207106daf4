#include "util/console.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace bm {

namespace {

void silence(std::FILE* out) {
  int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, ::fileno(out));
    ::close(null);
  }
  std::clearerr(out);
}

void check(std::FILE* out) {
  if (std::ferror(out) != 0) {
    if (errno == EPIPE) {
      silence(out);
    }
    std::clearerr(out);
  }
}

} // namespace

void console_write(std::FILE* out, std::string_view text) {
  if (!text.empty()) {
    std::fwrite(text.data(), 1, text.size(), out);
    check(out);
  }
}

void console_flush(std::FILE* out) {
  std::fflush(out);
  check(out);
}

} // namespace bm
