#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "sched/task_attempt.hpp"

namespace bm {

// The attempts that share one lease (one slot): a single task, or, with repeat.interleave, the
// variants compared with one baseline. Their processes run one at a time: first each one's setup
// and warm-ups, then rounds of one measured run per variant in an order shuffled per round
// (seeded, and recorded in each result), then the teardowns. Drift over time (thermal, other
// load) then hits every variant alike. A group of one is simply that task's lifecycle.
class AttemptGroup {
public:
  AttemptGroup(std::vector<std::unique_ptr<TaskAttempt>> attempts, Lease lease, std::uint64_t seed);

  // The next process (and which attempt it belongs to), or nullopt when every attempt is over.
  std::optional<std::pair<std::size_t, ProcessSpec>> next_process(std::uint64_t token);
  void process_ended(std::size_t which, const ProcessResult& result);
  // The run is being interrupted: nothing more starts; unfinished attempts end as interrupted.
  void stop();

  // Attempts that finished since the last call (their outcome is ready to be stored).
  std::vector<std::unique_ptr<TaskAttempt>> take_finished();
  bool empty() const;
  const Lease& lease() const { return m_lease; }
  const TaskAttempt& attempt(std::size_t which) const { return *m_attempts[which]; }
  std::string task_id(std::size_t which) const { return m_attempts[which] ? m_attempts[which]->task_id() : ""; }

private:
  std::vector<std::unique_ptr<TaskAttempt>> m_attempts;  // null once taken
  Lease m_lease;
  std::uint64_t m_seed;
  std::mt19937_64 m_random;
  std::vector<std::size_t> m_round;                      // what is left of the current round
  std::vector<std::vector<std::string>> m_rounds;        // task ids per round, for the record
};

} // namespace bm
