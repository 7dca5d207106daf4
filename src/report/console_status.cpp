#include "report/console_status.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "collect/metrics.hpp"
#include "stats/descriptive.hpp"
#include "resources/topology.hpp"
#include "util/duration.hpp"
#include "util/strings.hpp"
#include "util/console.hpp"

namespace bm {

namespace {

// The number a person wants to see first: the median of the task's first own metric, else of
// its wall time.
std::string headline(const TaskOutcome& outcome) {
  std::string metric;
  for (const auto& run : outcome.runs) {
    if (run.phase == Phase::Run && !run.metrics.empty()) {
      metric = run.metrics.front().first;
      break;
    }
  }
  std::vector<double> values;
  for (const auto& run : outcome.runs) {
    if (run.phase != Phase::Run) {
      continue;
    }
    if (metric.empty()) {
      values.push_back(run.wall_seconds);
    } else {
      for (const auto& [name, value] : run.metrics) {
        if (name == metric) {
          values.push_back(value);
        }
      }
    }
  }
  if (values.empty()) {
    return {};
  }
  size_t n = values.size();
  double median = median_of(values);
  std::string runs = fmt::format("{} run{}", n, n == 1 ? "" : "s");
  if (metric.empty()) {
    return fmt::format("wall {} ({})", format_seconds(median), runs);
  }
  auto info = outcome.metric_info.find(metric);
  std::string unit = info == outcome.metric_info.end() ? "" : info->second.unit;
  if (unit == "s") {
    return fmt::format("{} {} ({})", metric, format_seconds(median), runs);
  }
  return fmt::format("{} {:.4g}{}{} ({})", metric, median, unit.empty() ? "" : " ", unit, runs);
}

} // namespace

void ConsoleStatus::run_started(const Plan& plan, const RunHeader& header) {
  m_total = header.to_run;
  m_width = static_cast<int>(std::to_string(std::max<std::size_t>(m_total, 1)).size());
  for (const auto& notice : header.notices) {
    say(m_out, "note: {}\n", notice);
  }
  std::string selection;
  if (header.selected != header.planned) {
    selection = fmt::format(" ({} of {} selected by --filter)", header.selected, header.planned);
  }
  if (header.already_done > 0) {
    say(m_out, "{}: {} task{} already done, skipped (use --force to run them again){}\n", plan.config().name,
               header.already_done, header.already_done == 1 ? "" : "s", selection);
    selection.clear();
  }
  std::string where = header.pinned ? fmt::format("core{} {}", header.cpus.size() == 1 ? "" : "s",
                                                  format_cpu_list(header.cpus))
                                    : fmt::format("unpinned on CPUs {}", format_cpu_list(header.cpus));
  if (!header.gpus.empty()) {
    std::vector<std::string> gpus;
    for (int gpu : header.gpus) {
      gpus.push_back(std::to_string(gpu));
    }
    where += fmt::format(", GPUs {}", fmt::join(gpus, ","));
  }
  say(m_out, "Running {} task{} on {} slot{} ({}){} -> {}\n", header.to_run, header.to_run == 1 ? "" : "s",
             header.slots, header.slots == 1 ? "" : "s", where, selection, header.out_dir.string());
  console_flush(m_out);
}

void ConsoleStatus::task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) {
  if (!m_verbose) {
    return;
  }
  say(m_out, "  start {} (slot {}, cpus {}{})\n", plan.label(task), lease.slot, format_cpu_list(lease.cpus),
             attempt > 1 ? fmt::format(", attempt {}", attempt) : "");
  console_flush(m_out);
}

void ConsoleStatus::task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                                  bool will_retry) {
  if (!will_retry) {
    ++m_finished;
  }
  std::string counter = fmt::format("[{:>{}}/{}]", m_finished, m_width, m_total);
  std::string label = plan.label(outcome.task);
  switch (outcome.status) {
  case TaskStatus::Succeeded:
    say(m_out, "{} ok    {}  {}\n", counter, label, headline(outcome));
    break;
  case TaskStatus::Failed:
  {
    // Logs exist only for streams the task wrote to.
    std::vector<std::string> logs;
    for (const char* name : {"stderr.log", "stdout.log"}) {
      if (std::filesystem::exists(dir / name)) {
        logs.push_back((dir / name).string());
      }
    }
    say(m_out, "{} {} {}  {}{}\n    {}\n", counter, will_retry ? "retry" : "FAIL ", label, outcome.reason,
               will_retry ? fmt::format(" (attempt {} failed, retrying)", outcome.attempt) : "",
               logs.empty() ? fmt::format("no output; folder: {}", dir.string())
                            : fmt::format("logs: {}", join(logs, " ")));
    break;
  }
  case TaskStatus::Interrupted:
    say(m_out, "{} stop  {}  {}\n", counter, label, outcome.reason);
    break;
  }
  for (const auto& warning : outcome.warnings) {
    say(m_out, "    warning: {}\n", warning);
  }
  console_flush(m_out);
}

void ConsoleStatus::interrupted(int signal, bool forced) {
  const char* name = sigabbrev_np(signal);
  say(m_out, "\n{}: {}\n", name ? fmt::format("SIG{}", name) : std::to_string(signal),
             forced ? "killing every running task now" : "stopping: no new tasks; running ones are being ended "
                                                         "(interrupt again to kill them at once)");
  console_flush(m_out);
}

void ConsoleStatus::run_finished(const Plan& plan, const RunSummary& summary) {
  say(m_out, "\n{}: {} succeeded, {} failed", plan.config().name, summary.completed, summary.failed);
  if (summary.interrupted > 0 || summary.not_started > 0) {
    say(m_out, ", {} interrupted, {} not started", summary.interrupted, summary.not_started);
  }
  if (summary.skipped_done > 0) {
    say(m_out, ", {} skipped (already done)", summary.skipped_done);
  }
  say(m_out, " in {}\n", format_seconds(summary.wall_seconds));
  if (!summary.failures.empty()) {
    say(m_out, "Failed tasks (run the same command again to retry only these):\n");
    for (const auto& failure : summary.failures) {
      say(m_out, "  {}: {}\n    {}\n", plan.label(failure.task), failure.reason, failure.dir.string());
    }
  }
  console_flush(m_out);
}

} // namespace bm
