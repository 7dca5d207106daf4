#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bm {

inline constexpr std::size_t k_max_path_component = 80;

// The readable form of an axis value as a path component (seed 004 plus hardening): every byte
// other than ASCII letters, digits, '.' and '_' becomes '_' ("meta-llama/Llama-3.1-8B-Instruct" ->
// "meta_llama_Llama_3.1_8B_Instruct"); a leading '.' becomes '_' so "." and ".." and hidden names
// cannot occur; empty becomes "_". Not injective and not length-limited: distinct_path_parts
// makes the folder names from it.
std::string sanitize_path_component(std::string_view value);

// Whether a path component ends like a hashed one: '_' and 12 lowercase hex digits (in any case,
// for file systems that ignore it).
bool looks_hashed(std::string_view part);

// One folder name per item of a set (the value tuples of one top-level axis), injective over the
// set: an item keeps its readable form when no other item's readable form equals it (ignoring
// case, for case-insensitive file systems), when it is at most 80 bytes and when it does not look
// hashed; every other item gets its readable form, cut to fit, plus '_' and 12 hex digits of a
// hash of its identity. So bare names differ from each other, never look hashed, and hashed names
// differ by their hash (checked: a collision is refused with UserError naming both). `identities`
// encode the items injectively (see path_identity); `what` names the axis in that error.
std::vector<std::string> distinct_path_parts(const std::vector<std::string>& readable,
                                             const std::vector<std::string>& identities, const std::string& what);

// An injective encoding of a tuple of values (a value and the values nested under it).
std::string path_identity(const std::vector<std::string_view>& values);

} // namespace bm
