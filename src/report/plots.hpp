#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report/html_report.hpp"

namespace bm {

// One standard plot and what became of it.
struct PlotFile {
  std::string plot;            // comparison, scaling, memory_usage, gpu_utilization
  std::filesystem::path svg;   // empty when skipped
  std::filesystem::path png;   // empty when no PNG was made
  std::string skipped;         // why there is nothing to draw
};

// `report --export-plots DIR`: the standard plots of the results (seed 001's comparison,
// scaling, memory and GPU use) as SVG files in DIR, drawn by the same chart definitions as
// report.html, with Vega under Node.js (`node` in PATH, or BENCHMATRIX_NODE). Each SVG also becomes
// a PNG when rsvg-convert is installed. Throws UserError when Node.js cannot be run.
std::vector<PlotFile> export_plots(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& dir,
                                   const HtmlOptions& options);

} // namespace bm
