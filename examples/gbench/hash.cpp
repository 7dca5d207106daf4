// BM_hash: FNV-1a over 16,384 keys; with BENCHMATRIX_SLOW_HASH, twice (the known regression).
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "kernels.hpp"

namespace {

std::uint64_t fnv1a(const std::vector<std::uint64_t>& values) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (std::uint64_t value : values) {
    for (int byte = 0; byte < 8; ++byte) {
      hash = (hash ^ ((value >> (8 * byte)) & 0xff)) * 1099511628211ULL;
    }
  }
  return hash;
}

void BM_hash(benchmark::State& state) {
  const auto input = keys(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(fnv1a(input));
#ifdef BENCHMATRIX_SLOW_HASH
    benchmark::DoNotOptimize(fnv1a(input));  // the regression: the same work twice
#endif
  }
}
BENCHMARK(BM_hash)->Arg(1 << 14);

} // namespace
