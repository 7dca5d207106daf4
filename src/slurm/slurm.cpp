#include "slurm/slurm.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include "resources/topology.hpp"
#include "util/error.hpp"
#include "util/signals.hpp"
#include "util/strings.hpp"

namespace bm::slurm {

namespace {

std::optional<long long> whole_number(std::string_view text) {
  long long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// "KEY=value" fields of one `scontrol -o` line (values hold no spaces, except the last ones,
// which are not read here).
std::map<std::string, std::string> fields(std::string_view line) {
  std::map<std::string, std::string> result;
  for (const std::string& word : split(line, ' ')) {
    auto equals = word.find('=');
    if (equals != std::string::npos && equals > 0) {
      result.emplace(word.substr(0, equals), word.substr(equals + 1));
    }
  }
  return result;
}

// "CANCELLED by 0" -> "CANCELLED"; "COMPLETED+" -> "COMPLETED".
std::string state_word(std::string_view text) {
  std::string_view word = trim(text);
  word = word.substr(0, word.find(' '));
  while (!word.empty() && word.back() == '+') {
    word.remove_suffix(1);
  }
  return std::string(word);
}

} // namespace

std::vector<ArrayPlan> bundle(const std::vector<BundleTask>& tasks, const SlurmSettings& settings,
                              std::size_t max_array_size) {
  std::vector<std::pair<Request, std::vector<const BundleTask*>>> groups;
  for (const auto& task : tasks) {
    auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == task.request; });
    if (group == groups.end()) {
      groups.push_back({task.request, {}});
      group = std::prev(groups.end());
    }
    group->second.push_back(&task);
  }
  double target = std::chrono::duration<double>(settings.element_time).count() * settings.tasks_at_once;
  std::vector<ArrayPlan> arrays;
  for (const auto& [request, members] : groups) {
    std::vector<Element> elements;
    auto add_bound = [](Element& element, const BundleTask& task) {
      if (element.tasks.size() == 1) {
        element.bound_seconds = task.bound;
      } else if (element.bound_seconds && task.bound) {
        *element.bound_seconds += *task.bound;
      } else {
        element.bound_seconds.reset();
      }
    };
    if (settings.tasks_per_element) {
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i % static_cast<std::size_t>(*settings.tasks_per_element) == 0) {
          elements.emplace_back();
        }
        elements.back().tasks.push_back(members[i]->key);
        add_bound(elements.back(), *members[i]);
      }
    } else {
      // Tasks known to be short share elements up to the target length; the others run alone.
      std::optional<std::size_t> open;
      double filled = 0;
      for (const BundleTask* task : members) {
        if (!task->seconds) {
          elements.emplace_back();
          elements.back().tasks.push_back(task->key);
          add_bound(elements.back(), *task);
          continue;
        }
        if (!open || filled + *task->seconds > target) {
          elements.emplace_back();
          open = elements.size() - 1;
          filled = 0;
        }
        elements[*open].tasks.push_back(task->key);
        add_bound(elements[*open], *task);
        filled += *task->seconds;
      }
    }
    std::size_t limit = std::max<std::size_t>(1, max_array_size);
    for (std::size_t start = 0; start < elements.size(); start += limit) {
      ArrayPlan array;
      array.request = request;
      auto end = elements.begin() + static_cast<std::ptrdiff_t>(std::min(elements.size(), start + limit));
      array.elements.assign(elements.begin() + static_cast<std::ptrdiff_t>(start), end);
      arrays.push_back(std::move(array));
    }
  }
  return arrays;
}

std::optional<long> element_minutes(const Element& element, const SlurmSettings& settings) {
  if (settings.time) {
    return static_cast<long>(std::ceil(std::chrono::duration<double>(*settings.time).count() / 60.0));
  }
  if (!element.bound_seconds) {
    return std::nullopt;
  }
  // Its tasks one after another at their limits, divided among those run at once, plus five
  // minutes for starting, reading the config and writing the results.
  double seconds = *element.bound_seconds / settings.tasks_at_once + 300;
  return static_cast<long>(std::ceil(seconds / 60.0));
}

