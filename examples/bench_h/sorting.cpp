// Benchmarks written with benchmatrix/bench.h, built twice: the "new" build sorts with
// std::stable_sort instead of std::sort (a real change to find); summing is the same in both.
//   ./build/examples/bench_h_base --list
//   ./build/benchmatrix run examples/bench_h.yaml
#include <benchmatrix/bench.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace {

std::vector<std::int32_t> random_ints(std::int64_t n) {
  std::mt19937 random(42);
  std::vector<std::int32_t> data(static_cast<std::size_t>(n));
  for (auto& value : data) {
    value = static_cast<std::int32_t>(random());
  }
  return data;
}

void sort_ints(benchmatrix::State& state) {
  const std::vector<std::int32_t> data = random_ints(state.param("n"));
  std::vector<std::int32_t> copy;
  for (auto _ : state) {
    state.pause_timing();
    copy = data;
    state.resume_timing();
#ifdef SORTING_NEW_BUILD
    std::stable_sort(copy.begin(), copy.end());
#else
    std::sort(copy.begin(), copy.end());
#endif
    benchmatrix::do_not_optimize(copy.data());
  }
  state.set_items_processed(static_cast<std::int64_t>(state.iterations()) * state.param("n"));
}
BENCHMATRIX_BENCHMARK(sort_ints).param("n", {1000, 100000});

void sum_ints(benchmatrix::State& state) {
  const std::vector<std::int32_t> data = random_ints(state.param("n"));
  for (auto _ : state) {
    std::int64_t sum = std::accumulate(data.begin(), data.end(), std::int64_t{0});
    benchmatrix::do_not_optimize(sum);
  }
  state.set_bytes_processed(static_cast<std::int64_t>(state.iterations()) * state.param("n") * 4);
}
BENCHMATRIX_BENCHMARK(sum_ints).param("n", {100000});

} // namespace

BENCHMATRIX_MAIN();
