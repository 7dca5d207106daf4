#include "sched/runner.hpp"

#include <csignal>

#include "util/clock.hpp"

namespace bm {

Runner::Runner(const Plan& plan, Store& store, Executor& executor, ResourcePool& pool, Status& status,
               RunnerOptions options)
    : m_plan(plan), m_store(store), m_executor(executor), m_pool(pool), m_status(status),
      m_options(std::move(options)) {}

RunSummary Runner::run(const std::vector<std::size_t>& tasks, RunSummary summary) {
  m_summary = std::move(summary);
  auto started = std::chrono::steady_clock::now();
  for (std::size_t task : tasks) {
    m_scheduler.submit(task, m_plan.priority(task));
  }
  // The loop: fill free capacity, wait for one event, repeat. Every decision happens in fill()
  // and in the handlers; wait() is the only place the program blocks.
  for (;;) {
    if (m_interrupts == 0) {
      fill();
    }
    if (m_executor.running() == 0) {
      break;
    }
    ExecutorEvent event = m_executor.wait();
    if (event.kind == ExecutorEvent::Kind::Interrupted) {
      on_interrupt(event.signal);
    } else {
      on_process_ended(event.result);
    }
    m_store.commit();
  }
  m_summary.not_started = m_scheduler.drain().size();
  m_summary.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  m_summary.was_interrupted = m_interrupts > 0;
  return m_summary;
}

void Runner::fill() {
  while (auto next = m_scheduler.peek()) {
    ResolvedSettings settings = m_plan.settings(next->task);
    auto lease = m_pool.acquire({settings.cpus, settings.gpus});
    if (!lease) {
      return;  // strict order: wait for resources rather than let later tasks jump ahead
    }
    m_scheduler.pop();
    std::string slot = m_pool.slot_name(lease->slot);
    m_store.begin_task(m_plan, next->task, next->attempt, slot, lease->cpus, lease->gpus);
    m_status.task_started(m_plan, next->task, *lease, next->attempt);
    auto attempt = std::make_unique<TaskAttempt>(m_plan, next->task, next->attempt, *lease, slot,
                                                 m_store.task_dir(m_plan, next->task), m_options.attempt);
    ++m_summary.attempts;
    start_next_process(std::move(attempt));
  }
}

void Runner::start_next_process(std::unique_ptr<TaskAttempt> attempt) {
  std::uint64_t token = m_next_token++;
  std::optional<ProcessSpec> spec = attempt->next_process(token);
  if (!spec) {
    finish_attempt(std::move(attempt));
    return;
  }
  m_executor.start(*spec);
  ++m_summary.processes;
  m_running.emplace(token, std::move(attempt));
}

void Runner::on_process_ended(const ProcessResult& result) {
  auto found = m_running.find(result.token);
  BM_ASSERT(found != m_running.end());
  std::unique_ptr<TaskAttempt> attempt = std::move(found->second);
  m_running.erase(found);
  attempt->process_ended(result);
  if (m_interrupts > 0) {
    // The process ended on its own after an interrupt: start nothing more for this task.
    attempt->stop();
  }
  start_next_process(std::move(attempt));
}

void Runner::on_interrupt(int signal) {
  ++m_interrupts;
  m_summary.interrupt_signal = signal;
  m_status.interrupted(signal, m_interrupts > 1);
  m_store.record({{"event", "run-interrupted"}, {"signal", signal}, {"forced", m_interrupts > 1}});
  // First interrupt: TERM to every run's group, KILL after its grace period. Second: KILL now.
  m_executor.terminate_all(m_interrupts > 1 ? SIGKILL : SIGTERM);
}

void Runner::finish_attempt(std::unique_ptr<TaskAttempt> attempt) {
  TaskOutcome outcome = attempt->take_outcome();
  m_pool.release(attempt->lease());
  ResolvedSettings settings = m_plan.settings(outcome.task);
  int retries = m_options.retries.value_or(settings.retries);
  bool will_retry = outcome.status == TaskStatus::Failed && outcome.attempt <= retries && m_interrupts == 0;
  m_store.finish_task(m_plan, outcome, m_options.context);
  m_status.task_finished(m_plan, outcome, m_store.task_dir(m_plan, outcome.task), will_retry);
  if (will_retry) {
    m_scheduler.submit(outcome.task, settings.priority, outcome.attempt + 1);
    return;
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
}

} // namespace bm
