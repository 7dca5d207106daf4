#include "util/clock.hpp"

#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace bm {

namespace {

struct Now {
  std::tm tm{};
  long millis = 0;
};

Now now_utc() {
  auto now = std::chrono::system_clock::now();
  auto seconds = std::chrono::system_clock::to_time_t(now);
  Now result;
  gmtime_r(&seconds, &result.tm);
  result.millis = static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  return result;
}

} // namespace

std::string utc_timestamp() {
  Now n = now_utc();
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", n.tm.tm_year + 1900, n.tm.tm_mon + 1,
                     n.tm.tm_mday, n.tm.tm_hour, n.tm.tm_min, n.tm.tm_sec, n.millis);
}

std::string utc_compact_timestamp() {
  Now n = now_utc();
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", n.tm.tm_year + 1900, n.tm.tm_mon + 1, n.tm.tm_mday,
                     n.tm.tm_hour, n.tm.tm_min, n.tm.tm_sec);
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

} // namespace bm
