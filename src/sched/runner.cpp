#include "sched/runner.hpp"

#include <algorithm>
#include <csignal>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace bm {

Runner::Runner(const Plan& plan, Store& store, Executor& executor, ResourcePool& pool, Status& status,
               RunnerOptions options)
    : m_plan(plan), m_store(store), m_executor(executor), m_pool(pool), m_status(status),
      m_options(std::move(options)) {
  // Every real start is journaled with the process's identity, so that a run after a crash can
  // find and end what this one left running (see end_orphans).
  m_executor.set_spawn_listener(
      [this](std::uint64_t token, int pid, std::uint64_t start_ticks, const std::vector<std::string>& cgroups) {
        auto found = m_running.find(token);
        std::string task = found == m_running.end() ? "" : found->second.group->task_id(found->second.attempt);
        if (found != m_running.end() && found->second.waiting) {
          found->second.waiting = false;
          m_status.task_waiting(m_plan, found->second.group->attempt(found->second.attempt).task(), "");
        }
        if (found != m_running.end() && m_options.monitor) {
          Running& running = found->second;
          m_options.monitor->process_started(running.group->attempt(running.attempt).task(), pid, cgroups);
          if (running.measured) {
            // Energy and throttling of a measured run: counters at its real start (after any wait).
            running.gpu_counters.clear();
            for (int gpu : running.group->lease().gpus) {
              running.gpu_counters.push_back(m_options.monitor->counters(gpu));
            }
          }
        }
        nlohmann::json event = {{"event", "process-started"}, {"task_id", task}, {"pid", pid}, {"start_ticks", start_ticks}};
        if (!cgroups.empty()) {
          event["cgroups"] = cgroups;
        }
        m_store.record(std::move(event));
      });
}

Runner::~Runner() {
  m_executor.set_spawn_listener(nullptr);
}

RunSummary Runner::run(const std::vector<std::size_t>& tasks, RunSummary summary) {
  m_summary = std::move(summary);
  auto started = std::chrono::steady_clock::now();
  submit_all(tasks);
  // The loop: fill free capacity, then write down what ended, then wait for one event. Every
  // decision happens in fill() and in the handlers; wait() is the only place the program blocks.
  // Files are written after the free slots got their next process, so a slot's hand-off from one
  // process to the next costs no file I/O: the writing overlaps the next task's run.
  for (;;) {
    check_gpus();
    if (m_interrupts == 0 && !m_halted) {
      fill();
    }
    bool retrying = persist(m_executor.running() == 0);
    if (!m_executor.has_pending()) {
      prepare_ahead();
    }
    m_store.commit();
    if (m_executor.running() == 0) {
      if (retrying && m_interrupts == 0) {
        continue;  // the last attempt's retry was queued just now: start it
      }
      break;
    }
    ExecutorEvent event = m_executor.wait();
    if (event.kind == ExecutorEvent::Kind::Interrupted) {
      on_interrupt(event.signal);
    } else {
      on_process_ended(event.result);
    }
  }
  for (const QueuedTask& queued : m_scheduler.drain()) {
    m_summary.not_started += queued.group == QueuedTask::k_single ? 1 : m_groups[queued.group].size();
  }
  m_summary.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  m_summary.was_interrupted = m_interrupts > 0;
  return m_summary;
}

void Runner::submit_all(const std::vector<std::size_t>& tasks) {
  const Config& config = m_plan.config();
  if (!config.interleave) {
    for (std::size_t task : tasks) {
      m_scheduler.submit(task, m_plan.priority(task));
    }
    return;
  }
  // The variants compared with one baseline share every other axis value: they form a group
  // that runs interleaved in one slot. Tasks without the baseline axis run alone.
  const std::string& axis = config.analysis.baseline_axis;
  std::map<std::string, std::vector<std::size_t>> groups;
  struct Entry {
    std::optional<std::string> key;  // the group's key, or none for a task without the axis
    std::size_t task;
  };
  std::vector<Entry> order;  // groups (at their first task) and lone tasks, in plan order
  for (std::size_t task : tasks) {
    std::string key;
    bool has_axis = false;
    for (const auto& [name, value] : m_plan.assignment(task)) {
      if (name == axis) {
        has_axis = true;
      } else {
        key += name + '\x1f' + value->name + '\x1e';
      }
    }
    if (!has_axis) {
      order.push_back({std::nullopt, task});
      continue;
    }
    // An empty key is a group too: a matrix whose only axis is the baseline's.
    if (groups[key].empty()) {
      order.push_back({key, task});
    }
    groups[key].push_back(task);
  }
  for (const auto& [key, first] : order) {
    const auto& members = key ? groups[*key] : std::vector<std::size_t>{first};
    if (members.size() == 1) {
      m_scheduler.submit(first, m_plan.priority(first));
      continue;
    }
    Priority priority = Priority::Low;
    for (std::size_t task : members) {
      priority = std::min(priority, m_plan.priority(task));
    }
    m_scheduler.submit(first, priority, 1, static_cast<std::uint32_t>(m_groups.size()));
    m_groups.push_back(members);
  }
}

