#include "sched/attempt_group.hpp"

#include <algorithm>

namespace bm {

AttemptGroup::AttemptGroup(std::vector<std::unique_ptr<TaskAttempt>> attempts, Lease lease, std::uint64_t seed)
    : m_attempts(std::move(attempts)), m_lease(std::move(lease)), m_seed(seed), m_random(seed) {
  BM_ASSERT(!m_attempts.empty());
}

std::optional<std::pair<std::size_t, ProcessSpec>> AttemptGroup::next_process(std::uint64_t token) {
  auto phase_of = [&](std::size_t i) -> std::optional<Phase> {
    return m_attempts[i] ? m_attempts[i]->next_phase() : std::nullopt;
  };
  auto start = [&](std::size_t i) -> std::optional<std::pair<std::size_t, ProcessSpec>> {
    std::optional<ProcessSpec> spec = m_attempts[i]->next_process(token);
    BM_ASSERT(spec.has_value());
    return std::make_pair(i, std::move(*spec));
  };
  // Setups and warm-ups first, each variant in turn.
  for (std::size_t i = 0; i < m_attempts.size(); ++i) {
    auto phase = phase_of(i);
    if (phase == Phase::Setup || phase == Phase::Warmup) {
      return start(i);
    }
  }
  // Measured runs in rounds; a variant that failed (or stopped adaptively) drops out.
  for (;;) {
    while (!m_round.empty()) {
      std::size_t i = m_round.back();
      m_round.pop_back();
      if (phase_of(i) == Phase::Run) {
        auto started = start(i);
        if (m_attempts[i]->preparing()) {
          m_round.push_back(i);  // its run comes right after its prepare
        }
        return started;
      }
    }
    std::vector<std::size_t> round;
    for (std::size_t i = 0; i < m_attempts.size(); ++i) {
      if (phase_of(i) == Phase::Run) {
        round.push_back(i);
      }
    }
    if (round.empty()) {
      break;
    }
    if (m_attempts.size() > 1) {
      std::shuffle(round.begin(), round.end(), m_random);
      std::vector<std::string> ids;
      for (std::size_t i : round) {
        ids.push_back(m_attempts[i]->task_id());
      }
      m_rounds.push_back(std::move(ids));
    }
    m_round.assign(round.rbegin(), round.rend());  // popped from the back: in shuffled order
  }
  for (std::size_t i = 0; i < m_attempts.size(); ++i) {
    if (phase_of(i) == Phase::Teardown) {
      return start(i);
    }
  }
  return std::nullopt;
}

void AttemptGroup::process_ended(std::size_t which, const ProcessResult& result) {
  BM_ASSERT(which < m_attempts.size() && m_attempts[which]);
  m_attempts[which]->process_ended(result);
}

void AttemptGroup::stop() {
  for (auto& attempt : m_attempts) {
    if (attempt) {
      attempt->stop();
    }
  }
}

std::vector<std::unique_ptr<TaskAttempt>> AttemptGroup::take_finished() {
  std::vector<std::unique_ptr<TaskAttempt>> finished;
  for (auto& attempt : m_attempts) {
    if (attempt && !attempt->next_phase()) {
      if (m_attempts.size() > 1) {
        attempt->set_interleaving(m_seed, m_rounds);
      }
      finished.push_back(std::move(attempt));
    }
  }
  return finished;
}

bool AttemptGroup::empty() const {
  return std::none_of(m_attempts.begin(), m_attempts.end(), [](const auto& attempt) { return attempt != nullptr; });
}

} // namespace bm
