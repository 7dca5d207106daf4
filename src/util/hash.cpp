#include "util/hash.hpp"

namespace bm {

Hasher& Hasher::add(std::string_view bytes) {
  for (unsigned char c : bytes) {
    m_state ^= c;
    m_state *= 0x100000001b3ULL;
  }
  return *this;
}

Hasher& Hasher::add_u64(std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    m_state ^= (value >> (8 * i)) & 0xff;
    m_state *= 0x100000001b3ULL;
  }
  return *this;
}

Hasher& Hasher::add_field(std::string_view bytes) {
  add_u64(bytes.size());
  return add(bytes);
}

std::uint64_t Hasher::digest() const {
  // splitmix64 finalizer: FNV-1a's low bits mix poorly, and ids are often shown truncated.
  std::uint64_t z = m_state + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string Hasher::hex() const {
  return to_hex(digest());
}

std::string to_hex(std::uint64_t value, int digits) {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i) {
    out[static_cast<size_t>(i)] = k_digits[value & 0xf];
    value >>= 4;
  }
  return out;
}

} // namespace bm
