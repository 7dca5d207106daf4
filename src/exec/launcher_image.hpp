#pragma once

#include <string_view>

namespace bm {

// The launcher's executable (exec/launcher.c), embedded at build time.
std::string_view launcher_image();

} // namespace bm
