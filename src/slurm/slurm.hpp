#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "util/command.hpp"

// What the SLURM executor decides by itself, apart from running anything: how tasks become job
// arrays, what squeue, scontrol and sacct say, and what became of an element that left the queue
// without results. Then the client that talks to the controller gently.

namespace bm::slurm {

// What one task asks of its node: an array's elements all ask the same.
struct Request {
  int cpus = 1;
  int gpus = 0;
  std::uint64_t memory = 0;  // bytes; 0: the partition's default

  bool operator==(const Request&) const = default;
};

struct BundleTask {
  std::string key;  // the task's folder below OUT/tasks: unique
  Request request;
  std::optional<double> seconds;  // how long it took last time (history), if known
  std::optional<double> bound;    // the longest it may take (its timeouts), if bounded
};

// One array element: the tasks it runs in sequence (or `tasks_at_once` side by side).
struct Element {
  std::vector<std::string> tasks;
  std::optional<double> bound_seconds;  // the sum of its tasks' bounds, when each has one
};

// One sbatch call: elements of one resource request, at most the cluster's MaxArraySize of them.
struct ArrayPlan {
  Request request;
  std::vector<Element> elements;
};

// Groups tasks by request (in the order they come), bundles each group's tasks into elements
// (tasks_per_element when set; else tasks whose last duration is known are packed up to
// element_time; a task without history is an element of its own), and splits a group's elements
// into arrays of at most `max_array_size`.
std::vector<ArrayPlan> bundle(const std::vector<BundleTask>& tasks, const SlurmSettings& settings,
                              std::size_t max_array_size);

// The --time of an element: the configured one, else its tasks' bounds plus a margin (minutes,
// rounded up); nullopt leaves the partition's default.
std::optional<long> element_minutes(const Element& element, const SlurmSettings& settings);

// sbatch's arguments (without the script) for an array of `plan`: resources, time, array range
// and throttle, name, log files, preemption signal, and the user's partition/account/qos/flags.
std::vector<std::string> sbatch_arguments(const ArrayPlan& plan, const SlurmSettings& settings,
                                          const std::string& job_name, const std::string& log_pattern,
                                          const std::string& workdir);

// "JOBID_INDEX" of an array element.
std::string element_key(const std::string& array_job_id, std::size_t index);

// `squeue -h -r -o %i|%T` lines: element key -> state. A pending array not yet split shows as
// "12_[3-9%2]": every index of the range is pending.
std::map<std::string, std::string> parse_squeue(const std::string& text);

// The end of a job that left the queue, as accounting or the controller remember it.
struct JobEnd {
  std::string state;      // COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY, ...
  std::string exit_code;  // "0:0"
  std::string reason;
};
// `sacct -n -P -X -o JobID,State,ExitCode` lines: element key -> end ("CANCELLED by 0" -> CANCELLED).
std::map<std::string, JobEnd> parse_sacct(const std::string& text);
// `scontrol -o show job ID` lines (one per element): element key -> end.
std::map<std::string, JobEnd> parse_scontrol(const std::string& text);
// `scontrol -d show job ID`'s GRES index list of a job ("GRES=gpu:2(IDX:0-1)"): the GPU ids.
std::vector<int> gres_gpu_indices(const std::string& text);
// A comma-separated list of GPU ids with ranges ("0,2-3"), as SLURM_JOB_GPUS holds; nullopt when
// it is not one.
std::optional<std::vector<int>> parse_gpu_ids(const std::string& text);
// MaxArraySize from `scontrol show config`, or nullopt.
std::optional<std::size_t> parse_max_array_size(const std::string& text);

// Why an element left the queue without results for some of its tasks.
enum class Loss { NeverStarted, NodeFailure, Preempted, TimedOut, OutOfMemory, Cancelled, EndedEarly, Unknown };
std::string_view to_string(Loss loss);
// `end` is what accounting or the controller say (nullopt: they no longer know the job);
// `started`: the element wrote its started marker; `preempted`: it recorded SLURM's warning signal.
Loss classify(const std::optional<JobEnd>& end, bool started, bool preempted);

// Whether a failed SLURM command is worth trying again: the controller is busy or unreachable
// ("Socket timed out", "Unable to contact slurm controller", "Resource temporarily unavailable").
bool is_transient(const std::string& output);

// Runs SLURM's commands with a budget: sbatch at most `submit_per_second` a second; a transient
// failure is tried again after a backoff that doubles (with jitter) up to a minute, and after
// `patience` failures in a row it says it is pausing, then keeps trying. Only a lasting error (a
// bad flag, an unknown partition) comes back as a failure.
class Client {
public:
  struct Options {
    double submit_per_second = 2;
    std::chrono::milliseconds first_backoff{1000};
    std::chrono::milliseconds max_backoff{60000};
    int patience = 5;
  };
  explicit Client(Options options);
  Client() : Client(Options{}) {}

  // stdout and stderr together. Interrupted is thrown on an interrupt signal, even while waiting.
  CommandResult run(const std::vector<std::string>& argv, bool submission = false);

  // Said on stderr while the controller does not answer (set by the driver to print its lines).
  std::function<void(const std::string&)> on_notice;

private:
  Options m_options;
  std::chrono::steady_clock::time_point m_last_submit{};
  std::mt19937 m_random{std::random_device{}()};
};

// Waits up to `duration` for an interrupt signal: throws Interrupted when one comes.
void sleep_interruptibly(std::chrono::milliseconds duration);

} // namespace bm::slurm
