// kernels: a Google Benchmark program of four small kernels, built twice by the example build:
// `gbench_kernels` as it is, and `gbench_kernels_slow` with hash.cpp compiled with
// BENCHMATRIX_SLOW_HASH, which makes exactly one benchmark (BM_hash) do its work twice: a known 2x
// regression for trying `benchmatrix run --gate` (examples/gbench_gate.yaml) on a real benchmark
// binary. BM_hash lives in its own file, linked last, so that the other benchmarks' code sits at
// the same addresses in both builds (a change of code alignment alone can move a tight loop by
// several percent, which benchmatrix would rightly report).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "kernels.hpp"

std::vector<std::uint64_t> keys(std::size_t n) {
  std::mt19937_64 random(42);
  std::vector<std::uint64_t> values(n);
  for (auto& value : values) {
    value = random();
  }
  return values;
}

namespace {

void BM_sort(benchmark::State& state) {
  const auto input = keys(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    auto copy = input;
    std::sort(copy.begin(), copy.end());
    benchmark::DoNotOptimize(copy.data());
  }
}
BENCHMARK(BM_sort)->Arg(1 << 14);

void BM_accumulate(benchmark::State& state) {
  const auto input = keys(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(std::accumulate(input.begin(), input.end(), std::uint64_t{0}));
  }
}
BENCHMARK(BM_accumulate)->Arg(1 << 16);

void BM_partial_sum(benchmark::State& state) {
  const auto input = keys(static_cast<std::size_t>(state.range(0)));
  std::vector<std::uint64_t> output(input.size());
  for (auto _ : state) {
    std::partial_sum(input.begin(), input.end(), output.begin());
    benchmark::DoNotOptimize(output.data());
  }
}
BENCHMARK(BM_partial_sum)->Arg(1 << 16);

} // namespace

BENCHMARK_MAIN();
