// benchmatrix/bench.h: benchmarks in C++ that benchmatrix discovers and runs one per process.
//
//   #include <benchmatrix/bench.h>
//
//   static void sort_ints(benchmatrix::State& state) {
//     std::vector<int> data = random_ints(state.param("n"));
//     for (auto _ : state) {                      // the timed loop
//       std::vector<int> copy = data;
//       std::sort(copy.begin(), copy.end());
//       benchmatrix::do_not_optimize(copy.data());
//     }
//     state.set_items_processed(state.iterations() * state.param("n"));
//   }
//   BENCHMATRIX_BENCHMARK(sort_ints).param("n", {1000, 100000});
//   BENCHMATRIX_MAIN();
//
// The program answers `--list` with a JSON array of {name, module, parameters} (one entry per
// combination of parameter values, named like "sort_ints/n:1000") and `--run NAME` by running that
// one benchmark: it calibrates the iterations of one sample to take at least --min-time seconds
// (default 0.01), takes --samples samples (default 10), and appends them per the benchmatrix task
// protocol to $BENCHMATRIX_RESULT_FILE (to stdout without it): {"metric": "time", "samples":
// [seconds per iteration, ...], "unit": "s"}, items/s and bytes/s when set (better higher), and
// counters. A config runs them with `source: {bench_h: ./my_bench}`. Header-only, C++17.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace benchmatrix {

// Keeps the compiler from optimizing a value (and the work that made it) away.
template <typename T>
inline void do_not_optimize(T const& value) {
#if defined(__GNUC__) || defined(__clang__)
  asm volatile("" : : "r,m"(value) : "memory");
#else
  static volatile const void* sink;
  sink = &value;
#endif
}
template <typename T>
inline void do_not_optimize(T& value) {
#if defined(__GNUC__) || defined(__clang__)
  asm volatile("" : "+r,m"(value) : : "memory");
#else
  static volatile void* sink;
  sink = &value;
#endif
}
// Makes every write to memory before it happen before it (a compiler barrier).
inline void clobber_memory() {
#if defined(__GNUC__) || defined(__clang__)
  asm volatile("" : : : "memory");
#endif
}

class State {
public:
  using Clock = std::chrono::steady_clock;

  State(std::uint64_t iterations, const std::map<std::string, std::int64_t>* params)
      : m_iterations(iterations), m_params(params) {}

  // A parameter of this benchmark instance (see Benchmark::param). Exits with a message when the
  // benchmark has none of that name: a typo must not measure the wrong thing.
  std::int64_t param(const std::string& name) const {
    auto found = m_params->find(name);
    if (found == m_params->end()) {
      std::fprintf(stderr, "benchmatrix/bench.h: the benchmark has no parameter '%s'\n", name.c_str());
      std::exit(2);
    }
    return found->second;
  }
  std::uint64_t iterations() const { return m_iterations; }

  // Time outside the loop's body that should not count (setting up one iteration's input).
  void pause_timing() {
    m_elapsed += Clock::now() - m_started;
    m_paused = true;
  }
  void resume_timing() {
    m_paused = false;
    m_started = Clock::now();
  }

  void set_items_processed(std::int64_t items) { m_items = items; }
  void set_bytes_processed(std::int64_t bytes) { m_bytes = bytes; }
  // A value of the run beside its time (a hit rate, a count); better when lower unless `higher`.
  void counter(const std::string& name, double value, bool higher_is_better = false) {
    m_counters[name] = {value, higher_is_better};
  }
  // Ends the benchmark as failed: the process prints the message and exits 1.
  void skip_with_error(const std::string& message) { m_error = message; }

  // The timed loop: `for (auto _ : state)` runs its body iterations() times, timing it. The loop
  // variable's type is marked unused, so `_` draws no warning.
#if defined(__GNUC__) || defined(__clang__)
  struct __attribute__((unused)) Value {};
#else
  struct Value {};
#endif
  struct Iterator {
    State* state;
    std::uint64_t left;
    bool operator!=(const Iterator& other) const {
      if (left != other.left && state->m_error.empty()) {
        return true;
      }
      state->stop();
      return false;
    }
    Iterator& operator++() {
      --left;
      return *this;
    }
    Value operator*() const { return {}; }
  };
  Iterator begin() {
    m_started = Clock::now();
    return Iterator{this, m_iterations};
  }
  Iterator end() { return Iterator{this, 0}; }

