#include "cli/options.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace bm {

namespace {

void add_run_options(CLI::App& command, RunOptions& options) {
  auto* jobs = command.add_option("-j,--jobs", options.jobs, "Run N tasks at once, each pinned to its own core")
                   ->check(CLI::Range(1, 4096));
  command.add_flag("--parallel", options.parallel, "One slot per usable physical core (core 0 stays free)")
      ->excludes(jobs);
  command.add_option("--cores", options.cores, "CPUs to use, e.g. 1-7 or 2,4,6 (default: one per physical core)");
  command.add_option("--gpus", options.gpus, "GPU indices to hand out, e.g. 0,1");
  command.add_option("--per-gpu", options.per_gpu, "Tasks sharing one GPU at once")->check(CLI::Range(1, 64));
  command.add_option("-o,--out", options.out, "Results folder (default: results/<name>)");
  command.add_option("--filter", options.filter, "Only tasks matching axis=GLOB[,axis!=GLOB...]");
  command.add_flag("--force", options.force, "Run tasks again even when their result exists");
  command.add_option("--retries", options.retries, "Attempts after a failure (replaces task.retries)")
      ->check(CLI::Range(0, 100));
  command.add_option("--halt", options.halt,
                     "At the first failed task (after its retries): never (default) goes on; soon starts nothing "
                     "more and lets running tasks finish; now also ends the running ones")
      ->check(CLI::IsMember({"never", "soon", "now"}));
  command.add_option("--timeout", options.timeout, "Time limit per process, e.g. 30s (replaces task.timeout)");
  command.add_option("--executor", options.executor,
                     "local (default), or slurm: tasks go to the cluster as job arrays (replaces `executor:`)")
      ->check(CLI::IsMember({"local", "slurm"}));
  command.add_flag("-n,--dry-run", options.dry_run, "Show what would run; start and write nothing");
  command.add_flag("--oversubscribe", options.oversubscribe,
                   "Allow more slots than cores, unpinned (throughput only: timings are not comparable)");
  command.add_flag("--use-core0", options.use_core0, "Do not keep core 0 free for the system");
  auto* verbose = command.add_flag("-v,--verbose", options.verbose, "Also say when each task starts");
  command.add_flag("-q,--quiet", options.quiet, "Say only failures, interrupts and the summary")->excludes(verbose);
  command.add_option("--progress", options.progress,
                     "Live display of running tasks: auto (when stdout or stderr is a terminal and TERM is not "
                     "dumb), always, never (plain lines, with a heartbeat every 60 s)")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  command.add_option("--color", options.color,
                     "Colours: auto (on a terminal, unless NO_COLOR is set; FORCE_COLOR forces them), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  command.add_option("--events", options.events,
                     "Write the run's events as JSON lines to FILE, or to an open descriptor as fd:N "
                     "(plan, start, process, sample, end, interrupt, summary)");
  command.add_flag("--gate", options.gate,
                   "Exit 3 when a comparison with the baseline finds a regression, or a task of the baseline's "
                   "groups failed (as analysis.gate: true)");
  command.add_option("--export-json", options.export_json, "At the end, write summary.json's content to this file too");
  command.add_option("--export-csv", options.export_csv, "At the end, write every sample (samples.csv) to this file too");
  command.add_option("--export-markdown", options.export_markdown, "At the end, write the tables as Markdown to this file");
  command.add_option("--export-hyperfine", options.export_hyperfine,
                     "At the end, write the results in hyperfine's --export-json schema (its plotting scripts read it)");
  command.add_option("--durability", options.durability,
                     "group: results are synced to disk every 50 ms, off the task path (default); off: never "
                     "synced (safe against a crash of benchmatrix, not of the machine)")
      ->check(CLI::IsMember({"group", "off"}));
  command.add_option("--isolation", options.isolation,
                     "cgroup per process (cpuset, memory, pids): auto (when possible), cgroup (required), none")
      ->check(CLI::IsMember({"auto", "cgroup", "none"}));
}

void add_analysis_options(CLI::App& command, AnalysisOptions& options, bool baseline) {
  if (baseline) {
    command.add_option("--baseline", options.baseline, "Compare every value of an axis with this one: axis=value");
  }
  command.add_option("--metric", options.metric,
                     "Metric to compare (default: the tasks' first own metric); report: several, a,b, shown side by side");
  command.add_option("--threshold", options.threshold, "Smallest difference that matters, e.g. 2% (default) or 0.05");
  command.add_option("--correction", options.correction, "holm (default), bonferroni, bh or none");
  command.add_option("--confidence", options.confidence, "Confidence level, default 0.95")
      ->check(CLI::Range(0.5, 0.9999));
  command.add_flag("--remove-outliers", options.remove_outliers, "Drop flagged outliers before comparing");
}

} // namespace