void Runner::fill() {
  while (auto next = m_scheduler.peek()) {
    std::vector<std::size_t> tasks =
        next->group == QueuedTask::k_single ? std::vector<std::size_t>{next->task} : m_groups[next->group];
    ResourceRequest request{0, 0};
    std::vector<int> avoid;
    for (std::size_t task : tasks) {
      ResolvedSettings settings = m_plan.settings(task);
      request.cpus = std::max(request.cpus, settings.cpus);
      request.gpus = std::max(request.gpus, settings.gpus);
      if (auto failed = m_failed_on.find(task); failed != m_failed_on.end()) {
        avoid.insert(avoid.end(), failed->second.begin(), failed->second.end());
      }
    }
    auto lease = m_pool.acquire(request, avoid);
    if (!lease && request.gpus > 0 && !m_removed_gpus.empty() && !m_pool.can_ever_fit(request)) {
      // Its GPUs left the pool: it cannot start on this machine any more; the others go on.
      m_scheduler.pop();
      m_summary.not_started += tasks.size();
      if (m_summary.stop_reason.empty()) {
        m_summary.stop_reason = fmt::format("no usable GPU left (GPU {} left the pool): tasks that need a GPU were not started",
                                            fmt::join(m_removed_gpus, ", "));
      }
      continue;
    }
    if (!lease) {
      return;  // strict order: wait for resources rather than let later tasks jump ahead
    }
    m_scheduler.pop();
    if (next->attempt > 1) {
      persist(true);  // a retry's previous attempt is written down before the retry clears its folder
    }
    std::string slot = m_pool.slot_name(lease->slot);
    std::vector<std::unique_ptr<TaskAttempt>> attempts;
    for (std::size_t task : tasks) {
      std::string warning;
      bool usable = m_store.begin_task(m_plan, task, next->attempt, slot, lease->cpus, lease->gpus, warning);
      m_status.task_started(m_plan, task, *lease, next->attempt);
      auto attempt = std::make_unique<TaskAttempt>(m_plan, task, next->attempt, *lease, slot,
                                                   m_store.folder(m_plan, task), m_options.attempt);
      if (!usable) {
        attempt->fail_before_start(warning);  // nothing of it runs; the others go on
      } else {
        if (!warning.empty()) {
          attempt->add_warning(warning);
        }
        m_to_describe.push_back(task);
        if (m_options.monitor && m_options.monitor->enabled()) {
          TaskFolderRef folder = m_store.folder(m_plan, task);
          m_options.monitor->begin_task(task, lease->gpus, folder.tasks_fd, folder.relative + "/monitor.csv");
        }
      }
      attempts.push_back(std::move(attempt));
      ++m_summary.attempts;
    }
    advance(std::make_unique<AttemptGroup>(std::move(attempts), *lease, m_plan.config().interleave_seed), true);
  }
}

