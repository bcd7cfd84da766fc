"""The whole benchmark harness as one plan: every command of the README's Benchmarks section, in order.

`python -m benchmarks.run_all` is the command line; `run(HarnessConfig(...))` is the library call. Each step is
its own `python -m benchmarks.<script>` process, started from the repository root exactly as the README writes
it, so the command each result JSON records (and `RESULTS.md` shows beside its row) is the README's command.

Example:
    >>> from benchmarks import harness
    >>> config = harness.HarnessConfig(models=("vae",), dry_run=True)
    >>> [step.command() for step in harness.plan(config)][0]
    'python -m benchmarks.train_benchmark --models=vae'
"""

import dataclasses
import os
import subprocess
import sys
import time
from typing import Optional, Tuple

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The README's Benchmarks section, in its order. The train_benchmark commands: (models, levels, other flags);
# `levels` marks the 256-level runs, whose result files carry a `_256levels` suffix.
_TRAIN_RUNS = (
    (("vae", "gan", "dcgan"), None, ()),
    (("pixel_cnn", "row_lstm", "gated_pixel_cnn", "diagonal_bilstm"), None, ("--sample_repeats=1",)),
    (("vae", "pixel_cnn", "row_lstm", "gated_pixel_cnn", "diagonal_bilstm"), 256, ("--sample_repeats=1",)),
)
_TFP_LEVELS = (2, 256)
_LOOP_MODELS = ("gan", "vae", "dcgan", "pixel_cnn")
_SERVING_MODELS = ("dcgan", "vae", "pixel_cnn")
_SAMPLING_MODELS = ("pixel_cnn", "gated_pixel_cnn", "row_lstm", "diagonal_bilstm")  # Its default --runs.
_TRAIN_SPEED_MODELS = ("pixel_cnn", "gated_pixel_cnn", "row_lstm", "diagonal_bilstm")
TFP_REFERENCE = "tfp_pixel_cnn"
PIXEL_CNN_PP = "pixel_cnn_pp"  # measured side by side with tfd.PixelCNN by its own script
_PIXEL_CNN_PP_MODES = (("speed", "pixel_cnn_pp_speed"), ("likelihood", "pixel_cnn_pp_256levels"))
CYCLEGAN = "cyclegan"  # trained and scored by its own script: it translates instead of sampling

# --quick: every script's own "quick check" flags, so each code path runs once on a few batches.
_QUICK_TRAIN = ("--steps_per_epoch=2", "--eval_take=500", "--sample_repeats=1", "--eval_samples=0",
                "--iwae_k=2", "--iwae_take=250")
_QUICK_TFP = ("--steps_per_epoch=2",)
_QUICK_PIXEL_CNN_PP = {
    "speed": ("--port_steps=2", "--repeats=1", "--forward_repeats=1", "--train_steps=1"),
    "likelihood": ("--seconds=5", "--block_steps=1", "--test_take=1"),
}
_QUICK_CYCLEGAN = ("--steps_per_epoch=2", "--eval_take=100", "--translate_repeats=1")
_QUICK_LOOP = ("--steps=3", "--repeats=1")
_QUICK_SERVING = ("--repeats=1", "--batch_sizes=1")
_QUICK_SAMPLING = ("--batch_sizes=1", "--repeats=1", "--forward_repeats=1")
_QUICK_TRAIN_SPEED = ("--repeats=1",)
QUICK_OUTPUT_DIR = "runs/bench_quick"


class StepFailedError(RuntimeError):
    """A benchmark command exited with a non-zero status."""


