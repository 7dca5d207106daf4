#pragma once

#include <cstdio>
#include <functional>
#include <string_view>

#include "report/status.hpp"

namespace bm {

struct ConsoleOptions {
  bool verbose = false;  // also a line when each task starts
  bool quiet = false;    // only failures, interrupts and the summary
  bool color = false;    // ANSI colours for ok / FAIL / retry
};

// ANSI SGR sequences, or nothing when colour is off.
struct Colors {
  const char* ok = "";
  const char* fail = "";
  const char* warn = "";
  const char* bold = "";
  const char* dim = "";
  const char* reset = "";
  static Colors of(bool color);
};

// Streams a run to a terminal or a log (seed 000): a header, one line per task as it finishes,
// and a summary that says which tasks failed, why (with the last lines of their stderr) and
// where their logs are. Writes to a stream, or hands each piece of text to a sink (the live
// display prints it above its block).
class ConsoleStatus final : public Status {
public:
  using Sink = std::function<void(std::string_view)>;
  ConsoleStatus(std::FILE* out, ConsoleOptions options) : m_out(out), m_options(options) {}
  ConsoleStatus(Sink sink, ConsoleOptions options) : m_sink(std::move(sink)), m_options(options) {}

  void run_started(const Plan& plan, const RunHeader& header) override;
  void task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) override;
  void task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                     bool will_retry) override;
  void task_waiting(const Plan& plan, std::size_t task, const std::string& reason) override;
  void gpu_removed(int gpu, const std::string& reason) override;
  void interrupted(int signal, bool forced) override;
  void run_finished(const Plan& plan, const RunSummary& summary) override;

private:
  void emit(std::string_view text);

  std::FILE* m_out = nullptr;
  Sink m_sink;
  ConsoleOptions m_options;
  std::size_t m_total = 0;
  std::size_t m_finished = 0;
  int m_width = 1;
};

} // namespace bm
