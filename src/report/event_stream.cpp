#include "report/event_stream.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

UniqueFd EventStream::open(const std::string& where) {
  if (where.rfind("fd:", 0) == 0) {
    int fd = -1;
    std::string_view number = std::string_view(where).substr(3);
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), fd);
    if (error != std::errc() || end != number.data() + number.size() || fd < 3) {
      throw UserError(fmt::format("--events {}: expected fd:N with N a descriptor of 3 or more, or a file name",
                                  printable(where, 80)));
    }
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) {
      throw UserError(fmt::format("--events {}: descriptor {} is not open", where, fd));
    }
    if ((flags & O_ACCMODE) == O_RDONLY) {
      throw UserError(fmt::format("--events {}: descriptor {} is open for reading only", where, fd));
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // ours now: no task inherits it
    return UniqueFd(fd);
  }
  UniqueFd fd(::open(where.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644));
  if (!fd) {
    throw UserError(fmt::format("--events: cannot open {} for writing: {}", printable(where, 200), std::strerror(errno)));
  }
  return fd;
}

void EventStream::emit(nlohmann::json event) {
  if (m_broken) {
    return;
  }
  event["schema"] = k_schema;
  event["time"] = utc_timestamp();
  std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  // One write per line, so a reader of a pipe never sees half of one; a short write is finished.
  std::size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(m_fd.get(), line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      // The reader has gone (EPIPE: the run then stops as on Ctrl-C) or the disk is full: the
      // events end here; the results are unaffected.
      m_broken = true;
      return;
    }
    written += static_cast<std::size_t>(n);
  }
}

namespace {

nlohmann::json axes_json(const Plan& plan, std::size_t task) {
  nlohmann::json axes = nlohmann::json::object();
  for (const auto& [axis, value] : plan.assignment(task)) {
    axes[axis] = value->name;
  }
  return axes;
}

} // namespace

void EventStream::run_started(const Plan& plan, const RunHeader& header) {
  m_slot_names = header.slot_names;
  emit({{"event", "plan"},
        {"name", plan.config().name},
        {"out", header.out_dir.string()},
        {"total", header.planned},
        {"selected", header.selected},
        {"to_run", header.to_run},
        {"skipped", header.already_done},
        {"slots", header.slot_names},
        {"cpus", header.cpus},
        {"gpus", header.gpus},
        {"notices", header.notices}});
}

void EventStream::start(const Plan& plan, std::size_t task, int attempt, const std::string& slot,
                        const std::vector<int>& cores, const std::vector<int>& gpus) {
  emit({{"event", "start"},
        {"task", plan.task_id(task)},
        {"label", plan.label(task)},
        {"axes", axes_json(plan, task)},
        {"path", plan.relative_path(task)},
        {"attempt", attempt},
        {"slot", slot},
        {"cores", cores},
        {"gpus", gpus}});
}

void EventStream::task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) {
  std::string slot = lease.slot >= 0 && static_cast<std::size_t>(lease.slot) < m_slot_names.size()
                         ? m_slot_names[static_cast<std::size_t>(lease.slot)]
                         : std::to_string(lease.slot);
  start(plan, task, attempt, slot, lease.cpus, lease.gpus);
}

void EventStream::element_task_started(const Plan& plan, std::size_t task, const std::string& element, int attempt) {
  start(plan, task, attempt, element, {}, {});
}

void EventStream::process_started(const Plan& plan, std::size_t task, const ProcessStep& step) {
  emit({{"event", "process"},
        {"task", plan.task_id(task)},
        {"phase", to_string(step.phase)},
        {"index", step.index},
        {"count", step.count}});
}

void EventStream::process_ended(const Plan& plan, std::size_t task, const RunRecord& record) {
  if (record.phase != Phase::Run) {
    return;  // samples are the measured runs
  }
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [name, value] : record.metrics) {
    metrics[name].push_back(value);
  }
  emit({{"event", "sample"},
        {"task", plan.task_id(task)},
        {"run", record.index},
        {"outcome", record.outcome},
        {"wall_time", record.wall_seconds},
        {"user_time", record.user_seconds},
        {"system_time", record.system_seconds},
        {"max_rss_kib", record.max_rss_kib},
        {"metrics", metrics}});
}

void EventStream::task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                                bool will_retry) {
  nlohmann::json logs = nlohmann::json::object();
  for (const char* stream : {"stdout", "stderr"}) {
    std::filesystem::path log = dir / (std::string(stream) + ".log");
    std::error_code missing;
    if (std::filesystem::is_regular_file(std::filesystem::symlink_status(log, missing))) {
      logs[stream] = log.string();
    }
  }
  nlohmann::json event = {{"event", "end"},
                          {"task", plan.task_id(outcome.task)},
                          {"label", plan.label(outcome.task)},
                          {"status", to_string(outcome.status)},
                          {"attempt", outcome.attempt},
                          {"will_retry", will_retry},
                          {"wall_time", outcome.wall_seconds},
                          {"dir", dir.string()},
                          {"logs", logs}};
  if (!outcome.reason.empty()) {
    event["reason"] = outcome.reason;
  }
  if (!outcome.warnings.empty()) {
    event["warnings"] = outcome.warnings;
  }
  emit(std::move(event));
}

void EventStream::task_waiting(const Plan& plan, std::size_t task, const std::string& reason) {
  emit({{"event", reason.empty() ? "wait_over" : "wait"}, {"task", plan.task_id(task)}, {"reason", reason}});
}

void EventStream::gpu_removed(int gpu, const std::string& reason) {
  emit({{"event", "gpu_removed"}, {"gpu", gpu}, {"reason", reason}});
}

void EventStream::interrupted(int signal, bool forced) {
  emit({{"event", "interrupt"}, {"signal", signal}, {"forced", forced}});
}

void EventStream::run_finished(const Plan& plan, const RunSummary& summary) {
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& failure : summary.failures) {
    failures.push_back({{"task", plan.task_id(failure.task)}, {"label", plan.label(failure.task)},
                        {"reason", failure.reason}, {"dir", failure.dir.string()}});
  }
  emit({{"event", "summary"},
        {"completed", summary.completed},
        {"failed", summary.failed},
        {"interrupted", summary.interrupted},
        {"not_started", summary.not_started},
        {"skipped", summary.skipped_done},
        {"skipped_by_benchmark", summary.skipped},
        {"wall_time", summary.wall_seconds},
        {"was_interrupted", summary.was_interrupted},
        {"failures", failures}});
}

} // namespace bm
