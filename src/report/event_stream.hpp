#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "report/status.hpp"
#include "util/fs.hpp"

namespace bm {

// `run --events FILE` (or fd:N): the run's events as JSON lines, one write each, as they happen.
// Every line has "schema" (the stream's version) and "event", one of: plan, start, process,
// sample, end, interrupt, summary (docs/CONFIG.md, "Events"). The live display and the Python
// front are consumers of the same events.
class EventStream final : public Status {
public:
  // Opens where the events go: "fd:N" (a descriptor the caller opened for us) or a file, created
  // or truncated. Throws UserError when it cannot: nothing has run yet.
  static UniqueFd open(const std::string& where);
  explicit EventStream(UniqueFd fd) : m_fd(std::move(fd)) {}

  void run_started(const Plan& plan, const RunHeader& header) override;
  void task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) override;
  void process_started(const Plan& plan, std::size_t task, const ProcessStep& step) override;
  void process_ended(const Plan& plan, std::size_t task, const RunRecord& record) override;
  void task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                     bool will_retry) override;
  void task_waiting(const Plan& plan, std::size_t task, const std::string& reason) override;
  void gpu_removed(int gpu, const std::string& reason) override;
  void interrupted(int signal, bool forced) override;
  void run_finished(const Plan& plan, const RunSummary& summary) override;
  // A cluster run's task began on an array element (`slot` is the element, JOBID_INDEX): a
  // `start` event like a local run's, without cores or GPUs (the element's node chooses them).
  void element_task_started(const Plan& plan, std::size_t task, const std::string& element, int attempt);

  static constexpr int k_schema = 1;

private:
  void emit(nlohmann::json event);
  void start(const Plan& plan, std::size_t task, int attempt, const std::string& slot, const std::vector<int>& cores,
             const std::vector<int>& gpus);

  UniqueFd m_fd;
  std::vector<std::string> m_slot_names;
  bool m_broken = false;  // the reader has gone: nothing more is written
};

} // namespace bm
