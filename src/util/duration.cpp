#include "util/duration.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace bm {

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  double total_seconds = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (i == start) {
      return std::nullopt;
    }
    double number = 0;
    auto [end, error] = std::from_chars(text.data() + start, text.data() + i, number);
    if (error != std::errc() || end != text.data() + i) {
      return std::nullopt;
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
      ++i;
    }
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit.empty()) {
      if (i != text.size() || any) {
        return std::nullopt;  // a bare number is only allowed alone
      }
      scale = 1;
    } else if (unit == "ns") {
      scale = 1e-9;
    } else if (unit == "us") {
      scale = 1e-6;
    } else if (unit == "ms") {
      scale = 1e-3;
    } else if (unit == "s") {
      scale = 1;
    } else if (unit == "m" || unit == "min") {
      scale = 60;
    } else if (unit == "h") {
      scale = 3600;
    } else if (unit == "d") {
      scale = 86400;
    } else {
      return std::nullopt;
    }
    total_seconds += number * scale;
    any = true;
  }
  if (!std::isfinite(total_seconds) || total_seconds < 0 || total_seconds > 100.0 * 86400) {
    return std::nullopt;
  }
  return std::chrono::nanoseconds(static_cast<long long>(std::llround(total_seconds * 1e9)));
}

std::string format_seconds(double seconds) {
  if (seconds < 0) {
    return "-" + format_seconds(-seconds);
  }
  if (seconds < 1e-3) {
    return fmt::format("{:.0f}us", seconds * 1e6);
  }
  if (seconds < 1) {
    return fmt::format("{:.1f}ms", seconds * 1e3);
  }
  if (seconds < 60) {
    return fmt::format("{:.2f}s", seconds);
  }
  auto whole = static_cast<long long>(seconds);
  if (whole < 3600) {
    return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  }
  return fmt::format("{}h{:02}m{:02}s", whole / 3600, (whole / 60) % 60, whole % 60);
}

std::string format_duration(std::chrono::nanoseconds duration) {
  return format_seconds(std::chrono::duration<double>(duration).count());
}

} // namespace bm
