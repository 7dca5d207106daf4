#include "report/progress.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "stats/descriptive.hpp"

namespace bm {

std::string format_eta(double seconds) {
  auto whole = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  if (whole >= 3600) {
    return fmt::format("{}h{:02}m", whole / 3600, (whole % 3600) / 60);
  }
  if (whole >= 60) {
    return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  }
  return fmt::format("{}s", whole);
}

RunProgress::RunProgress(const Plan& plan, std::unordered_map<std::string, double> history, TimePoint start)
    : m_plan(plan), m_history(std::move(history)), m_start(start), m_state(plan.size(), k_outside) {}

void RunProgress::run_started(const RunHeader& header) {
  std::lock_guard lock(m_mutex);
  m_slot_names = header.slot_names;
  m_tasks = header.tasks;
  m_skipped = header.already_done;
  for (std::size_t task : m_tasks) {
    m_state[task] = k_pending;
  }
  m_dirty = true;
}

void RunProgress::task_started(std::size_t task, const Lease& lease, int attempt, TimePoint now) {
  Running running;
  running.task = task;
  running.slot = lease.slot >= 0 && static_cast<std::size_t>(lease.slot) < m_slot_names.size()
                     ? m_slot_names[static_cast<std::size_t>(lease.slot)]
                     : std::to_string(lease.slot);
  running.cpus = lease.cpus;
  running.gpus = lease.gpus;
  running.attempt = attempt;
  running.started = now;
  std::lock_guard lock(m_mutex);
  m_state[task] = k_running;
  m_running.push_back(std::move(running));
}

void RunProgress::process_started(std::size_t task, const ProcessStep& step) {
  std::lock_guard lock(m_mutex);
  for (auto& running : m_running) {
    if (running.task == task) {
      running.step = step;
      running.step_known = true;
    }
  }
}

void RunProgress::task_waiting(std::size_t task, const std::string& reason) {
  std::lock_guard lock(m_mutex);
  for (auto& running : m_running) {
    if (running.task == task) {
      running.waiting = reason;
    }
  }
}

void RunProgress::task_ended(std::size_t task) {
  std::lock_guard lock(m_mutex);
  auto found = std::find_if(m_running.begin(), m_running.end(), [&](const Running& running) { return running.task == task; });
  if (found != m_running.end()) {
    m_running.erase(found);
  }
}

void RunProgress::task_finished(const TaskOutcome& outcome, bool will_retry) {
  task_ended(outcome.task);  // a task that never started a process ends here
  std::lock_guard lock(m_mutex);
  if (will_retry) {
    m_state[outcome.task] = k_pending;  // it runs again
    return;
  }
  m_state[outcome.task] = k_finished;
  switch (outcome.status) {
  case TaskStatus::Succeeded:
  case TaskStatus::Skipped:
    ++m_done;
    m_finished.emplace_back(outcome.task, outcome.wall_seconds);
    break;
  case TaskStatus::Failed:
    ++m_failed;
    break;
  case TaskStatus::Interrupted:
    ++m_interrupted;
    break;
  }
  m_dirty = true;
}

void RunProgress::estimate(TimePoint now) {
  if (m_workload.empty() && !m_tasks.empty()) {
    // Every axis value but the first's names a task's workload.
    std::unordered_map<std::string, std::uint32_t> ids;
    m_workload.assign(m_plan.size(), 0);
    for (std::size_t task : m_tasks) {
      std::string key;
      bool first = true;
      for (const auto& [axis, value] : m_plan.assignment(task)) {
        if (!first) {
          key += value->name;
          key += '\x1f';
        }
        first = false;
      }
      auto [it, added] = ids.try_emplace(key, static_cast<std::uint32_t>(ids.size()));
      m_workload[task] = it->second;
    }
    m_workloads = ids.size();
  }
  std::vector<std::vector<double>> by_workload(m_workloads);
  std::vector<double> all;
  all.reserve(m_finished.size());
  for (const auto& [task, seconds] : m_finished) {
    by_workload[m_workload[task]].push_back(seconds);
    all.push_back(seconds);
  }
  std::vector<std::optional<double>> workload_median(m_workloads);
  std::optional<double> overall;
  if (!all.empty()) {
    overall = median_of(all);
  }
  auto expected = [&](std::size_t task) -> std::optional<double> {
    if (auto known = m_history.find(m_plan.task_id(task)); known != m_history.end()) {
      return known->second;
    }
    std::uint32_t workload = m_workload[task];
    if (!by_workload[workload].empty()) {
      if (!workload_median[workload]) {
        workload_median[workload] = median_of(by_workload[workload]);
      }
      return workload_median[workload];
    }
    return overall;
  };
  double left = 0;
  m_pending_at_estimate = 0;
  for (std::size_t task : m_tasks) {
    if (m_state[task] == k_pending) {
      ++m_pending_at_estimate;
      std::optional<double> seconds = expected(task);
      if (!seconds) {
        m_work_left.reset();
        m_estimated_at = now;
        m_dirty = false;
        return;
      }
      left += *seconds;
    }
  }
  for (const auto& running : m_running) {
    std::optional<double> seconds = expected(running.task);
    if (!seconds) {
      m_work_left.reset();
      m_estimated_at = now;
      m_dirty = false;
      return;
    }
    left += std::max(0.0, *seconds - std::chrono::duration<double>(now - running.started).count());
  }
  m_work_left = left;
  m_estimated_at = now;
  m_dirty = false;
}

RunProgress::Snapshot RunProgress::snapshot(TimePoint now) {
  std::lock_guard lock(m_mutex);
  // The estimate is remade when a task finished, at most once a second; in between it counts down.
  if (m_dirty && (m_work_left == std::nullopt || now - m_estimated_at >= std::chrono::seconds(1))) {
    estimate(now);
  }
  Snapshot snapshot;
  snapshot.total = m_tasks.size();
  snapshot.done = m_done;
  snapshot.failed = m_failed;
  snapshot.interrupted = m_interrupted;
  snapshot.skipped = m_skipped;
  snapshot.running = m_running;  // in start order: the oldest first
  for (auto& running : snapshot.running) {
    running.label = m_plan.label(running.task);  // made for the few shown, not on every start
  }
  snapshot.elapsed = std::chrono::duration<double>(now - m_start).count();
  snapshot.slots = std::max<std::size_t>(m_slot_names.size(), 1);
  if (m_work_left) {
    double since = std::chrono::duration<double>(now - m_estimated_at).count();
    // The work left runs on every slot while tasks wait; at the end, on those still busy.
    double slots = static_cast<double>(m_pending_at_estimate > 0 ? snapshot.slots
                                                                 : std::max<std::size_t>(m_running.size(), 1));
    snapshot.eta = std::max(0.0, *m_work_left / slots - since);
  }
  return snapshot;
}

std::string RunProgress::status_line(const Snapshot& s) {
  std::string line = fmt::format("{}/{} done", s.done + s.failed + s.interrupted, s.total);
  line += fmt::format(", {} running", s.running.size());
  if (s.failed > 0) {
    line += fmt::format(", {} failed", s.failed);
  }
  if (s.interrupted > 0) {
    line += fmt::format(", {} interrupted", s.interrupted);
  }
  if (s.skipped > 0) {
    line += fmt::format(", {} skipped", s.skipped);
  }
  line += fmt::format(", {} elapsed, ", format_eta(s.elapsed));
  line += s.eta ? fmt::format("about {} left", format_eta(*s.eta)) : "? left";
  return line;
}

} // namespace bm
