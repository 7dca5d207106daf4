#pragma once

#include <string_view>

namespace bm {

// The report's front end (web/), bundled at build time and embedded in the binary.
// The page's one script: Vega, Vega-Lite, vega-embed, vega-interpreter and the report's own code.
std::string_view report_script();
// Its SHA-256 as a Content-Security-Policy source ('sha256-...'): the page allows that script alone.
std::string_view report_script_source();
// The same charts drawn to SVG under Node.js (an ES module), for `report --export-plots`.
std::string_view plot_renderer();

} // namespace bm
