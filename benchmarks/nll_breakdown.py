r"""Where the bits go: the test NLL of finished autoregressive runs, split by image row and by pixel intensity.

    python -m benchmarks.nll_breakdown --runs=pixel_cnn_256levels,gated_pixel_cnn_256levels,row_lstm_256levels

For each run `ROOT/NAME` (a `benchmarks.quality` or `trainers.train` work directory) the exact negative
log-likelihood of every sub-pixel of the test split is summed by image row and by the true level's intensity
band (background 0, then quarters of the range), in bits per sub-pixel. When two architectures rank against
the papers, this shows whether the gap is in the first rows (little context: receptive field, blind spot), in
the background, or in the intensities of the objects (per-pixel capacity). Writes
`benchmarks/results/nll_breakdown.json` (rendered by `benchmarks.make_results`) and a plot of bits per row,
`benchmarks/figures/nll_by_row.png`.
"""

import math
import os

import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import common, plot
from trainers import data, eval_lib
from zoo.utils import atomic


def level_bands(num_levels):
    """`[(label, low, high)]` of the intensity bands: the background level 0, then the quarters of the range
    (1-63, 64-127, 128-191, 192-255 for 256 levels); one band per level below 8 levels."""
    if isinstance(num_levels, bool) or not isinstance(num_levels, (int, np.integer)) or num_levels < 2:
        raise ValueError(f"`num_levels` must be an int of at least 2; got {num_levels!r}.")
    if num_levels < 8:
        return [(str(level), level, level) for level in range(num_levels)]
    edges = [1] + [num_levels * quarter // 4 for quarter in range(1, 5)]
    return [("0", 0, 0)] + [(f"{lo}-{hi - 1}", lo, hi - 1) for lo, hi in zip(edges[:-1], edges[1:])]


def breakdown(workdir, take=None, batch_size=500):
    """Test NLL of the trained model of `workdir`, per row and per intensity band, in bits per sub-pixel.

    Args:
        workdir: a finished autoregressive work directory (`config.json` and `model.keras`).
        take: score only the first `take` test images (None: all).
        batch_size: images per forward pass.

    Returns:
        A dict: `images`, `num_levels`, `bits_per_dim` (all sub-pixels), `rows` (mean bits of each image row),
        `bands` (`[{"levels", "share_of_subpixels", "bits_per_subpixel", "share_of_bits"}]`).

    Raises:
        ValueError: the work directory's model has no exact likelihood (`distribution`).

    Example:
        >>> breakdown("runs/quality/pixel_cnn_256levels", take=500)["bits_per_dim"]  # doctest: +SKIP
        3.02
    """
    cfg = eval_lib.training_config(workdir)
    model, _ = eval_lib.load_trained_model(workdir)
    if not hasattr(model, "distribution"):
        raise ValueError(f"{workdir}: a {cfg.model} has no exact per-pixel likelihood to break down.")
    conditional = bool(getattr(model, "num_classes", None))
    bands = level_bands(cfg.num_levels)
    band_of_level = np.zeros(cfg.num_levels, dtype=np.int64)
    for index, (_, low, high) in enumerate(bands):
        band_of_level[low:high + 1] = index

    @tf.function
    def subpixel_nats(images, labels):
        conditionals = model.distribution(images, labels if conditional else None).distribution
        return -conditionals.log_prob(tf.cast(images, conditionals.dtype))

    ds = data.load(cfg.dataset, "test", cfg.preprocessing(), batch_size=batch_size, shuffle=False, take=take,
                   with_labels=True)
    height, width, channels = model.image_shape
    rows, band_nats, band_counts, images = np.zeros(height), np.zeros(len(bands)), np.zeros(len(bands)), 0
    for batch, labels in ds:
        nats = subpixel_nats(batch, labels).numpy().astype(np.float64)
        rows += nats.sum(axis=(0, 2, 3))
        bands_here = band_of_level[batch.numpy()].ravel()
        band_nats += np.bincount(bands_here, weights=nats.ravel(), minlength=len(bands))
        band_counts += np.bincount(bands_here, minlength=len(bands))
        images += int(batch.shape[0])
    if not images:
        raise ValueError(f"{workdir}: the test split holds no images to score.")
    to_bits = 1.0 / math.log(2.0)
    total, subpixels = band_nats.sum(), band_counts.sum()
    return {
        "images": images,
        "num_levels": int(cfg.num_levels),
        "bits_per_dim": float(total / subpixels * to_bits),
        "rows": [float(r / (images * width * channels) * to_bits) for r in rows],
        "bands": [
            {"levels": label, "share_of_subpixels": float(count / subpixels),
             "bits_per_subpixel": float(nats / count * to_bits) if count else None,
             "share_of_bits": float(nats / total)}
            for (label, _, _), nats, count in zip(bands, band_nats, band_counts)
        ],
    }


def _define_flags():
    # Only when run as a program: the tests import this module beside benchmarks.quality, which owns --root.
    flags.DEFINE_list("runs", None, "Work directories under --root to break down (at least one).")
    flags.DEFINE_string("root", "runs/quality", "Parent of the runs' work directories.")
    flags.DEFINE_integer("take", None, "Score only the first N test images (quick checks; default all).")
    flags.DEFINE_string("out_dir", "benchmarks/results", "Where nll_breakdown.json goes.")
    flags.DEFINE_string("figures_dir", "benchmarks/figures", "Where nll_by_row.png goes.")


def main(argv):
    del argv
    config = flags.FLAGS
    if not config.runs:
        raise app.UsageError("--runs=NAME[,NAME...] is required.")
    results = {name: breakdown(os.path.join(config.root, name), take=config.take) for name in config.runs}
    series = {name: list(enumerate(r["rows"])) for name, r in results.items()}
    figure = plot.line_plot(os.path.join(config.figures_dir, "nll_by_row.png"), series,
                            "Test NLL per image row (bits per sub-pixel)", "row", "bits")
    result = {"runs": results, "figure": os.path.basename(figure), "take": config.take,
              **common.provenance("benchmarks.nll_breakdown")}
    os.makedirs(config.out_dir, exist_ok=True)
    atomic.write_json(os.path.join(config.out_dir, "nll_breakdown.json"), result, indent=2, sort_keys=True)
    for name, r in results.items():
        bands = [(b["levels"], round(b["bits_per_subpixel"] or 0.0, 3)) for b in r["bands"]]
        print(name, f"{r['bits_per_dim']:.4f}", bands)


if __name__ == "__main__":
    _define_flags()
    app.run(main)
