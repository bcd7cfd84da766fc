r"""Every benchmark of the README, in order, then `benchmarks/RESULTS.md`: one command for the whole harness.

    python -m benchmarks.run_all                      # everything, as the README lists it (hours on 2 cores)
    python -m benchmarks.run_all --dry_run            # the plan only
    python -m benchmarks.run_all --models=vae,gan     # only the steps that measure these models
    python -m benchmarks.run_all --skip_existing      # resume: skip what already has its result file
    python -m benchmarks.run_all --quick              # smoke run on a few batches, into runs/bench_quick/

Flags only; the plan and the runner are `benchmarks.harness`.
"""

from absl import app, flags

from benchmarks import harness
from zoo.utils import cli

_MODELS = flags.DEFINE_list("models", None, "Only the steps that measure these models (default: all).")
_QUICK = flags.DEFINE_bool("quick", False, "Smoke run of every step on a few batches, written under --output_dir.")
_SKIP_EXISTING = flags.DEFINE_bool("skip_existing", False, "Skip steps (or models) whose result files exist.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Print the plan; run nothing.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", None, f"Results, figures, runs and RESULTS.md go here (default: benchmarks/; {harness.QUICK_OUTPUT_DIR} with --quick)."
)


def main(argv):
    del argv
    try:
        config = harness.HarnessConfig(
            models=_MODELS.value, quick=_QUICK.value, skip_existing=_SKIP_EXISTING.value, dry_run=_DRY_RUN.value,
            output_dir=_OUTPUT_DIR.value,
        )
    except ValueError as e:
        raise app.UsageError(str(e))
    cli.run_and_report(harness.run, config, (harness.StepFailedError,))


if __name__ == "__main__":
    app.run(main)