std::vector<std::string> sbatch_arguments(const ArrayPlan& plan, const SlurmSettings& settings,
                                          const std::string& job_name, const std::string& log_pattern,
                                          const std::string& workdir) {
  std::vector<std::string> args = {"--parsable", "--job-name=" + job_name, "--output=" + log_pattern,
                                   "--chdir=" + workdir,
                                   // Ninety seconds before a preemption or the time limit, the
                                   // worker (the batch shell itself) ends its tasks cleanly.
                                   "--signal=B:USR2@90", "--ntasks=1"};
  std::string range = fmt::format("--array=0-{}", plan.elements.size() - 1);
  if (settings.max_running) {
    range += fmt::format("%{}", *settings.max_running);
  }
  args.push_back(range);
  int at_once = settings.tasks_at_once;
  args.push_back(fmt::format("--cpus-per-task={}", plan.request.cpus * at_once));
  if (plan.request.memory > 0) {
    args.push_back(fmt::format("--mem={}M", (plan.request.memory * static_cast<std::uint64_t>(at_once) + (1 << 20) - 1) >> 20));
  }
  if (plan.request.gpus > 0) {
    args.push_back(settings.gpus_per_task ? fmt::format("--gpus-per-task={}", plan.request.gpus * at_once)
                                          : fmt::format("--gres=gpu:{}", plan.request.gpus * at_once));
  }
  std::optional<long> minutes;
  for (const auto& element : plan.elements) {
    std::optional<long> each = element_minutes(element, settings);
    if (!each) {
      minutes.reset();
      break;
    }
    minutes = std::max(minutes.value_or(0), *each);
  }
  if (minutes) {
    args.push_back(fmt::format("--time={}", *minutes));
  }
  if (!settings.partition.empty()) {
    args.push_back("--partition=" + settings.partition);
  }
  if (!settings.account.empty()) {
    args.push_back("--account=" + settings.account);
  }
  if (!settings.qos.empty()) {
    args.push_back("--qos=" + settings.qos);
  }
  args.insert(args.end(), settings.sbatch.begin(), settings.sbatch.end());
  return args;
}

std::string element_key(const std::string& array_job_id, std::size_t index) {
  return fmt::format("{}_{}", array_job_id, index);
}

std::map<std::string, std::string> parse_squeue(const std::string& text) {
  std::map<std::string, std::string> states;
  for (const std::string& raw : split(text, '\n')) {
    std::string_view line = trim(raw);
    auto bar = line.find('|');
    if (line.empty() || bar == std::string_view::npos) {
      continue;
    }
    std::string id(trim(line.substr(0, bar)));
    std::string state = state_word(line.substr(bar + 1));
    auto underscore = id.find('_');
    if (underscore == std::string::npos) {
      states[id] = state;
      continue;
    }
    std::string job = id.substr(0, underscore);
    std::string index = id.substr(underscore + 1);
    if (index.starts_with('[') && index.ends_with(']')) {
      // Not yet split: "[0-9%2]" or "[1,3-5]".
      std::string list = index.substr(1, index.size() - 2);
      list = list.substr(0, list.find('%'));
      try {
        for (int i : parse_cpu_list(list)) {
          states[element_key(job, static_cast<std::size_t>(i))] = state;
        }
      } catch (const UserError&) {
      }
      continue;
    }
    states[id] = state;
  }
  return states;
}

std::map<std::string, JobEnd> parse_sacct(const std::string& text) {
  std::map<std::string, JobEnd> ends;
  for (const std::string& raw : split(text, '\n')) {
    std::vector<std::string> parts = split(trim(raw), '|');
    if (parts.size() < 3 || parts[0].empty() || parts[0].find('.') != std::string::npos) {
      continue;  // steps (12_3.batch) are not the element's state
    }
    ends[parts[0]] = JobEnd{state_word(parts[1]), std::string(trim(parts[2])), ""};
  }
  return ends;
}

std::map<std::string, JobEnd> parse_scontrol(const std::string& text) {
  std::map<std::string, JobEnd> ends;
  for (const std::string& line : split(text, '\n')) {
    auto found = fields(line);
    auto job = found.find("JobId");
    auto state = found.find("JobState");
    if (job == found.end() || state == found.end()) {
      continue;
    }
    std::string key = job->second;
    auto array = found.find("ArrayJobId");
    auto index = found.find("ArrayTaskId");
    if (array != found.end() && index != found.end() && whole_number(index->second)) {
      key = array->second + "_" + index->second;
    }
    JobEnd end{state_word(state->second), found.count("ExitCode") ? found["ExitCode"] : "",
               found.count("Reason") ? found["Reason"] : ""};
    ends[key] = end;
  }
  return ends;
}

std::vector<int> gres_gpu_indices(const std::string& text) {
  std::vector<int> gpus;
  std::size_t at = 0;
  while ((at = text.find("gpu", at)) != std::string::npos) {
    auto open = text.find("(IDX:", at);
    auto line_end = text.find('\n', at);
    if (open == std::string::npos || (line_end != std::string::npos && open > line_end)) {
      at += 3;
      continue;
    }
    auto close = text.find(')', open);
    if (close == std::string::npos) {
      break;
    }
    if (auto ids = parse_gpu_ids(text.substr(open + 5, close - open - 5))) {
      gpus.insert(gpus.end(), ids->begin(), ids->end());
    }
    at = close;
  }
  std::sort(gpus.begin(), gpus.end());
  gpus.erase(std::unique(gpus.begin(), gpus.end()), gpus.end());
  return gpus;
}

std::optional<std::vector<int>> parse_gpu_ids(const std::string& text) {
  std::string_view list = trim(text);
  if (list.empty() || list == "N/A") {
    return std::nullopt;
  }
  try {
    return parse_cpu_list(std::string(list));
  } catch (const UserError&) {
    return std::nullopt;
  }
}