  // Filled by the loop; read by the runner.
  double seconds() const { return std::chrono::duration<double>(m_elapsed).count(); }
  std::int64_t items() const { return m_items; }
  std::int64_t bytes() const { return m_bytes; }
  const std::string& error() const { return m_error; }
  const std::map<std::string, std::pair<double, bool>>& counters() const { return m_counters; }

private:
  void stop() {
    if (!m_stopped && !m_paused) {
      m_elapsed += Clock::now() - m_started;
    }
    m_stopped = true;
  }

  std::uint64_t m_iterations;
  const std::map<std::string, std::int64_t>* m_params;
  Clock::time_point m_started{};
  Clock::duration m_elapsed{};
  bool m_paused = false;
  bool m_stopped = false;
  std::int64_t m_items = 0;
  std::int64_t m_bytes = 0;
  std::map<std::string, std::pair<double, bool>> m_counters;
  std::string m_error;
};

class Benchmark {
public:
  Benchmark(std::string name, std::string module, std::function<void(State&)> function)
      : m_name(std::move(name)), m_module(std::move(module)), m_function(std::move(function)) {}

  // A parameter and its values: every combination of all parameters' values is a benchmark of
  // its own, named "NAME/p1:v1/p2:v2" in the order the parameters were given.
  Benchmark& param(const std::string& name, std::initializer_list<std::int64_t> values) {
    m_params.emplace_back(name, std::vector<std::int64_t>(values));
    return *this;
  }
  // The shortest time one sample takes (iterations are added until it does); --min-time overrides it.
  Benchmark& min_time(double seconds) {
    m_min_time = seconds;
    return *this;
  }

  struct Instance {
    std::string name;
    std::map<std::string, std::int64_t> params;
    std::vector<std::pair<std::string, std::int64_t>> ordered;
  };
  std::vector<Instance> instances() const {
    std::vector<Instance> out(1);
    out[0].name = m_name;
    for (const auto& [name, values] : m_params) {
      std::vector<Instance> next;
      for (const auto& instance : out) {
        for (std::int64_t value : values) {
          Instance more = instance;
          more.name += "/" + name + ":" + std::to_string(value);
          more.params[name] = value;
          more.ordered.emplace_back(name, value);
          next.push_back(std::move(more));
        }
      }
      out = std::move(next);
    }
    return out;
  }
  const std::string& module() const { return m_module; }
  double min_time() const { return m_min_time; }
  void run(State& state) const { m_function(state); }

private:
  std::string m_name;
  std::string m_module;
  std::function<void(State&)> m_function;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> m_params;
  double m_min_time = -1;
};

