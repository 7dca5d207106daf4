#pragma once

#include <string>

namespace bm {

// Now, as ISO 8601 UTC with milliseconds: "2026-11-22T22:30:40.123Z".
std::string utc_timestamp();
// Now, as a directory name: "20261122T223040Z" (sortable, no ':').
std::string utc_compact_timestamp();
// Seconds since the epoch, with sub-second precision.
double unix_seconds();

} // namespace bm