std::optional<std::size_t> parse_max_array_size(const std::string& text) {
  for (const std::string& line : split(text, '\n')) {
    std::string_view view = trim(line);
    if (!view.starts_with("MaxArraySize")) {
      continue;
    }
    auto equals = view.find('=');
    if (equals == std::string_view::npos) {
      continue;
    }
    if (auto value = whole_number(trim(view.substr(equals + 1))); value && *value > 0) {
      return static_cast<std::size_t>(*value);
    }
  }
  return std::nullopt;
}

std::string_view to_string(Loss loss) {
  switch (loss) {
  case Loss::NeverStarted: return "never started";
  case Loss::NodeFailure: return "node failure";
  case Loss::Preempted: return "preempted";
  case Loss::TimedOut: return "timed out (the element's time limit)";
  case Loss::OutOfMemory: return "out of memory (the element's --mem)";
  case Loss::Cancelled: return "cancelled";
  case Loss::EndedEarly: return "the element ended before its tasks";
  case Loss::Unknown: return "left the queue, its end unknown";
  }
  return "unknown";
}

Loss classify(const std::optional<JobEnd>& end, bool started, bool preempted) {
  if (preempted) {
    return Loss::Preempted;
  }
  std::string state = end ? end->state : "";
  if (state == "PREEMPTED") {
    return Loss::Preempted;
  }
  if (state == "NODE_FAIL" || state == "BOOT_FAIL") {
    return started ? Loss::NodeFailure : Loss::NeverStarted;
  }
  if (!started) {
    return Loss::NeverStarted;
  }
  if (state == "TIMEOUT" || state == "DEADLINE") {
    return Loss::TimedOut;
  }
  if (state == "OUT_OF_MEMORY") {
    return Loss::OutOfMemory;
  }
  if (state == "CANCELLED") {
    return Loss::Cancelled;
  }
  if (state == "COMPLETED" || state == "FAILED") {
    return Loss::EndedEarly;
  }
  return Loss::Unknown;
}

bool is_transient(const std::string& output) {
  static const std::vector<std::string> k_signs = {
      "Socket timed out",        "Unable to contact slurm controller", "Resource temporarily unavailable",
      "try again",               "Try again",                          "Zero Bytes were transmitted",
      "Connection refused",      "Connection timed out",               "Transport endpoint",
      "slurm_receive_msg",       "Slurm backup controller in standby", "MaxSubmitJobs",
      "QOSMaxSubmitJob",         "AssocMaxSubmitJob",                  "Communication connection failure"};
  return std::any_of(k_signs.begin(), k_signs.end(), [&](const std::string& sign) {
    return output.find(sign) != std::string::npos;
  });
}

void sleep_interruptibly(std::chrono::milliseconds duration) {
  if (duration.count() <= 0) {
    check_interrupt();
    return;
  }
  sigset_t interrupts = interrupt_signals();
  timespec wait{static_cast<time_t>(duration.count() / 1000), static_cast<long>(duration.count() % 1000) * 1000000L};
  int signal = sigtimedwait(&interrupts, nullptr, &wait);
  if (signal > 0) {
    throw Interrupted(signal);
  }
}

Client::Client(Options options) : m_options(options) {}

CommandResult Client::run(const std::vector<std::string>& argv, bool submission) {
  // stderr joined to stdout: SLURM says why it failed there.
  std::vector<std::string> wrapped = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  std::chrono::milliseconds backoff = m_options.first_backoff;
  int failures = 0;
  while (true) {
    if (submission && m_options.submit_per_second > 0) {
      auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::duration<double>(1.0 / m_options.submit_per_second));
      auto since = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - m_last_submit);
      if (since < gap) {
        sleep_interruptibly(gap - since);
      }
      m_last_submit = std::chrono::steady_clock::now();
    }
    int spawn_error = 0;
    CommandResult result = run_command(wrapped, std::chrono::seconds(120), 16 << 20, spawn_error);
    if (spawn_error != 0) {
      throw UserError(fmt::format("{} cannot be run: {} (is SLURM installed here, and SLURM_CONF set?)", argv[0],
                                  std::strerror(spawn_error)));
    }
    if (result.succeeded() || !(result.timed_out || is_transient(result.output))) {
      return result;
    }
    ++failures;
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    auto wait = std::chrono::milliseconds(static_cast<long long>(static_cast<double>(backoff.count()) * jitter(m_random)));
    if (on_notice) {
      std::string said = printable(std::string(trim(result.output)), 200);
      if (failures == m_options.patience) {
        on_notice(fmt::format("the SLURM controller has not answered {} {} times in a row ({}): pausing, trying again "
                              "every {}s; Ctrl-C stops the run (queued jobs are cancelled)",
                              argv[0], failures, said.empty() ? result.describe(std::chrono::seconds(120)) : said,
                              m_options.max_backoff.count() / 1000));
      } else if (failures < m_options.patience) {
        on_notice(fmt::format("{} failed ({}); trying again in {:.1f}s", argv[0],
                              said.empty() ? result.describe(std::chrono::seconds(120)) : said,
                              static_cast<double>(wait.count()) / 1000.0));
      }
    }
    sleep_interruptibly(wait);
    backoff = std::min(m_options.max_backoff, backoff * 2);
  }
}

} // namespace bm::slurm
