r"""Trains CycleGAN with its default CLI configuration on the offline Fashion-MNIST pair and measures translation.

    python -m benchmarks.cyclegan_benchmark [--reuse_trained]

Training is exactly `python -m trainers.train --model=cyclegan` (sneaker -> ankle boot). On the final model:
training speed, the cycle-reconstruction error on the test split, the share of translated test images the
shipped Fashion-MNIST classifier assigns to the target class (`trainers.eval_lib.translation_scores`, the same
numbers as `python -m trainers.evaluate`), translation speed, and a figure. The result goes to
`benchmarks/results/cyclegan.json`; `python -m benchmarks.make_results` adds it to `benchmarks/RESULTS.md`.
"""

import json
import os

import keras
import numpy as np
from absl import app, flags

from benchmarks import common
from trainers import data, eval_lib, train_lib, visualize
from zoo.utils import atomic

_ROOT = flags.DEFINE_string("workdir_root", "runs/bench", "Where the training work directory goes.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/cyclegan.json", "The result JSON.")
_FIGURES = flags.DEFINE_string("figures_dir", "benchmarks/figures", "Where the PNG figure goes.")
_STEPS = flags.DEFINE_integer("steps_per_epoch", None, "Only for quick checks of this script: shortens every epoch.")
_EVAL_TAKE = flags.DEFINE_integer("eval_take", None, "Only for quick checks of this script: score the first N test images of each domain.")
_REPEATS = flags.DEFINE_integer("translate_repeats", 5, "Timed translations of 256 test images.")
_REUSE = flags.DEFINE_bool("reuse_trained", False, "Measure the finished run in the work directory instead of retraining.")

_FIGURE_ROWS = (
    "8 test sneakers (A); translated to ankle boots (A -> B); reconstructed (A -> B -> A); "
    "8 test ankle boots (B); translated to sneakers (B -> A); reconstructed (B -> A -> B)"
)



def benchmark():
    """Trains (or reuses) the default CycleGAN run, measures it and writes the result JSON; returns the result."""
    config = train_lib.TrainConfig(
        model="cyclegan", workdir=os.path.join(_ROOT.value, "cyclegan"), verbose=2, steps_per_epoch=_STEPS.value,
        eval_take=_EVAL_TAKE.value,
    )
    metrics, wall = common.train_or_reuse(config, _REUSE.value)
    cfg = config.resolved()
    prep = cfg.preprocessing()
    evaluation = eval_lib.evaluate(eval_lib.EvalConfig(workdir=cfg.workdir, take=_EVAL_TAKE.value, num_samples=0))
    model = keras.models.load_model(evaluation["model_file"])

    test = data.load_unpaired(cfg.dataset, "test", prep, batch_size=256, shuffle=False, domains=cfg.domains)
    images_a, images_b = next(iter(test))
    translate_seconds = common.median_seconds(lambda: model.translate(images_a, "a2b"), _REPEATS.value)
    rows = []
    for images, direction in ((images_a[:8], "a2b"), (images_b[:8], "b2a")):
        rows += [images, model.translate(images, direction), model.reconstruct(images, direction)]
    os.makedirs(_FIGURES.value, exist_ok=True)
    figure = visualize.save_grid(
        os.path.join(_FIGURES.value, "cyclegan.png"), np.concatenate([prep.to_unit(r).numpy() for r in rows]), num_cols=8, scale=2
    )

    train = data.load_unpaired(cfg.dataset, "train", prep, batch_size=cfg.batch_size, domains=cfg.domains)
    steps_per_epoch = cfg.steps_per_epoch or int(train.cardinality())
    domains = data.resolve_domains(cfg.dataset, cfg.domains)
    class_names = data.builder(cfg.dataset).info.features["label"].names
    translation = evaluation["translation"]
    result = {
        "run": "cyclegan",
        "model": "cyclegan",
        "dataset": cfg.dataset,
        "domains": list(domains),
        "domain_names": [class_names[c] for c in domains],
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "steps": cfg.epochs * steps_per_epoch,
        "parameters": metrics["parameters"],
        # A step reads `batch_size` images of each domain: pairs/s counts steps x batch, images/s both domains.
        "train_pairs_per_second": metrics["train_images_per_second"],
        "train_images_per_second": 2 * metrics["train_images_per_second"],
        "train_wall_seconds": metrics["train_seconds"],
        "run_wall_seconds": wall,
        "test": metrics["test"],
        "translation": translation,
        "cycle_a_grey_levels": translation["cycle_a_mae"] * 127.5,
        "cycle_b_grey_levels": translation["cycle_b_mae"] * 127.5,
        "translate_256_seconds": translate_seconds,
        "translate_images_per_second": 256 / translate_seconds,
        "figure": figure,
        "figure_rows": _FIGURE_ROWS,
        "command": f"python -m trainers.train --model=cyclegan --workdir={cfg.workdir}",
        "eval_command": f"python -m trainers.evaluate --workdir={cfg.workdir} --num_samples=0",
        **common.provenance("benchmarks.cyclegan_benchmark"),
    }
    os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
    atomic.write_json(_OUT.value, result, indent=2, sort_keys=True)
    return result


def main(argv):
    del argv
    print(json.dumps(benchmark(), sort_keys=True))


if __name__ == "__main__":
    app.run(main)
