#include "config/config.hpp"

namespace bm {

std::string to_string(Priority priority) {
  switch (priority) {
  case Priority::High:
    return "high";
  case Priority::Normal:
    return "normal";
  case Priority::Low:
    return "low";
  }
  return "normal";
}

std::optional<Priority> parse_priority(std::string_view text) {
  if (text == "high") {
    return Priority::High;
  }
  if (text == "normal") {
    return Priority::Normal;
  }
  if (text == "low") {
    return Priority::Low;
  }
  return std::nullopt;
}

void TaskSettings::overlay(const TaskSettings& other) {
  auto take = [](auto& mine, const auto& theirs) {
    if (theirs) {
      mine = theirs;
    }
  };
  take(warmup, other.warmup);
  take(runs, other.runs);
  take(timeout, other.timeout);
  take(kill_grace, other.kill_grace);
  take(retries, other.retries);
  take(cpus, other.cpus);
  take(gpus, other.gpus);
  take(priority, other.priority);
  env.insert(env.end(), other.env.begin(), other.env.end());
}

ResolvedSettings ResolvedSettings::from(const TaskSettings& settings) {
  ResolvedSettings resolved;
  resolved.warmup = settings.warmup.value_or(resolved.warmup);
  resolved.runs = settings.runs.value_or(resolved.runs);
  resolved.timeout = settings.timeout;
  resolved.kill_grace = settings.kill_grace.value_or(resolved.kill_grace);
  resolved.retries = settings.retries.value_or(resolved.retries);
  resolved.cpus = settings.cpus.value_or(resolved.cpus);
  resolved.gpus = settings.gpus.value_or(resolved.gpus);
  resolved.priority = settings.priority.value_or(resolved.priority);
  // Later entries win; keep one entry per name in first-seen order so the env is canonical.
  for (const auto& [key, value] : settings.env) {
    bool replaced = false;
    for (auto& entry : resolved.env) {
      if (entry.first == key) {
        entry.second = value;
        replaced = true;
      }
    }
    if (!replaced) {
      resolved.env.emplace_back(key, value);
    }
  }
  return resolved;
}

} // namespace bm