void Runner::advance(std::unique_ptr<AttemptGroup> group, bool first) {
  for (auto& attempt : group->take_finished()) {
    finish_attempt(std::move(attempt));
  }
  if (m_halted && m_options.halt == RunnerOptions::Halt::Now) {
    group->stop();  // halted just now by one of its attempts: its other attempts start nothing more
    for (auto& attempt : group->take_finished()) {
      finish_attempt(std::move(attempt));
    }
  }
  std::uint64_t token = m_next_token++;
  auto next = group->next_process(token);
  if (!next) {
    BM_ASSERT(group->empty());
    m_pool.release(group->lease());
    m_slot_free_since[group->lease().slot] = std::chrono::steady_clock::now();
    return;
  }
  // Registered before the start, so the spawn listener can name the task.
  const TaskAttempt& attempt = group->attempt(next->first);
  std::size_t task = attempt.task();
  ProcessStep step = attempt.running_step();
  ProcessSpec& spec = next->second;
  const Lease& lease = group->lease();
  bool waiting = false;
  auto free_since = m_slot_free_since.find(lease.slot);
  if (first && m_options.cool_down.count() > 0 && free_since != m_slot_free_since.end()) {
    // The slot's previous task ended just now: its heat (and its caches) settle first.
    auto elapsed = std::chrono::steady_clock::now() - free_since->second;
    if (elapsed < m_options.cool_down) {
      spec.start_delay = std::max(spec.start_delay, std::chrono::duration_cast<std::chrono::nanoseconds>(m_options.cool_down - elapsed));
      m_status.task_waiting(m_plan, task, fmt::format("cool-down {:.1f}s", std::chrono::duration<double>(spec.start_delay).count()));
      waiting = true;
    }
  }
  bool measured = step.phase == Phase::Run;
  if (measured && m_options.thermal_limit && m_options.monitor && !lease.gpus.empty()) {
    // A measured run starts on GPUs at most thermal_limit hot and not slowed down for heat.
    if (auto hot = too_hot(lease.gpus)) {
      waiting = true;
      m_status.task_waiting(m_plan, task, *hot);
      m_store.record({{"event", "thermal-wait"}, {"task_id", m_plan.task_id(task)}, {"reason", *hot}});
    }
    spec.ready = [this, gpus = lease.gpus] { return !too_hot(gpus); };
  }
  m_running.emplace(token, Running{std::move(group), next->first, measured, waiting, {}});
  m_executor.start(spec);
  ++m_summary.processes;
  m_status.process_started(m_plan, task, step);
}

void Runner::on_process_ended(const ProcessResult& ended) {
  auto found = m_running.find(ended.token);
  BM_ASSERT(found != m_running.end());
  Running running = std::move(found->second);
  m_running.erase(found);
  ProcessResult result = ended;
  if (m_options.monitor) {
    m_options.monitor->process_ended(running.group->attempt(running.attempt).task());
    const std::vector<int>& gpus = running.group->lease().gpus;
    if (running.measured && !gpus.empty() && running.gpu_counters.size() == gpus.size() && result.succeeded()) {
      std::optional<double> energy = 0.0;
      std::optional<double> throttled = 0.0;
      for (std::size_t i = 0; i < gpus.size(); ++i) {
        GpuCounters now = m_options.monitor->counters(gpus[i]);
        const GpuCounters& before = running.gpu_counters[i];
        if (energy && now.energy_mj && before.energy_mj && *now.energy_mj >= *before.energy_mj) {
          *energy += static_cast<double>(*now.energy_mj - *before.energy_mj) / 1000.0;
        } else {
          energy.reset();
        }
        auto held = [](const std::optional<std::uint64_t>& after, const std::optional<std::uint64_t>& start) {
          return after && start && *after >= *start ? static_cast<double>(*after - *start) / 1e9 : 0.0;
        };
        if (throttled && (now.power_violation_ns || now.thermal_violation_ns)) {
          *throttled = std::max(*throttled, held(now.power_violation_ns, before.power_violation_ns) +
                                                held(now.thermal_violation_ns, before.thermal_violation_ns));
        } else {
          throttled.reset();
        }
      }
      if (energy) {
        result.gpu_metrics.emplace_back("gpu_energy", *energy);
      }
      if (throttled) {
        result.gpu_metrics.emplace_back("gpu_throttle_time", *throttled);
      }
    }
  }
  running.group->process_ended(running.attempt, result);
  const TaskAttempt& attempt = running.group->attempt(running.attempt);
  m_status.process_ended(m_plan, attempt.task(), attempt.last_run());
  if (m_interrupts > 0 || (m_halted && m_options.halt == RunnerOptions::Halt::Now)) {
    // The run is being interrupted (or halted now): start nothing more for these tasks.
    running.group->stop();
  }
  advance(std::move(running.group));
}