@dataclasses.dataclass(frozen=True)
class HarnessConfig:
    """What `run` runs.

    Args:
        models: only the steps that measure one of these models (registered names, or "tfp_pixel_cnn", the
            reference, which also follows "pixel_cnn" since it trains for `pixel_cnn`'s wall time); training
            steps are narrowed to them. The loop, serving, sampling and training-speed benchmarks, whose one
            result file holds every model they measure, run whole when they involve one. None: everything.
        quick: a smoke run of every step on a few batches (each script's quick-check flags), written under
            `output_dir` (default `runs/bench_quick`), never over `benchmarks/results`. Still minutes per
            autoregressive model: sampling is not shortened.
        skip_existing: skip what already has its result file (per model for the training steps), e.g. to
            resume an interrupted run; `RESULTS.md` is always regenerated.
        dry_run: print the plan, run nothing.
        output_dir: a directory for results/, figures/, runs/ and RESULTS.md instead of the scripts' defaults
            (`benchmarks/results`, `benchmarks/figures`, `runs/bench`, `benchmarks/RESULTS.md`); relative to
            the repository root.
        python: the interpreter of the steps (default: this one).
    """

    models: Optional[Tuple[str, ...]] = None
    quick: bool = False
    skip_existing: bool = False
    dry_run: bool = False
    output_dir: Optional[str] = None
    python: str = sys.executable

    def __post_init__(self):
        if self.models is not None:
            object.__setattr__(self, "models", tuple(self.models))
            known = benchmarked_models()
            unknown = [m for m in self.models if m not in known]
            if not self.models or unknown:
                raise ValueError(f"`models` must be benchmarked models, some of {known}; got {list(self.models)}.")

    @property
    def out(self):
        """Directory of results/, figures/, runs/ and RESULTS.md, or None for the scripts' defaults."""
        return self.output_dir or (QUICK_OUTPUT_DIR if self.quick else None)

    @property
    def results_dir(self):
        return os.path.join(self.out, "results") if self.out else os.path.join("benchmarks", "results")

    @property
    def results_md(self):
        return os.path.join(self.out, "RESULTS.md") if self.out else os.path.join("benchmarks", "RESULTS.md")


@dataclasses.dataclass(frozen=True)
class Step:
    """One `python -m <module> <args>` of the plan; `outputs` are its result files, relative to the repo root."""

    module: str
    args: Tuple[str, ...] = ()
    outputs: Tuple[str, ...] = ()
    skipped: str = ""

    def command(self, python="python"):
        return " ".join([python, "-m", self.module, *self.args])


def benchmarked_models():
    """Every model some step measures, in plan order."""
    names = [m for models, _, _ in _TRAIN_RUNS for m in models] + [TFP_REFERENCE, PIXEL_CNN_PP, CYCLEGAN]
    names += list(_LOOP_MODELS + _SERVING_MODELS + _SAMPLING_MODELS + _TRAIN_SPEED_MODELS)
    return tuple(dict.fromkeys(names))


def _run_name(model, levels):
    return model if levels is None else f"{model}_{levels}levels"


