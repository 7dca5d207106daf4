#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace bm {

// Parses "250ms", "1.5s", "2m", "1h30m", "90" (seconds), "10us". Returns nullopt when malformed,
// negative or larger than 100 days.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

// "1.25s", "340ms", "12us", "1h02m03s": short, for humans.
std::string format_duration(std::chrono::nanoseconds duration);
std::string format_seconds(double seconds);

} // namespace bm
