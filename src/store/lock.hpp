#pragma once

#include <filesystem>
#include <string>

#include "util/directory.hpp"
#include "util/fs.hpp"

namespace bm {

// One run per OUT at a time: an exclusive flock on OUT/.lock, held for the run's life. The kernel
// drops it when the holder dies, so a lock left by a crashed run is simply taken over.
class OutputLock {
public:
  // Throws UserError naming the holder's PID and host when another process holds it (`doing`
  // says what the refused command was about to do), or when OUT/.lock is not a regular file.
  static OutputLock acquire(const Directory& out, std::string_view doing = "run");

  OutputLock(OutputLock&&) noexcept = default;
  OutputLock& operator=(OutputLock&&) noexcept = default;

private:
  explicit OutputLock(UniqueFd fd) : m_fd(std::move(fd)) {}
  UniqueFd m_fd;
};

} // namespace bm