std::optional<int> parse_command_line(int argc, char** argv, CommandLine& out) {
  CLI::App app{"benchmatrix: run matrices of benchmark variants as isolated, pinned processes; keep every "
               "result; resume where it stopped."};
  app.set_version_flag("--version", std::string("benchmatrix ") + BENCHMATRIX_VERSION);
  app.require_subcommand(1);

  auto* run = app.add_subcommand("run", "Run the tasks of a config that are not done yet");
  run->add_option("config", out.config, "Config file (YAML or JSON)")->required();
  add_run_options(*run, out.run);

  auto* list = app.add_subcommand("list", "Show the expanded tasks and their state (done, pending, stale, failed)");
  list->add_option("config", out.list.config, "Config file (YAML or JSON)")->required();
  list->add_option("-o,--out", out.list.out, "Results folder (default: results/<name>)");
  list->add_option("--filter", out.list.filter, "Only tasks matching axis=GLOB[,axis!=GLOB...]");
  list->add_flag("--json", out.list.json, "One JSON object per task");

  auto* topology = app.add_subcommand("topology", "Show the cores found and which a run would use");
  auto* topology_jobs = topology->add_option("-j,--jobs", out.topology.jobs, "As for run")->check(CLI::Range(1, 4096));
  topology->add_flag("--parallel", out.topology.parallel, "As for run")->excludes(topology_jobs);
  topology->add_option("--cores", out.topology.cores, "As for run");
  topology->add_flag("--use-core0", out.topology.use_core0, "As for run");

  auto* exec = app.add_subcommand(
      "exec", "Compare commands or run a one-line matrix: benchmatrix exec 'sleep 0.1' 'sleep 0.2', or "
              "benchmatrix exec -p n=1,2 -- ./bench --n {n}. Without --, each COMMAND is a shell command; with --, "
              "the words after it are one command's argv");
  exec->add_option("-p,--parameter", out.exec.parameters,
                   "An axis: NAME=V1,V2,... (repeatable; \\, is a comma inside a value)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  exec->add_option("-L,--parameter-list", out.exec.parameter_lists, "An axis as hyperfine writes it: -L NAME V1,V2,...")
      ->type_size(2)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  exec->add_option("-P,--parameter-scan", out.exec.parameter_scans, "A numeric axis: -P NAME MIN MAX (step -D)")
      ->type_size(3)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  exec->add_option("-D,--parameter-step-size", out.exec.step, "The step of -P (default 1)");
  auto* runs = exec->add_option("-r,--runs", out.exec.runs, "Measured runs (processes) per task [default: 10]")
                   ->check(CLI::Range(1, 1000000));
  exec->add_option("-m,--min-runs", out.exec.min_runs,
                   "Adaptive: at least this many runs, more until the median's 95% CI is within 2% [default: 5]")
      ->check(CLI::Range(2, 1000000))->excludes(runs);
  exec->add_option("-M,--max-runs", out.exec.max_runs, "Adaptive: at most this many runs [default: 100]")
      ->check(CLI::Range(2, 1000000))->excludes(runs);
  exec->add_option("-w,--warmup", out.exec.warmup, "Warm-up runs per task [default: 0]")->check(CLI::Range(0, 1000000));
  exec->add_option("--prepare", out.exec.prepare,
                   "A shell command run before each warm-up and measured run, unmeasured (drop caches, reset state)");
  exec->add_option("--command-name", out.exec.command_names,
                   "Names of the commands, in order (default: the commands themselves)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false);
  exec->add_flag("--shell", out.exec.shell, "Run the words after -- as one /bin/sh -c script (values are quoted)");
  exec->add_option("--name", out.exec.name, "Name of the run (default: exec-<hash of the command>)");
  exec->add_option("--gbench", out.exec.gbench,
                   "A Google Benchmark program (may name a -p axis: {build}): each of its benchmarks runs in processes "
                   "of its own; COMMAND, if given, is extra arguments for it");
  exec->add_option("--metrics-file", out.exec.metrics_file,
                   "A file each run writes into its folder ($BENCHMATRIX_RESULT_DIR): JSON metrics, or "
                   "lm-evaluation-harness results");
  add_run_options(*exec, out.run);
  exec->add_option("command", out.exec.command,
                   "Shell commands to compare (the first is the baseline), or, after --, one command's words");

  auto* report = app.add_subcommand("report", "Recompute statistics and reports from a results folder, running "
                                               "nothing");
  report->add_option("out", out.report.out, "Results folder")->required();
  report->add_option("--rows", out.report.rows, "Pivot the metric: these axes down, e.g. model,config");
  report->add_option("--columns", out.report.columns, "... and these across, e.g. benchmark_subset");
  report->add_option("--output", out.report.output,
                     "Write summary.json, samples.csv, comparison_table.md and report.html into this folder instead "
                     "of OUT (needs no lock on OUT: works while a run is writing it)");
  report->add_option("--export-json", out.report.export_json, "Write summary.json's content to this file only");
  report->add_option("--export-csv", out.report.export_csv, "Write every sample (samples.csv) to this file only");
  report->add_option("--export-markdown", out.report.export_markdown,
                     "Write the tables (comparison_table.md) to this file only");
  report->add_option("--export-html", out.report.export_html,
                     "Write the interactive report (report.html) to this file only; links to logs stay valid");
  report->add_option("--export-hyperfine", out.report.export_hyperfine,
                     "Write the results in hyperfine's --export-json schema to this file only (its plotting scripts "
                     "read it)");
  report->add_option("--export-plots", out.report.export_plots,
                     "Write the standard plots (comparison, scaling, memory, GPU use) as SVG, and PNG with "
                     "rsvg-convert, into this folder (needs Node.js)");
  report->add_option("--sample-budget", out.report.sample_budget,
                     "Raw sample values report.html embeds at most (default 200000; tasks beyond it are shown "
                     "by their statistics)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{100'000'000}));
  add_analysis_options(*report, out.report.analysis, true);

  auto* compare = app.add_subcommand("compare", "Compare two results folders task by task; exit 3 when NEW is "
                                                "significantly and practically worse than BASE");
  compare->add_option("base", out.compare.base, "Results folder of the baseline")->required();
  compare->add_option("new", out.compare.candidate, "Results folder to check")->required();
  add_analysis_options(*compare, out.compare.analysis, false);
  compare->add_flag("--allow-missing", out.compare.allow_missing,
                    "Exit 3 only for regressions, not for tasks of BASE that are missing, failed or timed out in NEW");
  compare->add_option("--export-json", out.compare.export_json, "Write the comparisons as JSON to this file");
  compare->add_option("--export-markdown", out.compare.export_markdown,
                      "Write the comparisons as Markdown (a CI job summary) to this file");
  compare->add_option("--export-junit", out.compare.export_junit,
                      "Write the comparisons as JUnit XML (one test case each) to this file");

  auto* import = app.add_subcommand("import", "Make a results folder from hyperfine's --export-json or "
                                              "pytest-benchmark's --benchmark-json file (then report, compare)");
  import->add_option("file", out.import.file, "The JSON file")->required();
  import->add_option("-o,--out", out.import.out, "Results folder (default: results/<name>)");
  import->add_option("--format", out.import.format, "auto (from the content), hyperfine or pytest_benchmark")
      ->check(CLI::IsMember({"auto", "hyperfine", "pytest_benchmark"}));
  import->add_option("--name", out.import.name, "Name of the results (default: import-<file name>)");
  import->add_flag("--force", out.import.force, "Import into a folder holding other results (same paths are replaced)");

  auto* version = app.add_subcommand("version", "The version, and the schema versions of the results tree and the "
                                               "events stream (what a client such as the Python package checks)");
  version->add_flag("--json", out.version_json, "As one JSON object");

  auto* worker = app.add_subcommand("worker", "Run one element of a cluster run (what `run --executor slurm` submits "
                                             "to each array element; not run by hand)");
  worker->add_option("--submission", out.worker.submission, "The array's submission file (OUT/runs/<run>/slurm/array-N.json)")
      ->required();
  worker->add_option("--element", out.worker.element, "The element's index (default: $SLURM_ARRAY_TASK_ID)")
      ->check(CLI::Range(0L, 100000000L));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    // CLI11 exits 0 for --help and --version; every real usage error is our exit code 2.
    return code == 0 ? 0 : 2;
  }
  if (run->parsed()) {
    out.command = CommandLine::Command::Run;
  } else if (list->parsed()) {
    out.command = CommandLine::Command::List;
    out.config = out.list.config;
  } else if (topology->parsed()) {
    out.command = CommandLine::Command::Topology;
  } else if (exec->parsed()) {
    out.command = CommandLine::Command::Exec;
    out.run.hyperfine_summary = true;
    // With `--` the words after it are one argv; without, each positional is a shell command.
    bool seen_exec = false;
    for (int i = 1; i < argc; ++i) {
      std::string_view word = argv[i];
      seen_exec = seen_exec || word == "exec";
      if (seen_exec && word == "--") {
        out.exec.argv_mode = true;
        break;
      }
    }
  } else if (report->parsed()) {
    out.command = CommandLine::Command::Report;
  } else if (compare->parsed()) {
    out.command = CommandLine::Command::Compare;
  } else if (import->parsed()) {
    out.command = CommandLine::Command::Import;
  } else if (version->parsed()) {
    out.command = CommandLine::Command::Version;
  } else if (worker->parsed()) {
    out.command = CommandLine::Command::Worker;
  }
  return std::nullopt;
}

} // namespace bm
