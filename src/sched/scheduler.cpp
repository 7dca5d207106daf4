#include "sched/scheduler.hpp"

#include "util/error.hpp"

namespace bm {

void Scheduler::submit(std::size_t task, Priority priority, int attempt, std::uint32_t group) {
  m_queues[static_cast<size_t>(priority)].push_back({task, attempt, group});
}

std::optional<QueuedTask> Scheduler::peek() const {
  for (const auto& queue : m_queues) {
    if (!queue.empty()) {
      return queue.front();
    }
  }
  return std::nullopt;
}

void Scheduler::pop() {
  for (auto& queue : m_queues) {
    if (!queue.empty()) {
      queue.pop_front();
      return;
    }
  }
  BM_ASSERT(!"pop() on an empty scheduler");
}

std::vector<QueuedTask> Scheduler::next(std::size_t count) const {
  std::vector<QueuedTask> out;
  for (const auto& queue : m_queues) {
    for (auto it = queue.begin(); it != queue.end() && out.size() < count; ++it) {
      out.push_back(*it);
    }
  }
  return out;
}

std::size_t Scheduler::size() const {
  std::size_t total = 0;
  for (const auto& queue : m_queues) {
    total += queue.size();
  }
  return total;
}

std::vector<QueuedTask> Scheduler::drain() {
  std::vector<QueuedTask> all;
  for (auto& queue : m_queues) {
    all.insert(all.end(), queue.begin(), queue.end());
    queue.clear();
  }
  return all;
}

} // namespace bm
