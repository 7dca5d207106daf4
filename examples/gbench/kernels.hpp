#pragma once

#include <cstdint>
#include <vector>

// The same pseudo-random keys for every benchmark and both builds.
std::vector<std::uint64_t> keys(std::size_t n);