def plan(config):
    """The steps `run(config)` takes, in order; a step to skip has `skipped` set to the reason."""
    selected = set(config.models or benchmarked_models())
    out = config.out
    results = config.results_dir
    steps = []

    def exists(run):
        return config.skip_existing and os.path.isfile(os.path.join(REPO_ROOT, results, f"{run}.json"))

    train_paths = (f"--workdir_root={out}/runs", f"--out_dir={out}/results", f"--figures_dir={out}/figures") if out else ()
    for models, levels, extra in _TRAIN_RUNS:
        chosen = [m for m in models if m in selected]
        if not chosen:
            continue
        todo = [m for m in chosen if not exists(_run_name(m, levels))]
        args = (f"--models={','.join(todo or chosen)}",) + ((f"--num_levels={levels}",) if levels else ()) + extra
        args += (_QUICK_TRAIN if config.quick else ()) + train_paths
        outputs = tuple(os.path.join(results, f"{_run_name(m, levels)}.json") for m in todo or chosen)
        steps.append(Step("benchmarks.train_benchmark", args, outputs, "" if todo else "results exist"))

    if selected & {"pixel_cnn", TFP_REFERENCE}:
        tfp_paths = (f"--out_dir={out}/results", f"--figures_dir={out}/figures") if out else ()
        for levels in _TFP_LEVELS:
            run = _run_name(TFP_REFERENCE, None if levels == 2 else levels)
            args = (f"--num_levels={levels}",) + (_QUICK_TFP if config.quick else ()) + tfp_paths
            outputs = (os.path.join(results, f"{run}.json"),)
            steps.append(Step("benchmarks.tfp_pixel_cnn", args, outputs, "results exist" if exists(run) else ""))

    if PIXEL_CNN_PP in selected:
        for mode, run in _PIXEL_CNN_PP_MODES:
            args = (f"--mode={mode}",) + (_QUICK_PIXEL_CNN_PP[mode] if config.quick else ())
            if out:
                args += (f"--out_dir={out}/results", f"--figures_dir={out}/figures")
                args += (f"--workdir={out}/runs/{run}",) if mode == "likelihood" else ()
            outputs = (os.path.join(results, f"{run}.json"),)
            steps.append(Step("benchmarks.pixel_cnn_pp_benchmark", args, outputs, "results exist" if exists(run) else ""))

    if CYCLEGAN in selected:
        args = (_QUICK_CYCLEGAN if config.quick else ()) + (
            (f"--workdir_root={out}/runs", f"--out={out}/results/{CYCLEGAN}.json", f"--figures_dir={out}/figures")
            if out
            else ()
        )
        outputs = (os.path.join(results, f"{CYCLEGAN}.json"),)
        steps.append(Step("benchmarks.cyclegan_benchmark", args, outputs, "results exist" if exists(CYCLEGAN) else ""))

    for module, models, name, quick in (
        ("benchmarks.loop_benchmark", _LOOP_MODELS, "loop", _QUICK_LOOP),
        ("benchmarks.serving_benchmark", _SERVING_MODELS, "serving", _QUICK_SERVING),
        ("benchmarks.sampling_benchmark", _SAMPLING_MODELS, "sampling", _QUICK_SAMPLING),
        ("benchmarks.train_speed", _TRAIN_SPEED_MODELS, "train_speed", _QUICK_TRAIN_SPEED),
    ):
        if not selected & set(models):
            continue
        args = (f"--models={','.join(models)}",) if module.endswith("loop_benchmark") else ()
        args += quick if config.quick else ()
        if out:
            args += ((f"--root={out}/runs",) if module.endswith("sampling_benchmark") else ()) + (
                f"--out={out}/results/{name}.json",
            )
        outputs = (os.path.join(results, f"{name}.json"),)
        steps.append(Step(module, args, outputs, "results exist" if exists(name) else ""))

    report = (f"--results_dir={out}/results", f"--out={out}/RESULTS.md") if out else ()
    steps.append(Step("benchmarks.make_results", report, (config.results_md,)))
    return steps


def run(config):
    """Runs the plan of `config` step by step from the repository root, then has regenerated `RESULTS.md`.

    Each step's output goes straight to this process's stdout and stderr; a line `[i/n] command` announces it.

    Returns:
        A dict with, per step, its command, its status ("ran", "skipped: reason", or "planned" in a dry run)
        and its wall seconds; and the path of the regenerated `RESULTS.md`.

    Raises:
        StepFailedError: a step failed; the steps after it did not run. Rerun with `skip_existing` to resume.
    """
    steps = plan(config)
    report = []
    for index, step in enumerate(steps, 1):
        command = step.command(config.python)
        status = f"skipped: {step.skipped}" if step.skipped else ("planned" if config.dry_run else "ran")
        print(f"[{index}/{len(steps)}] {status if status != 'ran' else 'running'}: {step.command()}", flush=True)
        seconds = None
        if status == "ran":
            start = time.perf_counter()
            completed = subprocess.run([config.python, "-m", step.module, *step.args], cwd=REPO_ROOT, check=False)
            seconds = time.perf_counter() - start
            if completed.returncode:
                raise StepFailedError(
                    f"step {index}/{len(steps)} exited with status {completed.returncode} after {seconds:.0f} s: "
                    f"{command}. Fix it and rerun with --skip_existing to keep the results already written."
                )
        report.append({"command": step.command(), "status": status, "seconds": seconds, "outputs": list(step.outputs)})
    return {"steps": report, "results_md": config.results_md, "dry_run": config.dry_run}
