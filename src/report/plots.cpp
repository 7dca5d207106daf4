#include "report/plots.hpp"

#include <cstdlib>
#include <cstring>
#include <unistd.h>

#include <fmt/format.h>

#include "report/web_assets.hpp"
#include "util/command.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace bm {

namespace fs = std::filesystem;

namespace {

constexpr std::chrono::seconds k_render_timeout{600};

// A folder of our own for the renderer and its input, removed on every way out.
class ScratchFolder {
public:
  ScratchFolder() {
    std::string pattern = (fs::temp_directory_path() / "benchmatrix-plots.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw_errno("mkdtemp", pattern);
    }
    m_path = pattern;
  }
  ~ScratchFolder() {
    std::error_code ignored;
    fs::remove_all(m_path, ignored);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;
  const fs::path& path() const { return m_path; }

private:
  fs::path m_path;
};

} // namespace

std::vector<PlotFile> export_plots(const ResultsTree& tree, const Analysis& analysis, const fs::path& dir,
                                   const HtmlOptions& options) {
  const char* configured = std::getenv("BENCHMATRIX_NODE");
  std::string node = configured && *configured ? configured : "node";
  ScratchFolder scratch;
  write_file_atomic(scratch.path() / "render.mjs", plot_renderer());
  write_file_atomic(scratch.path() / "data.json", report_data(tree, analysis, options).dump(-1, ' ', false,
                                                                            nlohmann::json::error_handler_t::replace));
  make_directories(dir);
  fs::path out = fs::absolute(dir);
  int spawn_error = 0;
  CommandResult rendered = run_command({node, (scratch.path() / "render.mjs").string(),
                                        (scratch.path() / "data.json").string(), out.string()},
                                       k_render_timeout, 1 << 20, spawn_error);
  if (spawn_error != 0) {
    throw UserError(fmt::format("--export-plots draws with Node.js, which cannot be run here ({}: {}); install it "
                                "(apt-get install nodejs) or name it with BENCHMATRIX_NODE",
                                node, std::strerror(spawn_error)));
  }
  if (!rendered.succeeded()) {
    throw UserError(fmt::format("--export-plots: drawing the plots with {} failed ({}); its messages are above",
                                node, rendered.describe(k_render_timeout)));
  }
  bool png = !find_in_path("rsvg-convert").empty();
  std::vector<PlotFile> plots;
  for (const auto& line : split(rendered.output, '\n')) {
    if (trim(line).empty()) {
      continue;
    }
    nlohmann::json entry = nlohmann::json::parse(line, nullptr, false);
    if (entry.is_discarded() || !entry.is_object()) {
      continue;
    }
    PlotFile plot;
    plot.plot = entry.value("plot", "");
    plot.skipped = entry.value("skipped", "");
    if (entry.contains("file")) {
      plot.svg = entry["file"].get<std::string>();
      if (png) {
        fs::path target = plot.svg;
        target.replace_extension(".png");
        fs::path temporary = target.string() + ".tmp";
        int error = 0;
        CommandResult converted = run_command({"rsvg-convert", "--zoom=2", "--background-color=white", "--output",
                                               temporary.string(), plot.svg.string()},
                                              std::chrono::seconds(120), 1 << 16, error);
        std::error_code ignored;
        if (error == 0 && converted.succeeded()) {
          fs::rename(temporary, target);  // whole, or not at all
          plot.png = target;
        } else {
          fs::remove(temporary, ignored);
        }
      }
    }
    plots.push_back(std::move(plot));
  }
  return plots;
}

} // namespace bm