void Runner::on_interrupt(int signal) {
  ++m_interrupts;
  m_summary.interrupt_signal = signal;
  m_status.interrupted(signal, m_interrupts > 1);
  m_store.record({{"event", "run-interrupted"}, {"signal", signal}, {"forced", m_interrupts > 1}});
  // First interrupt: TERM to every run's group, KILL after its grace period. Second: KILL now.
  m_executor.terminate_all(m_interrupts > 1 ? SIGKILL : SIGTERM);
}

bool Runner::persist(bool all) {
  // Oldest first; between two tasks' files, a process that ended (a slot to refill) comes first
  // unless `all`: a file write held up by the file system then delays no hand-off but this one.
  std::size_t described = 0;
  for (; described < m_to_describe.size() && (all || described == 0 || !m_executor.has_pending()); ++described) {
    m_store.describe_task(m_plan, m_to_describe[described]);
  }
  m_to_describe.erase(m_to_describe.begin(), m_to_describe.begin() + static_cast<long>(described));
  if (!m_to_describe.empty()) {
    return false;  // finished attempts are written after their task.json
  }
  bool retrying = false;
  std::size_t written = 0;
  for (; written < m_finished.size() && (all || written == 0 || !m_executor.has_pending()); ++written) {
    Finished& finished = m_finished[written];
    if (m_options.monitor && m_options.monitor->enabled() && finished.outcome.monitor.is_null()) {
      finished.outcome.monitor = m_options.monitor->end_task(finished.outcome.task);
    }
    retrying = decide(finished) || retrying;
    m_store.finish_task(m_plan, finished.outcome, m_options.context);
    m_status.task_finished(m_plan, finished.outcome, m_store.task_dir(m_plan, finished.outcome.task),
                           finished.will_retry);
  }
  m_finished.erase(m_finished.begin(), m_finished.begin() + static_cast<long>(written));
  return retrying;
}

void Runner::prepare_ahead() {
  // The folders of the tasks that start next are made now, while processes run, so that a
  // start costs no mkdir. Bounded: at most one per running process, and one more.
  std::size_t count = std::min<std::size_t>(m_executor.running() + 1, 64);
  for (const QueuedTask& queued : m_scheduler.next(count)) {
    if (queued.group == QueuedTask::k_single && queued.attempt == 1) {
      m_store.prepare_folder(m_plan, queued.task);
    }
  }
}

void Runner::finish_attempt(std::unique_ptr<TaskAttempt> attempt) {
  // Only taken here: checking the task's folder, counting and retrying come in persist(), after
  // the freed slot has its next process.
  m_status.task_ended(m_plan, attempt->task());
  if (m_options.monitor) {
    m_options.monitor->stop_task(attempt->task());  // its rows and summary are written in persist()
  }
  m_finished.push_back({attempt->take_outcome(), false, false});
  const TaskOutcome& outcome = m_finished.back().outcome;
  if (outcome.status == TaskStatus::Failed && !retries_left(outcome)) {
    halt(outcome);  // now, before the freed slot gets its next task
  }
}

bool Runner::retries_left(const TaskOutcome& outcome) const {
  return outcome.attempt <= m_options.retries.value_or(m_plan.settings(outcome.task).retries);
}

void Runner::halt(const TaskOutcome& failed) {
  if (m_options.halt == RunnerOptions::Halt::Never || m_halted) {
    return;
  }
  m_halted = true;
  bool now = m_options.halt == RunnerOptions::Halt::Now;
  m_summary.stop_reason = fmt::format("halted at the first failed task, {} (--halt {}): {}", m_plan.label(failed.task),
                                      now ? "now" : "soon",
                                      now ? "running tasks were ended" : "running tasks finished, nothing more started");
  m_store.record({{"event", "run-halted"}, {"task_id", m_plan.task_id(failed.task)}, {"halt", now ? "now" : "soon"}});
  if (now) {
    m_executor.terminate_all(SIGTERM);
  }
}

std::optional<std::string> Runner::too_hot(const std::vector<int>& gpus) {
  for (int gpu : gpus) {
    std::optional<GpuSample> sample = m_options.monitor->gpu(gpu);
    if (!sample) {
      continue;
    }
    if (sample->temperature && *sample->temperature > *m_options.thermal_limit) {
      return fmt::format("GPU {} at {}C, above thermal_limit {}C: waiting for it to cool", gpu, *sample->temperature,
                         *m_options.thermal_limit);
    }
    if (sample->thermal_slowdown) {
      return fmt::format("GPU {} is slowed down for heat: waiting for it to cool", gpu);
    }
  }
  return std::nullopt;
}

