"""One stub of BenchmarkExecutor, in a process of its own: `python -m benchmatrix.worker ...`,
started through the launcher BenchmarkExecutor writes (`<base_result_dir>.python/bin/benchmatrix-worker`).

The engine started this process with CUDA_VISIBLE_DEVICES already set to the GPUs it was given;
the user's code (the registry's modules) is imported only here, after that.
"""

import argparse
import importlib
import importlib.util
import json
import os
import pickle
import sys
from pathlib import Path


def _script_module(path):
    """The user's script, imported under another name, so that its `if __name__ == "__main__":`
    block (which started the executor) does not run again."""
    module = sys.modules.get("__benchmatrix_script__")
    if module is None:
        spec = importlib.util.spec_from_file_location("__benchmatrix_script__", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["__benchmatrix_script__"] = module
        sys.path.insert(0, str(Path(path).parent))
        spec.loader.exec_module(module)
    return module


class _Unpickler(pickle.Unpickler):
    """Classes the user's script defined were pickled as __main__.X: here they are the script's."""

    def __init__(self, file, script):
        super().__init__(file)
        self.script = script

    def find_class(self, module, name):
        if module == "__main__" and self.script:
            return getattr(_script_module(self.script), name)
        return super().find_class(module, name)


def _load_factory(location):
    if "script" in location:
        module = _script_module(location["script"])
    else:
        if location.get("path") and location["path"] not in sys.path:
            sys.path.append(location["path"])  # after the environment's own entries
        module = importlib.import_module(location["module"])
    target = module
    for part in location["name"].split("."):
        target = getattr(target, part)
    return target


def _payload(directory, key, script=None):
    with open(Path(directory) / f"{key}.pkl", "rb") as file:
        return _Unpickler(file, script).load()


def _import_paths(registry):
    """The folders the user's modules were imported from, after the environment's own entries."""
    for location in [*registry["adapters"].values(), *registry["benchmarks"].values()]:
        if location.get("path") and location["path"] not in sys.path:
            sys.path.append(location["path"])


def validate(registry, models):
    """`--validate-gpu MODEL...`: the engine's per-GPU check, run with one GPU visible."""
    _import_paths(registry)
    check = _load_factory(registry["validate_gpu"])
    gpu = int(os.environ["BENCHMATRIX_GPUS"])
    for model in models:
        if not check(gpu, model):
            print(f"validate_gpu: {model} cannot be used on GPU {gpu}", flush=True)
            return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmatrix.worker")
    parser.add_argument("--registry", required=True)
    parser.add_argument("--payloads", required=True)
    parser.add_argument("--validate-gpu", nargs="+", metavar="MODEL")
    parser.add_argument("--model")
    parser.add_argument("--config-name")
    parser.add_argument("--config-key")
    parser.add_argument("--benchmark")
    parser.add_argument("--subset", default="")
    parser.add_argument("--adapter-key")
    parser.add_argument("--generation-key")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    registry = json.loads(Path(args.registry).read_text(encoding="utf-8"))
    if args.validate_gpu:
        return validate(registry, args.validate_gpu)
    missing = [name for name in ("model", "config_name", "config_key", "benchmark", "adapter_key", "generation_key")
               if getattr(args, name) is None]
    if missing:
        parser.error("missing " + ", ".join("--" + name.replace("_", "-") for name in missing))
    script = registry.get("main_script")
    adapter_config = _payload(args.payloads, args.adapter_key, script)
    # The user's modules first: the pickled configs may be instances of their classes.
    make_adapter = _load_factory(registry["adapters"][adapter_config.adapter_name])
    make_benchmark = _load_factory(registry["benchmarks"][args.benchmark])
    _import_paths(registry)
    sparse_config = _payload(args.payloads, args.config_key, script)
    generation_kwargs = _payload(args.payloads, args.generation_key, script)
    result_dir = os.environ["BENCHMATRIX_RESULT_DIR"]
    print(f"stub: model={args.model} config={args.config_name} benchmark={args.benchmark} "
          f"subset={args.subset or '-'} gpus={os.environ.get('CUDA_VISIBLE_DEVICES', '')}", flush=True)
    adapter = make_adapter(args.model, sparse_config, adapter_config, generation_kwargs)
    benchmark = make_benchmark(args.subset or None)
    benchmark.run_benchmark(adapter, result_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
