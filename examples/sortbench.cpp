// sortbench: the bundled example benchmark. Sorts N 64-bit keys with one algorithm, times only
// the sort, checks the result, and reports per the benchmatrix task protocol: JSON lines appended
// to $BENCHMATRIX_RESULT_FILE when it is set, a human line on stdout otherwise.
#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Keys = std::vector<std::uint64_t>;

constexpr std::array<std::string_view, 5> k_algorithms = {"std_sort", "stable_sort", "heap_sort", "radix_sort",
                                                           "insertion_sort"};
constexpr std::size_t k_max_insertion = 200000;

void radix_sort(Keys& keys) {
  // LSD radix sort, 8-bit digits: 8 stable counting passes.
  Keys buffer(keys.size());
  for (int shift = 0; shift < 64; shift += 8) {
    std::array<std::size_t, 257> counts{};
    for (std::uint64_t key : keys) {
      ++counts[((key >> shift) & 0xff) + 1];
    }
    for (std::size_t i = 1; i < counts.size(); ++i) {
      counts[i] += counts[i - 1];
    }
    for (std::uint64_t key : keys) {
      buffer[counts[(key >> shift) & 0xff]++] = key;
    }
    keys.swap(buffer);
  }
}

void insertion_sort(Keys& keys) {
  for (std::size_t i = 1; i < keys.size(); ++i) {
    std::uint64_t key = keys[i];
    std::size_t j = i;
    while (j > 0 && keys[j - 1] > key) {
      keys[j] = keys[j - 1];
      --j;
    }
    keys[j] = key;
  }
}

// `algorithm` is one of k_algorithms; main checks it before generating the keys.
void sort_with(std::string_view algorithm, Keys& keys) {
  if (algorithm == "std_sort") {
    std::sort(keys.begin(), keys.end());
  } else if (algorithm == "stable_sort") {
    std::stable_sort(keys.begin(), keys.end());
  } else if (algorithm == "heap_sort") {
    std::make_heap(keys.begin(), keys.end());
    std::sort_heap(keys.begin(), keys.end());
  } else if (algorithm == "radix_sort") {
    radix_sort(keys);
  } else if (algorithm == "insertion_sort") {
    insertion_sort(keys);
  }
}

Keys make_keys(std::size_t n, std::uint64_t seed, std::string_view distribution) {
  std::mt19937_64 random(seed);
  Keys keys(n);
  if (distribution == "few_unique") {
    // 16 distinct keys: the case that punishes sorts handling equal keys badly.
    for (auto& key : keys) {
      key = random() % 16;
    }
    return keys;
  }
  for (auto& key : keys) {
    key = random();
  }
  if (distribution == "sorted") {
    std::sort(keys.begin(), keys.end());
  } else if (distribution == "reversed") {
    std::sort(keys.begin(), keys.end(), std::greater<>());
  }
  return keys;
}

constexpr const char* k_synopsis =
    "usage: sortbench --algo ALGO --n N [--seed S] [--dist random|sorted|reversed|few_unique] [--fail-with CODE]\n"
    "       sortbench --list | --list-lines | --help\n";
constexpr const char* k_details =
    "Sorts N 64-bit keys drawn from mt19937_64(S) (S defaults to 42) and times only the sort.\n"
    "ALGO: std_sort stable_sort heap_sort radix_sort insertion_sort (n <= 200000)\n"
    "With BENCHMATRIX_RESULT_FILE set, appends sort_time and throughput as JSON lines to it;\n"
    "otherwise prints one line. --list prints the algorithms as a JSON array, --list-lines one a line.\n"
    "--fail-with CODE exits with CODE after the work, to show how a failing task looks.\n";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "sortbench: %s\n%s", message.c_str(), k_synopsis);
  return 2;
}

bool parse_number(const char* text, std::uint64_t& value) {
  char* end = nullptr;
  errno = 0;
  unsigned long long parsed = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] < '0' || text[0] > '9') {
    return false;
  }
  value = parsed;
  return true;
}

void print_algorithms(bool json) {
  std::string out = json ? "[" : "";
  for (std::string_view name : k_algorithms) {
    if (json) {
      out += out.size() > 1 ? ",\"" : "\"";
      out += name;
      out += '"';
    } else {
      out += name;
      out += '\n';
    }
  }
  std::fputs(json ? (out + "]\n").c_str() : out.c_str(), stdout);
}

