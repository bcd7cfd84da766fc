r"""Trains registered models with their default CLI configuration and records what the issues ask to measure.

    python -m benchmarks.train_benchmark --models=vae,dcgan [--num_levels=256] [--iwae_k=100]
    python -m benchmarks.train_benchmark --models=gan --eval_only --eval_samples=5000   # quality of a trained run

For each model: `trainers.train_lib.train_and_evaluate` with the registry's defaults (exactly what
`python -m trainers.train --model=NAME` runs), then the family's own measurements on the final model, the
sample-quality scores of `python -m trainers.evaluate` (FID, KID, precision/recall beside their real-vs-real
floor), and pictures in `benchmarks/figures/`. One JSON per run goes to `benchmarks/results/`; `benchmarks/make_results.py`
turns them into `benchmarks/RESULTS.md`.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import common
from trainers import data, eval_lib, train_lib, visualize
from zoo.utils import atomic

_MODELS = flags.DEFINE_list("models", ["vae"], "Registered models to benchmark.")
_NUM_LEVELS = flags.DEFINE_integer("num_levels", None, "Override the quantisation levels (e.g. 256).")
_ROOT = flags.DEFINE_string("workdir_root", "runs/bench", "Where the training work directories go.")
_OUT = flags.DEFINE_string("out_dir", "benchmarks/results", "Where the result JSON files go.")
_FIGURES = flags.DEFINE_string("figures_dir", "benchmarks/figures", "Where the PNG figures go.")
_IWAE_K = flags.DEFINE_integer("iwae_k", 100, "Importance samples for the VAE bound.")
_IWAE_TAKE = flags.DEFINE_integer("iwae_take", 2000, "Test images for the VAE importance-weighted bound.")
_STEPS = flags.DEFINE_integer("steps_per_epoch", None, "Only for quick checks of this script: shortens every epoch.")
_EVAL_TAKE = flags.DEFINE_integer("eval_take", None, "Only for quick checks of this script: test on the first N images.")
_SAMPLE_REPEATS = flags.DEFINE_integer("sample_repeats", 3, "Timed repetitions of sampling 16 images.")
_EVAL_SAMPLES = flags.DEFINE_integer(
    "eval_samples", 5000, "Generated images for FID/KID/precision/recall (trainers.evaluate); 0 skips them."
)
_REUSE = flags.DEFINE_bool(
    "reuse_trained", False, "Measure a run whose training already finished (its metrics.json) instead of retraining."
)
_EVAL_ONLY = flags.DEFINE_bool(
    "eval_only", False, "Only run the sample-quality evaluation on the trained runs and add it to their result JSON."
)



def _vae_extras(model, prep, figures, run):
    images, _ = data.example_batch("fashion_mnist", "test", prep, batch_size=_IWAE_TAKE.value)
    bounds, elbos = [], []
    for start in range(0, images.shape[0], 250):
        batch = images[start : start + 250]
        bounds.append(model.log_prob_bound(batch, num_samples=_IWAE_K.value, seed=start).numpy())
        elbos.append(model.elbo(batch, seed=start).numpy())
    bound, elbo = float(np.concatenate(bounds).mean()), float(np.concatenate(elbos).mean())
    dims = np.prod(model.image_shape) * np.log(2)
    rows = [
        model.sample(8, seed=0, mean=True).numpy(),
        prep.to_unit(images[:8]).numpy(),
        np.asarray(model(images[:8])),
        model.interpolate(images[0], images[1], steps=8).numpy(),
        model.traverse(images[0], dim=0, values=np.linspace(-3, 3, 8)).numpy(),
    ]
    path = visualize.save_grid(os.path.join(figures, f"{run}.png"), np.concatenate(rows), num_cols=8, scale=2)
    return {
        "iwae_k": _IWAE_K.value,
        "iwae_images": int(images.shape[0]),
        "test_iwae_nats": bound,
        "test_iwae_bits_per_dim": float(-bound / dims),
        "test_elbo_same_images_nats": elbo,
        "figure": path,
        "figure_rows": "decoder means of samples; test images; reconstructions; interpolation; traversal of z[0]",
    }


def _gan_extras(model, figures, run, labels):
    strip = model.interpolate(*model.latents(2, seed=3).numpy(), steps=8, method="slerp", labels=labels).numpy()
    linear = model.interpolate(*model.latents(2, seed=3).numpy(), steps=8, method="linear", labels=labels).numpy()
    concepts = [model.latents(3, seed=s) for s in (10, 11, 12)]
    result, _ = model.latent_arithmetic(*concepts, labels=labels)
    means = [model.generate(tf.reduce_mean(z, 0, keepdims=True), None if labels is None else [labels]) for z in concepts]
    arithmetic = np.concatenate([m.numpy() for m in means] + [result.numpy()])
    grid = model.sample(64, seed=0, labels=None if labels is None else np.arange(64) % model.num_classes).numpy()
    to_unit = lambda x: (x + 1.0) / 2.0
    return {
        "figure": visualize.save_grid(os.path.join(figures, f"{run}.png"), to_unit(grid), num_cols=8, scale=2),
        "interpolation_figure": visualize.save_grid(
            os.path.join(figures, f"{run}_interpolation.png"), to_unit(np.concatenate([strip, linear])), num_cols=8, scale=2
        ),
        "arithmetic_figure": visualize.save_grid(
            os.path.join(figures, f"{run}_arithmetic.png"), to_unit(arithmetic), num_cols=4, scale=2
        ),
        "figure_rows": "samples; slerp then linear interpolation; mean(a), mean(b), mean(c), a - b + c",
    }


def _autoregressive_extras(model, prep, figures, run):
    images, labels = data.example_batch("fashion_mnist", "test", prep, batch_size=8)
    labels = labels if model.num_classes else None
    known = np.zeros(images.shape, bool)
    known[:, : images.shape[1] // 2] = True
    completed = model.complete(images, known, seed=0, labels=labels)
    samples = model.sample(16, seed=0, labels=None if labels is None else np.arange(16) % model.num_classes)
    rows = np.concatenate([prep.to_unit(samples).numpy(), prep.to_unit(images).numpy(), prep.to_unit(completed).numpy()])
    return {
        "figure": visualize.save_grid(os.path.join(figures, f"{run}.png"), rows, num_cols=8, scale=2),
        "figure_rows": "16 samples; 8 test images; their completions from the top half",
    }


def _run_name(name, num_levels):
    return name if num_levels is None else f"{name}_{num_levels}levels"


def quality(name, num_levels=None):
    """FID/KID/precision/recall of a benchmarked run by `trainers.eval_lib`, added to its result JSON."""
    run = _run_name(name, num_levels)
    path = os.path.join(_OUT.value, f"{run}.json")
    with open(path) as f:
        result = json.load(f)
    config = eval_lib.EvalConfig(workdir=os.path.join(_ROOT.value, run), num_samples=_EVAL_SAMPLES.value, take=1000)
    evaluation = eval_lib.evaluate(config)
    result["quality"] = evaluation["quality"]
    result["eval_command"] = (
        f"python -m trainers.evaluate --workdir={config.workdir} --num_samples={config.num_samples} --take={config.take}"
    )
    atomic.write_json(path, result, indent=2, sort_keys=True)
    return result


def benchmark(name, num_levels=None):
    """Trains `name` with its default config and returns the measurements (also written as JSON)."""
    run = _run_name(name, num_levels)
    config = train_lib.TrainConfig(
        model=name, workdir=os.path.join(_ROOT.value, run), num_levels=num_levels, verbose=2,
        steps_per_epoch=_STEPS.value, eval_take=_EVAL_TAKE.value,
    )
    metrics, wall = common.train_or_reuse(config, _REUSE.value)
    cfg = config.resolved()
    cfg.spec.model_class()  # Registers the class for deserialization when training was skipped.
    model = keras.models.load_model(os.path.join(cfg.workdir, "model.keras"))
    labels = np.arange(16) % model.num_classes if model.num_classes else None
    sample_seconds = common.median_seconds(lambda: model.sample(16, seed=1, labels=labels), _SAMPLE_REPEATS.value)
    os.makedirs(_FIGURES.value, exist_ok=True)
    prep = cfg.preprocessing()
    family = cfg.spec.class_path.split(".")[1]
    if family == "vae":
        extras = _vae_extras(model, prep, _FIGURES.value, run)
    elif family == "gan":
        extras = _gan_extras(model, _FIGURES.value, run, 0 if model.num_classes else None)
    else:
        extras = _autoregressive_extras(model, prep, _FIGURES.value, run)
    result = {
        "run": run,
        "model": name,
        "num_levels": cfg.num_levels,
        "epochs": cfg.epochs,
        "steps_per_epoch": cfg.steps_per_epoch,
        "steps": cfg.epochs * (cfg.steps_per_epoch or data.split_size(cfg.dataset, "train") // cfg.batch_size),
        "train_examples": data.split_size(cfg.dataset, "train"),
        "batch_size": cfg.batch_size,
        "parameters": metrics["parameters"],
        "train_images_per_second": metrics["train_images_per_second"],
        "train_wall_seconds": metrics["train_seconds"],
        "run_wall_seconds": wall,
        "sample_16_seconds": sample_seconds,
        "sample_images_per_second": 16 / sample_seconds,
        **({"sample_method": "cached" if model.has_cached_sampler else "naive"} if family == "pixel" else {}),
        "test": metrics["test"],
        **extras,
        "command": f"python -m trainers.train --model={name} --workdir={cfg.workdir}"
        + (f" --num_levels={num_levels}" if num_levels else ""),
        **common.provenance("benchmarks.train_benchmark"),
    }
    os.makedirs(_OUT.value, exist_ok=True)
    atomic.write_json(os.path.join(_OUT.value, f"{run}.json"), result, indent=2, sort_keys=True)
    return result


def main(argv):
    del argv
    for name in _MODELS.value:
        if not _EVAL_ONLY.value:
            result = benchmark(name, _NUM_LEVELS.value)
        if _EVAL_SAMPLES.value:
            result = quality(name, _NUM_LEVELS.value)
        print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
