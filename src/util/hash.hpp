#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bm {

// Incremental 64-bit FNV-1a with a final avalanche (splitmix64). Not cryptographic: it names
// task specs, where a collision between two specs of one user's matrix is what matters.
class Hasher {
public:
  Hasher& add(std::string_view bytes);
  // Adds a length prefix too, so ("ab","c") and ("a","bc") hash differently.
  Hasher& add_field(std::string_view bytes);
  Hasher& add_u64(std::uint64_t value);
  std::uint64_t digest() const;
  std::string hex() const;  // 16 lowercase hex digits

private:
  std::uint64_t m_state = 0xcbf29ce484222325ULL;
};

std::string to_hex(std::uint64_t value, int digits = 16);

} // namespace bm