namespace detail {

inline std::deque<Benchmark>& registry() {
  static std::deque<Benchmark> benchmarks;  // a deque: references to earlier ones stay valid
  return benchmarks;
}

// The file's name without folders and extension: a benchmark's module, as seed-style runners list it.
inline std::string module_of(const char* file) {
  std::string path(file);
  std::size_t slash = path.find_last_of("/\\");
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::size_t dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

inline Benchmark& add(const char* name, const char* file, std::function<void(State&)> function) {
  registry().emplace_back(name, module_of(file), std::move(function));
  return registry().back();
}

inline std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

inline std::string json_number(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

inline int list() {
  std::string out = "[";
  bool first = true;
  for (const auto& benchmark : registry()) {
    for (const auto& instance : benchmark.instances()) {
      out += first ? "\n  " : ",\n  ";
      first = false;
      out += "{\"name\": " + json_string(instance.name) + ", \"module\": " + json_string(benchmark.module()) +
             ", \"parameters\": {";
      for (std::size_t i = 0; i < instance.ordered.size(); ++i) {
        out += (i == 0 ? "" : ", ") + json_string(instance.ordered[i].first) + ": " +
               std::to_string(instance.ordered[i].second);
      }
      out += "}}";
    }
  }
  out += "\n]\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

inline int run(const std::string& wanted, int samples, double min_time) {
  for (const auto& benchmark : registry()) {
    for (const auto& instance : benchmark.instances()) {
      if (instance.name != wanted) {
        continue;
      }
      double floor = min_time >= 0 ? min_time : benchmark.min_time() >= 0 ? benchmark.min_time() : 0.01;
      // Calibrate: grow the iterations until one sample takes at least `floor` seconds.
      std::uint64_t iterations = 1;
      for (;;) {
        State state(iterations, &instance.params);
        benchmark.run(state);
        if (!state.error().empty()) {
          std::fprintf(stderr, "%s: %s\n", wanted.c_str(), state.error().c_str());
          return 1;
        }
        if (state.seconds() >= floor || iterations >= (std::uint64_t{1} << 40)) {
          break;
        }
        double grow = state.seconds() > 0 ? floor / state.seconds() * 1.4 : 10;
        iterations = static_cast<std::uint64_t>(std::ceil(static_cast<double>(iterations) * std::clamp(grow, 1.5, 10.0)));
      }
      std::vector<double> times;
      std::vector<double> items;
      std::vector<double> bytes;
      std::map<std::string, std::pair<double, bool>> counters;
      for (int i = 0; i < samples; ++i) {
        State state(iterations, &instance.params);
        benchmark.run(state);
        if (!state.error().empty()) {
          std::fprintf(stderr, "%s: %s\n", wanted.c_str(), state.error().c_str());
          return 1;
        }
        double seconds = state.seconds();
        times.push_back(seconds / static_cast<double>(iterations));
        if (state.items() > 0 && seconds > 0) {
          items.push_back(static_cast<double>(state.items()) / seconds);
        }
        if (state.bytes() > 0 && seconds > 0) {
          bytes.push_back(static_cast<double>(state.bytes()) / seconds);
        }
        counters = state.counters();
      }
      auto line = [](const std::string& metric, const std::vector<double>& values, const char* unit, bool higher) {
        std::string out = "{\"metric\": " + json_string(metric) + ", \"samples\": [";
        for (std::size_t i = 0; i < values.size(); ++i) {
          out += (i == 0 ? "" : ", ") + json_number(values[i]);
        }
        out += std::string("], \"unit\": \"") + unit + "\"" + (higher ? ", \"direction\": \"higher\"" : "") + "}\n";
        return out;
      };
      std::string out = line("time", times, "s", false);
      if (!items.empty()) {
        out += line("items_per_second", items, "items/s", true);
      }
      if (!bytes.empty()) {
        out += line("bytes_per_second", bytes, "B/s", true);
      }
      for (const auto& [name, value] : counters) {
        if (std::isfinite(value.first)) {
          out += "{\"metric\": " + json_string(name) + ", \"value\": " + json_number(value.first) +
                 (value.second ? ", \"direction\": \"higher\"" : "") + "}\n";
        }
      }
      const char* target = std::getenv("BENCHMATRIX_RESULT_FILE");
      std::FILE* file = target != nullptr && *target != '\0' ? std::fopen(target, "a") : stdout;
      if (file == nullptr) {
        std::fprintf(stderr, "cannot open %s: %s\n", target, std::strerror(errno));
        return 1;
      }
      std::fputs(out.c_str(), file);
      return (file == stdout ? std::fflush(file) : std::fclose(file)) == 0 ? 0 : 1;
    }
  }
  std::fprintf(stderr, "no benchmark named '%s' (--list shows them)\n", wanted.c_str());
  return 2;
}

inline int main(int argc, char** argv) {
  int samples = 10;
  double min_time = -1;
  std::string wanted;
  bool list_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* option) -> std::string {
      std::string prefix = std::string(option) + "=";
      if (arg.rfind(prefix, 0) == 0) {
        return arg.substr(prefix.size());
      }
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", option);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--list") {
      list_only = true;
    } else if (arg == "--run" || arg.rfind("--run=", 0) == 0) {
      wanted = value("--run");
    } else if (arg == "--samples" || arg.rfind("--samples=", 0) == 0) {
      samples = std::atoi(value("--samples").c_str());
    } else if (arg == "--min-time" || arg.rfind("--min-time=", 0) == 0) {
      min_time = std::atof(value("--min-time").c_str());
    } else {
      std::fprintf(stderr, "unknown argument '%s'\nusage: %s --list | --run NAME [--samples N] [--min-time SECONDS]\n",
                   arg.c_str(), argv[0]);
      return 2;
    }
  }
  if (list_only) {
    return list();
  }
  if (wanted.empty() || samples < 1) {
    std::fprintf(stderr, "usage: %s --list | --run NAME [--samples N (>= 1)] [--min-time SECONDS]\n", argv[0]);
    return 2;
  }
  return run(wanted, samples, min_time);
}

} // namespace detail
} // namespace benchmatrix

#define BENCHMATRIX_CONCAT_(a, b) a##b
#define BENCHMATRIX_CONCAT(a, b) BENCHMATRIX_CONCAT_(a, b)
// Registers a function `void fn(benchmatrix::State&)` as a benchmark named as the function.
#define BENCHMATRIX_BENCHMARK(fn)                                                                         \
  [[maybe_unused]] static ::benchmatrix::Benchmark& BENCHMATRIX_CONCAT(benchmatrix_registered_, __LINE__) = \
      ::benchmatrix::detail::add(#fn, __FILE__, fn)
// The program's main: --list and --run NAME.
#define BENCHMATRIX_MAIN()                                                                                \
  int main(int argc, char** argv) { return ::benchmatrix::detail::main(argc, argv); }                     \
  static_assert(true, "")
