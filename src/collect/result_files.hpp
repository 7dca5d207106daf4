#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "collect/metrics.hpp"
#include "config/config.hpp"

namespace bm {

// What one result file says about one run.
struct FileResults {
  ResultFormat format = ResultFormat::Auto;  // as detected
  ReportedMetrics metrics;                   // samples in order, units and directions, warnings
  std::string error;                         // the run failed for this reason (a benchmark's error)
  std::string skipped;                       // the benchmark skipped itself, with this message
  nlohmann::json context;                    // what the file says of the machine (Google Benchmark's context)
};

// Reads a result file's text. Never throws: what cannot be read becomes `error` (the whole file
// is unusable) or warnings (one entry skipped). `source` names the file in messages. JSON from
// Python and Google Benchmark may hold bare NaN, Infinity and -Infinity: they are read as
// non-finite values, which are skipped with a warning where a number was expected.
FileResults parse_result_file(std::string_view text, ResultFormat format, std::string_view source,
                              const MetricsFileOptions& options = {});

// Parses JSON that may hold the bare tokens NaN, Infinity and -Infinity outside strings (as
// Python's json module and Google Benchmark write them): they become the strings "NaN",
// "Infinity" and "-Infinity". Returns a discarded value when the text is not JSON otherwise.
nlohmann::json parse_lenient_json(std::string_view text);
// A number of lenient JSON: a JSON number, or one of the three strings above.
std::optional<double> lenient_number(const nlohmann::json& value);

// One entry of hyperfine's or pytest-benchmark's JSON, as `benchmatrix import` turns it into a task.
struct ImportedRun {
  double wall_seconds = 0;
  int exit_code = 0;
};
struct ImportedBenchmark {
  std::string name;                                        // the command, or the test's name
  std::vector<std::pair<std::string, std::string>> parameters;  // hyperfine's parameters, pytest's params
  std::vector<ImportedRun> runs;                           // hyperfine: one per process it timed
  double user_seconds = -1;                                // hyperfine's means, when given
  double system_seconds = -1;
  ReportedMetrics metrics;                                 // pytest-benchmark: its rounds, one process
};
struct ImportedFile {
  ResultFormat format = ResultFormat::Auto;
  std::vector<ImportedBenchmark> benchmarks;
  std::vector<std::string> warnings;
  nlohmann::json context;  // pytest-benchmark's machine_info
};
// Reads a hyperfine or pytest-benchmark JSON file for import. Throws UserError (naming `source`)
// when it is neither.
ImportedFile parse_import_file(std::string_view text, ResultFormat format, std::string_view source);

} // namespace bm