void Runner::check_gpus() {
  if (!m_options.monitor) {
    return;
  }
  for (const auto& [gpu, why] : m_options.monitor->take_unhealthy()) {
    remove_gpu(gpu, why);
  }
}

void Runner::remove_gpu(int gpu, const std::string& reason) {
  if (!m_pool.remove_gpu(gpu)) {
    return;
  }
  m_removed_gpus.insert(gpu);
  m_status.gpu_removed(gpu, reason);
  m_store.record({{"event", "gpu-removed"}, {"gpu", gpu}, {"reason", reason}});
}

bool Runner::retry_elsewhere(Finished& finished) {
  // A task that failed on a GPU that left the pool meanwhile is not to blame: it runs again on
  // another GPU, once, whether or not it has retries left.
  TaskOutcome& outcome = finished.outcome;
  bool on_removed = std::any_of(outcome.gpus.begin(), outcome.gpus.end(), [&](int gpu) { return m_removed_gpus.count(gpu) != 0; });
  if (outcome.status != TaskStatus::Failed || !on_removed || m_interrupts > 0 || m_pool.usable_gpu_count() == 0 ||
      !m_moved.insert(outcome.task).second) {
    return false;
  }
  outcome.warnings.push_back(fmt::format("GPU {} left the pool while the task ran on it: it runs again on another GPU",
                                         fmt::join(outcome.gpus, ",")));
  finished.will_retry = true;
  m_scheduler.submit(outcome.task, m_plan.priority(outcome.task), outcome.attempt + 1);
  return true;
}

void Runner::judge_gpus(const TaskOutcome& outcome) {
  // A GPU on which tasks fail that then succeed on other GPUs is to blame, not the tasks: after
  // two such tasks it leaves the pool. A task that fails everywhere is the task's own fault.
  if (outcome.gpus.empty()) {
    return;
  }
  if (outcome.status == TaskStatus::Failed) {
    m_failed_on[outcome.task].insert(outcome.gpus.begin(), outcome.gpus.end());
    return;
  }
  auto failed = m_failed_on.find(outcome.task);
  if (outcome.status != TaskStatus::Succeeded || failed == m_failed_on.end()) {
    return;
  }
  for (int gpu : failed->second) {
    if (std::find(outcome.gpus.begin(), outcome.gpus.end(), gpu) != outcome.gpus.end()) {
      continue;
    }
    std::set<std::size_t>& tasks = m_strikes[gpu];
    tasks.insert(outcome.task);
    if (tasks.size() >= 2) {
      std::vector<std::string> ids;
      for (std::size_t task : tasks) {
        ids.push_back(m_plan.task_id(task));
      }
      remove_gpu(gpu, fmt::format("tasks {} failed on it and then succeeded on other GPUs", fmt::join(ids, ", ")));
    }
  }
  m_failed_on.erase(failed);
}

bool Runner::decide(Finished& finished) {
  if (finished.decided) {
    return false;
  }
  finished.decided = true;
  TaskOutcome& outcome = finished.outcome;
  // A task that forged or removed benchmatrix's files in its folder fails, whatever it exited with.
  m_store.inspect(m_plan, outcome);
  judge_gpus(outcome);
  if (retry_elsewhere(finished)) {
    return true;
  }
  finished.will_retry = outcome.status == TaskStatus::Failed && retries_left(outcome) && m_interrupts == 0 && !m_halted;
  if (finished.will_retry) {
    m_scheduler.submit(outcome.task, m_plan.priority(outcome.task), outcome.attempt + 1);  // alone, not interleaved
    return true;
  }
  switch (outcome.status) {
  case TaskStatus::Succeeded:
    ++m_summary.completed;
    break;
  case TaskStatus::Failed:
    ++m_summary.failed;
    m_summary.failures.push_back({outcome.task, outcome.reason, m_store.task_dir(m_plan, outcome.task)});
    halt(outcome);
    break;
  case TaskStatus::Interrupted:
    ++m_summary.interrupted;
    break;
  case TaskStatus::Skipped:
    ++m_summary.skipped;
    break;
  }
  return false;
}

} // namespace bm
