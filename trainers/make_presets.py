r"""Makes the pretrained presets from trained work directories: `python -m trainers.make_presets [flags]`.

Flags only; the logic is `trainers.presets_lib.make_presets`. For each preset, copies the trained weights of
its benchmark run into `zoo/presets/weights/<preset>.weights.h5`, writes the manifest (SHA-256, constructor
config, training command and provenance), loads the preset back as `zoo.load` does, measures it on the first
1000 test images and on its check slice, and draws `zoo/presets/figures/<preset>.png`. The classifier's
weights stay those of `python -m trainers.train_classifier`; only its metrics are added. Then rewrites the
presets table and the gallery of README.md from the manifests (`--readme`). Prints a JSON line.

Example:
    python -m trainers.make_presets                                   # every preset, from runs/bench
    python -m trainers.make_presets --presets=dcgan_fashion_mnist --nofigures
"""

from absl import app, flags

from trainers import cli, data, presets_lib

_PRESETS = flags.DEFINE_list("presets", list(presets_lib.SOURCES), "Presets to make.")
_RUNS_DIR = flags.DEFINE_string("runs_dir", "runs/bench", "Directory of the trained benchmark work directories.")
_QUALITY_DIR = flags.DEFINE_string("quality_dir", "runs/quality", "Directory of the long runs of benchmarks.quality.")
_RESULTS_DIR = flags.DEFINE_string("results_dir", "benchmarks/results", "Directory of the benchmark result JSONs.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where weights and manifests go (default: zoo/presets/weights).")
_FIGURES_DIR = flags.DEFINE_string("figures_dir", None, "Where the gallery PNGs go (default: zoo/presets/figures).")
_FIGURES = flags.DEFINE_bool("figures", True, "Draw the gallery figures.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_README = flags.DEFINE_string(
    "readme", None, "Markdown file whose presets table and gallery are rewritten (default: README.md when writing the "
    "shipped presets; an empty string for none).")


def main(argv):
    del argv
    config = presets_lib.MakePresetsConfig(
        presets=tuple(_PRESETS.value),
        runs_dir=_RUNS_DIR.value,
        quality_dir=_QUALITY_DIR.value,
        results_dir=_RESULTS_DIR.value,
        output_dir=_OUTPUT_DIR.value,
        figures_dir=_FIGURES_DIR.value,
        figures=_FIGURES.value,
        data_dir=_DATA_DIR.value,
        readme=_README.value,
    )
    cli.run_and_report(presets_lib.make_presets, config, (ValueError, FileNotFoundError, data.DataUnavailableError))


if __name__ == "__main__":
    app.run(main)
