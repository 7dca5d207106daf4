#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "config/config.hpp"

namespace bm {

// One queued attempt of a task.
struct QueuedTask {
  static constexpr std::uint32_t k_single = 0xffffffff;
  std::size_t task = 0;
  int attempt = 1;
  std::uint32_t group = k_single;  // an interleaved group of tasks (the runner's numbering)
};

// Decides what starts next: higher priority first, then submission order (plan order; a retry
// goes behind the tasks of its priority that are already waiting). Order is strict: when the
// next task does not fit the free resources, nothing behind it jumps ahead, so a large task is
// never starved by small ones. Holds no descriptors and spawns nothing.
class Scheduler {
public:
  void submit(std::size_t task, Priority priority, int attempt = 1, std::uint32_t group = QueuedTask::k_single);

  // The attempt that should start next, if any is waiting.
  std::optional<QueuedTask> peek() const;
  void pop();
  // Up to `count` attempts in the order they would start (for work done ahead of them).
  std::vector<QueuedTask> next(std::size_t count) const;

  bool empty() const { return size() == 0; }
  std::size_t size() const;
  // Everything still queued, in the order it would start (for the summary of an interrupted run).
  std::vector<QueuedTask> drain();

private:
  std::array<std::deque<QueuedTask>, 3> m_queues;  // indexed by Priority
};

} // namespace bm
