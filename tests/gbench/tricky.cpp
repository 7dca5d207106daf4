// A Google Benchmark program whose benchmarks test what benchmatrix must get right: names holding
// regex characters, arguments and threads to split into axes, an error, a NaN counter, rates,
// and prints to stdout that must not reach the results. With TRICKY_WITHOUT_WEIRD, one benchmark
// is missing (a second build that lacks it).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <vector>

namespace {

void spin(benchmark::State& state) {
  std::vector<int> data(static_cast<size_t>(state.range(0)), 1);
  for (auto _ : state) {
    long sum = 0;
    for (int value : data) {
      sum += value;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(spin)->Arg(8)->Arg(64)->Threads(1)->Threads(2);

void weird(benchmark::State& state) {
  std::printf("{\"benchmarks\": \"this print must not be read\"}\n");
  for (auto _ : state) {
    benchmark::DoNotOptimize(state.iterations());
  }
  state.counters["ratio"] = std::nan("");
  state.counters["hits"] = 42;
}

void broken(benchmark::State& state) {
  state.SkipWithError("no device found");
  for (auto _ : state) {
  }
}

template <typename T>
void templated(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(T{});
  }
}
BENCHMARK_TEMPLATE(templated, int);

[[maybe_unused]] const int registered = [] {
#ifndef TRICKY_WITHOUT_WEIRD
  benchmark::RegisterBenchmark("weird(a*b)[0]+$", weird);
  benchmark::RegisterBenchmark("weird(a*b)[0]", weird);
#endif
  benchmark::RegisterBenchmark("broken", broken);
  return 0;
}();

} // namespace

BENCHMARK_MAIN();