// Appends one line per metric (the benchmatrix task protocol); false when the file cannot take them.
bool append_metrics(const char* path, double seconds, double throughput) {
  std::FILE* file = std::fopen(path, "a");
  if (file == nullptr) {
    std::fprintf(stderr, "sortbench: cannot open %s: %s\n", path, std::strerror(errno));
    return false;
  }
  std::fprintf(file, "{\"metric\":\"sort_time\",\"value\":%.9g,\"unit\":\"s\",\"direction\":\"lower\"}\n", seconds);
  std::fprintf(file, "{\"metric\":\"throughput\",\"value\":%.9g,\"unit\":\"elements/s\",\"direction\":\"higher\"}\n",
               throughput);
  bool written = std::ferror(file) == 0;
  // fclose flushes: a full disk shows up here, not at fprintf.
  if (std::fclose(file) != 0 || !written) {
    std::fprintf(stderr, "sortbench: cannot write %s: %s\n", path, std::strerror(errno));
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  std::string algorithm;
  std::string distribution = "random";
  std::uint64_t n = 0;
  std::uint64_t seed = 42;
  std::uint64_t fail_with = 0;
  bool have_n = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s%s", k_synopsis, k_details);
      return 0;
    }
    if (arg == "--list" || arg == "--list-lines") {
      print_algorithms(arg == "--list");
      return 0;
    }
    if (arg != "--algo" && arg != "--dist" && arg != "--n" && arg != "--seed" && arg != "--fail-with") {
      return usage_error("unknown option '" + std::string(arg) + "'");
    }
    if (i + 1 >= argc) {
      return usage_error(std::string(arg) + " needs a value");
    }
    const char* text = argv[++i];
    if (arg == "--algo") {
      algorithm = text;
    } else if (arg == "--dist") {
      distribution = text;
    } else if (arg == "--n") {
      if (!parse_number(text, n) || n == 0 || n > (1ULL << 32)) {
        return usage_error("--n needs a whole number from 1 to 4294967296, not '" + std::string(text) + "'");
      }
      have_n = true;
    } else if (arg == "--seed") {
      if (!parse_number(text, seed)) {
        return usage_error("--seed needs a non-negative whole number, not '" + std::string(text) + "'");
      }
    } else if (!parse_number(text, fail_with) || fail_with > 255) {
      return usage_error("--fail-with needs an exit code from 0 to 255, not '" + std::string(text) + "'");
    }
  }
  if (algorithm.empty() || !have_n) {
    return usage_error("--algo and --n are required");
  }
  if (std::find(k_algorithms.begin(), k_algorithms.end(), algorithm) == k_algorithms.end()) {
    return usage_error("unknown algorithm '" + algorithm + "'");
  }
  if (distribution != "random" && distribution != "sorted" && distribution != "reversed" &&
      distribution != "few_unique") {
    return usage_error("unknown distribution '" + distribution + "'");
  }
  if (algorithm == "insertion_sort" && n > k_max_insertion) {
    std::fprintf(stderr, "sortbench: insertion_sort is quadratic; refusing n > %zu (got %llu)\n", k_max_insertion,
                 static_cast<unsigned long long>(n));
    return 2;
  }

  Keys keys = make_keys(static_cast<std::size_t>(n), seed, distribution);
  auto start = std::chrono::steady_clock::now();
  sort_with(algorithm, keys);
  auto end = std::chrono::steady_clock::now();
  if (!std::is_sorted(keys.begin(), keys.end())) {
    std::fprintf(stderr, "sortbench: %s produced an unsorted result\n", algorithm.c_str());
    return 1;
  }
  double seconds = std::chrono::duration<double>(end - start).count();
  double throughput = seconds > 0 ? static_cast<double>(n) / seconds : 0;

  if (const char* path = std::getenv("BENCHMATRIX_RESULT_FILE"); path != nullptr && *path != '\0') {
    if (!append_metrics(path, seconds, throughput)) {
      return 1;
    }
  } else {
    std::printf("%s n=%llu dist=%s seed=%llu: %.6f s (%.3g elements/s)\n", algorithm.c_str(),
                static_cast<unsigned long long>(n), distribution.c_str(), static_cast<unsigned long long>(seed),
                seconds, throughput);
  }
  return static_cast<int>(fail_with);
}
