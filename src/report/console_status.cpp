#include "report/console_status.hpp"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "collect/metrics.hpp"
#include "report/tables.hpp"
#include "stats/descriptive.hpp"
#include "resources/topology.hpp"
#include "util/duration.hpp"
#include "util/strings.hpp"
#include "util/console.hpp"
#include "util/directory.hpp"

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
  size_t processes = 0;
  for (const auto& run : outcome.runs) {
    if (run.phase != Phase::Run) {
      continue;
    }
    ++processes;
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
  double median = median_of(values);
  // Runs are processes; a process may report several samples (repetitions inside it).
  std::string runs = fmt::format("{} run{}", processes, processes == 1 ? "" : "s");
  if (values.size() != processes) {
    runs += fmt::format(", {} samples", values.size());
  }
  if (metric.empty()) {
    return fmt::format("wall {} ({})", format_seconds(median), runs);
  }
  auto info = outcome.metric_info.find(metric);
  std::string unit = info == outcome.metric_info.end() ? "" : info->second.unit;
  return fmt::format("{} {} ({})", metric, format_quantity(median, unit), runs);
}

// The last lines of a failed task's stderr.log, read through its folder without following a link
// and never more than its last 4 KiB: what a person needs to see why it failed.
std::vector<std::string> stderr_tail(const std::filesystem::path& dir, std::size_t lines) {
  std::vector<std::string> tail;
  try {
    UniqueFd file = Directory::open(dir).open_file("stderr.log", O_RDONLY);
    struct stat info {};
    if (!file || ::fstat(file.get(), &info) != 0 || info.st_size <= 0) {
      return tail;
    }
    std::size_t size = static_cast<std::size_t>(info.st_size);
    std::size_t length = std::min<std::size_t>(size, 4096);
    std::string text(length, '\0');
    ssize_t got = ::pread(file.get(), text.data(), length, static_cast<off_t>(size - length));
    if (got <= 0) {
      return tail;
    }
    text.resize(static_cast<std::size_t>(got));
    std::vector<std::string> all = split(text, '\n');
    if (length < size && !all.empty()) {
      all.erase(all.begin());  // the first line read is likely cut
    }
    while (!all.empty() && trim(all.back()).empty()) {
      all.pop_back();
    }
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
      tail.push_back(printable(all[i], 200));
    }
  } catch (const std::exception&) {
    // no log, or one that is not a regular file: nothing to show
  }
  return tail;
}

} // namespace

Colors Colors::of(bool color) {
  if (!color) {
    return {};
  }
  return {"\x1b[32m", "\x1b[1;31m", "\x1b[33m", "\x1b[1m", "\x1b[2m", "\x1b[0m"};
}

void ConsoleStatus::emit(std::string_view text) {
  if (m_sink) {
    m_sink(text);
  } else {
    console_write(m_out, text);
    console_flush(m_out);
  }
}

