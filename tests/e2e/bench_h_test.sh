# benchmatrix/bench.h as a user gets it: installed with the tool, found by find_package, a
# benchmark file with parameters, counters and an error; --list, --run, and a config with
# `source: {bench_h: ...}` running each benchmark in processes of its own.
source "$(dirname "$0")/lib.sh"
: "${BUILD_DIR:?set by CTest}"

cmake --install "$BUILD_DIR" --prefix "$WORK/prefix" >install.txt
[ -f prefix/include/benchmatrix/bench.h ] || fail "the header was not installed"
[ -x prefix/bin/benchmatrix ] || fail "the tool was not installed"

mkdir project
cat >project/CMakeLists.txt <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(mine CXX)
find_package(benchmatrix CONFIG REQUIRED)
add_executable(my_bench my_bench.cpp)
target_link_libraries(my_bench PRIVATE benchmatrix::bench)
CMAKE
cat >project/my_bench.cpp <<'CPP'
#include <benchmatrix/bench.h>
#include <vector>

static void fill(benchmatrix::State& state) {
  std::vector<char> buffer(static_cast<size_t>(state.param("bytes")));
  for (auto _ : state) {
    std::fill(buffer.begin(), buffer.end(), 'x');
    benchmatrix::do_not_optimize(buffer.data());
  }
  state.set_bytes_processed(static_cast<std::int64_t>(state.iterations()) * state.param("bytes"));
  state.counter("pages", static_cast<double>(state.param("bytes")) / 4096);
}
BENCHMATRIX_BENCHMARK(fill).param("bytes", {4096, 65536}).param("twice", {0, 1});

static void needs_gpu(benchmatrix::State& state) {
  state.skip_with_error("no GPU here");
  for (auto _ : state) {
  }
}
BENCHMATRIX_BENCHMARK(needs_gpu);
BENCHMATRIX_MAIN();
CPP
cmake -S project -B project/build -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" >configure.txt 2>&1 ||
  { cat configure.txt >&2; fail "find_package(benchmatrix) failed"; }
cmake --build project/build >build.txt 2>&1 || { cat build.txt >&2; fail "the benchmark file did not build"; }
bench=project/build/my_bench

"$bench" --list >list.json
python3 - <<'PY'
import json
listed = json.load(open("list.json"))
names = [b["name"] for b in listed]
assert names == ["fill/bytes:4096/twice:0", "fill/bytes:4096/twice:1", "fill/bytes:65536/twice:0",
                 "fill/bytes:65536/twice:1", "needs_gpu"], names
assert listed[0]["module"] == "my_bench" and listed[0]["parameters"] == {"bytes": 4096, "twice": 0}, listed[0]
PY
"$bench" --run fill/bytes:4096/twice:0 --samples 3 --min-time 0.001 >one.txt
assert_contains one.txt '"metric": "time", "samples": ['
assert_contains one.txt '"metric": "bytes_per_second"'
code=0; "$bench" --run nope 2>err.txt || code=$?
assert_eq "$code" 2 "an unknown benchmark name"
assert_contains err.txt "no benchmark named 'nope'"

cat >bench.yaml <<YAML
name: header
source: {bench_h: "$bench", args: ["--samples", "3", "--min-time", "0.001"], split: true}
repeat: {runs: 2}
YAML
run_bm 1 run bench.yaml --out out
assert_contains out.txt "header: 4 succeeded, 1 failed"
assert_contains out.txt "benchmark=fill bytes=65536 twice=1  time"
assert_contains out.txt "benchmark=needs_gpu  run 1 of 2: exit code 1"
python3 - <<'PY'
import json
r = json.load(open("out/tasks/fill_65536_1/result.json"))
assert r["spec"]["command"][1:3] == ["--run", "fill/bytes:65536/twice:1"], r["spec"]["command"]
m = r["metrics"]
assert m["time"]["n"] == 6 and m["time"]["unit"] == "s", m["time"]          # 3 samples in each of 2 processes
assert m["bytes_per_second"]["direction"] == "higher", m["bytes_per_second"]
assert m["pages"]["median"] == 16, m["pages"]
PY
assert_contains out/tasks/needs_gpu/stderr.log "needs_gpu: no GPU here"
