#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bm {

// Whether a variable's value must never be written anywhere (logs, journal, results, reports):
// names containing TOKEN, KEY, PASSWORD, PASSWD, SECRET or CREDENTIAL, in any case.
bool is_secret_name(std::string_view name);
// The value as it may be written: "<redacted>" for secrets.
std::string redacted(std::string_view name, std::string_view value);

// This process's environment as "NAME=value" entries, without BENCHMATRIX_* (the protocol
// variables of an enclosing run must never leak into a task) and, when `allow` is given, only
// the variables it names.
std::vector<std::string> current_environment(const std::optional<std::vector<std::string>>& allow);

// Variables that differ between two shells of one user without changing what a benchmark does;
// left out when comparing an attempt's recorded environment with today's.
bool is_volatile_variable(std::string_view name);

// This machine's host name, or "unknown-host" when it cannot be read.
std::string host_name();

} // namespace bm
