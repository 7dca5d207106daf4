#include "sched/runner.hpp"

#include <algorithm>
#include <csignal>
#include <map>

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
    if (m_interrupts == 0) {
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
    for (std::size_t task : tasks) {
      ResolvedSettings settings = m_plan.settings(task);
      request.cpus = std::max(request.cpus, settings.cpus);
      request.gpus = std::max(request.gpus, settings.gpus);
    }
    auto lease = m_pool.acquire(request);
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
      }
      attempts.push_back(std::move(attempt));
      ++m_summary.attempts;
    }
    advance(std::make_unique<AttemptGroup>(std::move(attempts), *lease, m_plan.config().interleave_seed));
  }
}

void Runner::advance(std::unique_ptr<AttemptGroup> group) {
  for (auto& attempt : group->take_finished()) {
    finish_attempt(std::move(attempt));
  }
  std::uint64_t token = m_next_token++;
  auto next = group->next_process(token);
  if (!next) {
    BM_ASSERT(group->empty());
    m_pool.release(group->lease());
    return;
  }
  // Registered before the start, so the spawn listener can name the task.
  const TaskAttempt& attempt = group->attempt(next->first);
  std::size_t task = attempt.task();
  ProcessStep step = attempt.running_step();
  m_running.emplace(token, Running{std::move(group), next->first});
  m_executor.start(next->second);
  ++m_summary.processes;
  m_status.process_started(m_plan, task, step);
}

void Runner::on_process_ended(const ProcessResult& result) {
  auto found = m_running.find(result.token);
  BM_ASSERT(found != m_running.end());
  Running running = std::move(found->second);
  m_running.erase(found);
  running.group->process_ended(running.attempt, result);
  const TaskAttempt& attempt = running.group->attempt(running.attempt);
  m_status.process_ended(m_plan, attempt.task(), attempt.last_run());
  if (m_interrupts > 0) {
    // The run is being interrupted: start nothing more for these tasks.
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
  m_finished.push_back({attempt->take_outcome(), false, false});
}

bool Runner::decide(Finished& finished) {
  if (finished.decided) {
    return false;
  }
  finished.decided = true;
  TaskOutcome& outcome = finished.outcome;
  // A task that forged or removed benchmatrix's files in its folder fails, whatever it exited with.
  m_store.inspect(m_plan, outcome);
  ResolvedSettings settings = m_plan.settings(outcome.task);
  int retries = m_options.retries.value_or(settings.retries);
  finished.will_retry = outcome.status == TaskStatus::Failed && outcome.attempt <= retries && m_interrupts == 0;
  if (finished.will_retry) {
    m_scheduler.submit(outcome.task, settings.priority, outcome.attempt + 1);  // alone, not interleaved
    return true;
  }
  switch (outcome.status) {
  case TaskStatus::Succeeded:
    ++m_summary.completed;
    break;
  case TaskStatus::Failed:
    ++m_summary.failed;
    m_summary.failures.push_back({outcome.task, outcome.reason, m_store.task_dir(m_plan, outcome.task)});
    break;
  case TaskStatus::Interrupted:
    ++m_summary.interrupted;
    break;
  }
  return false;
}

} // namespace bm
