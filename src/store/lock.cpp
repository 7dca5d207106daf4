#include "store/lock.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include "util/environment.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

OutputLock OutputLock::acquire(const Directory& out, std::string_view doing) {
  std::filesystem::path path = out.path() / ".lock";
  UniqueFd fd = out.open_file(".lock", O_RDWR | O_CREAT);
  if (!fd) {
    if (errno == ELOOP || errno == EINVAL) {
      throw UserError(fmt::format("{} is not a regular file (a link or something else planted there): benchmatrix "
                                  "does not follow links inside its results folder; remove it",
                                  path.string()));
    }
    throw_errno("open", path.string());
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      throw_errno("flock", path.string());
    }
    char buffer[256] = {};
    ssize_t n = ::pread(fd.get(), buffer, sizeof buffer - 1, 0);
    std::string holder(trim(std::string_view(buffer, n > 0 ? static_cast<size_t>(n) : 0)));
    throw UserError(fmt::format("{} is in use by another benchmatrix run ({}); wait for it to finish before this {}, "
                                "or use another {}",
                                out.path().string(), holder.empty() ? "holder unknown" : holder, doing,
                                doing == "run" ? "--out" : "--output"));
  }
  // Record who holds it, for the message above; the lock itself is the flock, not this text.
  std::string holder = fmt::format("pid {} on {}\n", ::getpid(), host_name());
  if (::ftruncate(fd.get(), 0) != 0) {
    throw_errno("ftruncate", path.string());
  }
  if (::pwrite(fd.get(), holder.data(), holder.size(), 0) < 0) {
    throw_errno("pwrite", path.string());
  }
  return OutputLock(std::move(fd));
}

} // namespace bm