void ConsoleStatus::run_started(const Plan& plan, const RunHeader& header) {
  m_total = header.to_run;
  m_width = static_cast<int>(std::to_string(std::max<std::size_t>(m_total, 1)).size());
  std::string text;
  for (const auto& notice : header.notices) {
    text += fmt::format("note: {}\n", notice);
  }
  std::string selection;
  if (header.selected != header.planned) {
    selection = fmt::format(" ({} of {} selected by {})", header.selected, header.planned, header.selected_by);
  }
  if (header.already_done > 0) {
    text += fmt::format("{}: {} task{} already done, skipped (use --force to run them again){}\n", plan.config().name,
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
  text += fmt::format("Running {} task{} on {} slot{} ({}){} -> {}\n", header.to_run, header.to_run == 1 ? "" : "s",
                      header.slots, header.slots == 1 ? "" : "s", where, selection, header.out_dir.string());
  emit(text);
}

void ConsoleStatus::task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) {
  if (!m_options.verbose || m_options.quiet) {
    return;
  }
  emit(fmt::format("  start {} (slot {}, cpus {}{}{})\n", plan.label(task), lease.slot, format_cpu_list(lease.cpus),
                   lease.gpus.empty() ? "" : fmt::format(", GPUs {}", format_cpu_list(lease.gpus)),
                   attempt > 1 ? fmt::format(", attempt {}", attempt) : ""));
}

void ConsoleStatus::task_waiting(const Plan& plan, std::size_t task, const std::string& reason) {
  // A cool-down is routine (the live display shows it); a hot GPU is worth a line.
  if (reason.empty() || m_options.quiet || (!m_options.verbose && reason.starts_with("cool-down"))) {
    return;
  }
  emit(fmt::format("  wait  {}: {}\n", plan.label(task), reason));
}

void ConsoleStatus::gpu_removed(int gpu, const std::string& reason) {
  Colors c = Colors::of(m_options.color);
  emit(fmt::format("{}GPU {} leaves the pool{}: {}; its waiting tasks go to the other GPUs\n", c.warn, gpu, c.reset, reason));
}

void ConsoleStatus::task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                                  bool will_retry) {
  if (!will_retry) {
    ++m_finished;
  }
  Colors c = Colors::of(m_options.color);
  std::string counter = fmt::format("[{:>{}}/{}]", m_finished, m_width, m_total);
  std::string label = plan.label(outcome.task);
  std::string text;
  switch (outcome.status) {
  case TaskStatus::Succeeded:
    if (m_options.quiet) {
      return;
    }
    text = fmt::format("{} {}ok{}    {}  {}\n", counter, c.ok, c.reset, label, headline(outcome));
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
    text = fmt::format("{} {}{}{} {}  {}{}\n", counter, will_retry ? c.warn : c.fail, will_retry ? "retry" : "FAIL ",
                       c.reset, label, outcome.reason,
                       will_retry ? fmt::format(" (attempt {} failed, retrying)", outcome.attempt) : "");
    for (const auto& line : stderr_tail(dir, 5)) {
      text += fmt::format("    {}|{} {}\n", c.dim, c.reset, line);
    }
    text += fmt::format("    {}\n", logs.empty() ? fmt::format("no output; folder: {}", dir.string())
                                                  : fmt::format("logs: {}", join(logs, " ")));
    break;
  }
  case TaskStatus::Interrupted:
    text = fmt::format("{} {}stop{}  {}  {}\n", counter, c.warn, c.reset, label, outcome.reason);
    break;
  case TaskStatus::Skipped:
    text = fmt::format("{} {}skip{}  {}  {}\n", counter, c.warn, c.reset, label, outcome.reason);
    break;
  }
  for (const auto& warning : outcome.warnings) {
    text += fmt::format("    {}warning:{} {}\n", c.warn, c.reset, warning);
  }
  emit(text);
}

void ConsoleStatus::interrupted(int signal, bool forced) {
  const char* name = sigabbrev_np(signal);
  emit(fmt::format("\n{}: {}\n", name ? fmt::format("SIG{}", name) : std::to_string(signal),
                   forced ? "killing every running task now"
                          : "stopping: no new tasks; running ones are being ended "
                            "(interrupt again to kill them at once)"));
}

void ConsoleStatus::run_finished(const Plan& plan, const RunSummary& summary) {
  Colors c = Colors::of(m_options.color);
  std::string text = fmt::format("\n{}{}: {} succeeded, {}{} failed{}", c.bold, plan.config().name, summary.completed,
                                 summary.failed > 0 ? c.fail : "", summary.failed, c.reset);
  if (summary.interrupted > 0 || summary.not_started > 0) {
    text += fmt::format(", {} interrupted, {} not started", summary.interrupted, summary.not_started);
  }
  if (summary.skipped > 0) {
    text += fmt::format(", {} skipped by the benchmark", summary.skipped);
  }
  if (summary.skipped_done > 0) {
    text += fmt::format(", {} skipped (already done)", summary.skipped_done);
  }
  text += fmt::format(" in {}\n", format_seconds(summary.wall_seconds));
  if (!summary.stop_reason.empty()) {
    text += fmt::format("{}Stopped:{} {}\n", c.fail, c.reset, summary.stop_reason);
  }
  if (!summary.failures.empty()) {
    text += "Failed tasks (run the same command again to retry only these):\n";
    for (const auto& failure : summary.failures) {
      text += fmt::format("  {}: {}\n    {}\n", plan.label(failure.task), failure.reason, failure.dir.string());
    }
  }
  emit(text);
}

} // namespace bm
