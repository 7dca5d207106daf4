#include "store/lock.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) {
    return "unknown-host";
  }
  return buffer;
}

} // namespace

OutputLock OutputLock::acquire(const std::filesystem::path& out_dir) {
  std::filesystem::path path = out_dir / ".lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) {
    throw_errno("open", path.string());
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      throw_errno("flock", path.string());
    }
    std::string holder(trim(read_file(path)));
    throw UserError(fmt::format("{} is in use by another benchmatrix run ({}); wait for it to finish or use "
                                "another --out",
                                out_dir.string(), holder.empty() ? "holder unknown" : holder));
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
