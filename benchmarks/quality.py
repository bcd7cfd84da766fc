r"""Model quality: one long, resumable training run per model, then its scores on the whole test split.

    python -m benchmarks.quality --run=NAME              # trains (or resumes) runs/quality/NAME, then scores it
    python -m benchmarks.quality --run=dcgan --root=/work/main/runs/quality
    python -m benchmarks.quality --list                  # every run with its configuration and parameter count

A run is `trainers.train_lib.train_and_evaluate` with the configuration in `RUNS` and
`--workdir=ROOT/NAME`: an interrupted run (even `kill -9`) resumes after its last completed epoch when the same
command is run again. Every epoch records its wall time and a learning curve point in `ROOT/NAME/history.csv`:
the test NLL (or the VAE's ELBO) on all 10,000 test images for likelihood models (`validate_every_epoch`), FID
and precision/recall of 5000 samples for generators (`quality_samples`). When training is done the run is
scored with `trainers.eval_lib` (test NLL on the whole test split, FID/KID/precision/recall at 5000 samples)
and `benchmarks/results/quality_NAME.json` is written with the exact command; `python -m
benchmarks.make_results` renders them into the "Model quality" section of `benchmarks/RESULTS.md`.

The autoregressive runs are sized like the papers' MNIST models but to fit this CPU, with parameter counts
within 1.5x of each other (`--list` prints them) and the same number of epochs, so that the equal-epoch
ranking can be set beside the papers' (`benchmarks.papers`: PixelCNN 81.30, Row LSTM 80.54, Diagonal BiLSTM
79.20 nats on binarized MNIST, van den Oord et al., 2016; CIFAR-10 bits/dim for the 256-level runs).

Two runs at a time on two cores go faster with one TensorFlow thread each: side by side, two 2-thread
processes trained PixelCNN and the Row LSTM 10% and 23% slower than two 1-thread ones. So:

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 python -m benchmarks.quality --run=NAME

The result's command records those variables when they are set.
"""

import dataclasses
import json
import os
import sys
from typing import Any, Mapping, Optional

from absl import app, flags

from benchmarks import common
from trainers import callbacks, data, eval_lib, registry, train_lib
from zoo.utils import atomic

@dataclasses.dataclass(frozen=True)
class QualityRun:
    """One long run: a registered model, its hyperparameters and budget.

    Args:
        model: registered model name (`trainers.registry`).
        epochs: epochs over the whole training split.
        model_kwargs: constructor hyperparameters over the registry's defaults.
        batch_size, learning_rate, num_levels: None = the registry's default.
        quality_samples: samples scored after every epoch (generators' learning curve; 0 = off).
        iwae_k: importance samples of the VAE's final bound.
        num_samples: samples of the final FID/KID/precision/recall (5000 for every table).
        loss: GANs: the game (`TrainConfig.loss`); None = the registry's.
        ema_momentum: Polyak averaging of the weights (`TrainConfig.ema_momentum`); None = off.
        steps_per_epoch: None = the whole training split (only tests shorten it).
        take: None = whole splits; N uses the first N training and test images (only tests shorten it).
        note: why this configuration.
    """

    model: str
    epochs: int
    model_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    batch_size: Optional[int] = None
    learning_rate: Optional[float] = None
    num_levels: Optional[int] = None
    quality_samples: int = 0
    iwae_k: int = 100
    num_samples: int = 5000
    loss: Optional[str] = None
    ema_momentum: Optional[float] = None
    steps_per_epoch: Optional[int] = None
    take: Optional[int] = None
    note: str = ""


RUNS = {
    "vae": QualityRun(
        model="vae", epochs=30,
        note="the registry's VAE (latent_dim 16) trained 6x longer than the demo budget",
    ),
    "gan": QualityRun(
        model="gan", epochs=60, quality_samples=5000, loss="wasserstein", model_kwargs={"d_steps": 5},
        note="the registry's MLP GAN with the tip that measured best in RESULTS.md (GAN tips): the Wasserstein "
             "loss with gradient penalty and 5 critic steps",
    ),
    "dcgan": QualityRun(
        model="dcgan", epochs=30, quality_samples=5000,
        note="the registry's DCGAN (filters 128) trained 6x longer; FID per epoch in history.csv",
    ),
    # The presets' conditional and Wasserstein models, trained as long as their unconditional counterparts.
    "cvae": QualityRun(model="cvae", epochs=30, note="the registry's class-conditional VAE, trained like the VAE"),
    "cdcgan": QualityRun(
        model="cdcgan", epochs=30, quality_samples=5000,
        note="the registry's class-conditional DCGAN, trained like the DCGAN; samples cycle through the classes",
    ),
    "wgan_gp": QualityRun(
        model="wgan_gp", epochs=15, quality_samples=5000,
        note="the registry's WGAN-GP (DCGAN architecture); half the DCGAN's epochs, as each step runs 5 critic updates",
    ),
    "cyclegan": QualityRun(
        model="cyclegan", epochs=20,
        note="the registry's CycleGAN (sneaker <-> ankle boot) trained 7x longer than the demo budget; scored by "
             "cycle error and the classifier's verdict on its translations",
    ),
}

# The autoregressive runs. The papers' binarized-MNIST models are 7 layers of h=16 (PixelRNN) and deeper
# PixelCNNs; these keep the depth of the convolutional ones and widen the recurrent ones to h=32 with 3 layers,
# which a 2-core CPU trains in hours, at 101k-128k parameters (within 1.3x; `--list` prints them). Same 10
# epochs for all. The Gated PixelCNN's first layer is 7 x 7, like PixelCNN's, so that both see 10 rows up
# (3 x 3 everywhere sees 8). Test NLL after epochs 1-3, 3 x 3 -> 7 x 7 first layer (2026-12-01): 121.32 -> 119.70,
# 114.69 -> 115.07, 112.55 -> 112.91 nats: a gain after the first epoch only.
_AR_EPOCHS = 10
_AR_CONFIGS = {
    "pixel_cnn": ({"filters": 64, "num_blocks": 7}, "PixelCNN, 7 residual blocks of 64 filters"),
    "gated_pixel_cnn": (
        {"filters": 24, "num_layers": 7, "first_kernel_size": 7},
        "Gated PixelCNN, 7 gated layers of 24 filters, the first 7 x 7",
    ),
    "row_lstm": ({"hidden": 32, "num_layers": 3}, "Row LSTM, 3 layers, h=32"),
    "diagonal_bilstm": ({"hidden": 32, "num_layers": 3}, "Diagonal BiLSTM, 3 layers, h=32"),
    # Plain initialisation: these runs were trained before the registry started PixelCNN++ from the data.
    "pixel_cnn_pp": (
        {"num_resnet": 1, "num_hierarchies": 2, "num_filters": 18, "num_logistic_mix": 5, "dropout_p": 0.0,
         "data_init": False},
        "PixelCNN++ (Salimans et al., 2017), 2 hierarchies of 1 resnet block, 18 filters (112k parameters)",
    ),
}
for _model, (_kwargs, _note) in _AR_CONFIGS.items():
    RUNS[_model] = QualityRun(model=_model, epochs=_AR_EPOCHS, model_kwargs=_kwargs, num_levels=2, note=_note)
    RUNS[f"{_model}_256levels"] = QualityRun(
        model=_model, epochs=_AR_EPOCHS, model_kwargs=_kwargs, num_levels=256, note=_note + ", 256 levels"
    )
# The width question: does the Gated PixelCNN end above PixelCNN at equal epochs because of its 24-channel state
# against PixelCNN's 64? Wider and one layer shallower, still within 1.3x of PixelCNN's size. Measured: 105.49 nats
# after 10 epochs against 105.82 (24 x 7) and PixelCNN's 104.99, so width is a part of it, not all.
RUNS["gated_pixel_cnn_wide"] = dataclasses.replace(
    RUNS["gated_pixel_cnn"], model_kwargs={"filters": 28, "num_layers": 6, "first_kernel_size": 7},
    note="Gated PixelCNN, 6 gated layers of 28 filters, the first 7 x 7: the width question",
)
# The schedule question: after 10 epochs the wide Gated PixelCNN is 0.50 nats above PixelCNN, and the gap shrank at
# nearly every epoch (2.26, 2.09, 1.48, 1.50, 0.82, 0.62, 0.50 over epochs 4-10). Both again to 20 epochs. A copy of
# a finished 10-epoch work directory continues where it stopped, as an uninterrupted 20-epoch run would. Measured:
# 102.88 nats for the Gated PixelCNN after 20 epochs against PixelCNN's 102.93, ahead at epochs 15, 16, 18, 19 and 20
# (Gated <= PixelCNN, as the paper has it); a margin within the 0.26 nats two PixelCNN runs differ by at epoch 10.
# At 256 levels PixelCNN led the Row LSTM by 0.17 bits/dim after epoch 1 and 0.03 after epoch 10, within the 0.06 its
# own score moved between epochs: the same question, the same test.
for _name in ("pixel_cnn", "gated_pixel_cnn_wide", "pixel_cnn_256levels", "row_lstm_256levels",
              "gated_pixel_cnn_256levels", "diagonal_bilstm_256levels"):
    RUNS[f"{_name}_20epochs"] = dataclasses.replace(RUNS[_name], epochs=20, note=RUNS[_name].note + ", 20 epochs")
# The width question at 256 levels: binarized, the wider 6 x 28 Gated PixelCNN closed most of the narrow one's gap to
# PixelCNN; at 256 levels the narrow one came last after 20 epochs (2.9967 against PixelCNN's 2.9570 bits/dim).
RUNS["gated_pixel_cnn_wide_256levels"] = dataclasses.replace(
    RUNS["gated_pixel_cnn_256levels"], model_kwargs=RUNS["gated_pixel_cnn_wide"].model_kwargs,
    note=RUNS["gated_pixel_cnn_wide"].note + ", 256 levels",
)
# The depth question: at 20 epochs PixelCNN still led the Row LSTM at 256 levels (2.9570 against 2.9924 bits/dim,
# ahead at 19 of 20 epochs), against the papers' CIFAR-10 order; binarized, the order is the papers'. The gap is the
# same in every row and on the background the Row LSTM is ahead; PixelCNN leads by 0.07-0.10 bits on every level of
# the objects (`benchmarks.nll_breakdown`): per-pixel capacity, not context. 3 LSTM layers are shallow beside
# PixelCNN's 7 residual blocks; the papers' Row LSTMs have 7 layers (binarized MNIST) and 12 (CIFAR-10). This one
# has the MNIST paper's 7, at h=20 to stay within PixelCNN's size (1.1x). Measured: 3.0724 bits/dim after 10 epochs
# against the shallow one's 3.0736 and PixelCNN's 3.0443; ahead of the shallow one by 0.06-0.07 after epochs 1-3,
# level with it (within 0.011) from the 4th: at this size depth does not close the gap.
RUNS["row_lstm_256levels_deep"] = dataclasses.replace(
    RUNS["row_lstm_256levels"], model_kwargs={"hidden": 20, "num_layers": 7},
    note="Row LSTM, 7 layers, h=20, 256 levels: the depth question",
)
# WGAN-GP's 15 epochs (7,020 generator steps, the paper's 1e-4) ended at FID 18.92 against the DCGAN's 5.26 after 30
# epochs; its per-epoch FID fell by about 0.16 an epoch over the last five (19.86 -> 19.14). The same run to the
# DCGAN's 30 epochs, continuing from a copy of the finished work directory (not started: at that rate 15 more epochs
# would not close the gap, hence wgan_gp_dcgan_adam below).
RUNS["wgan_gp_30epochs"] = dataclasses.replace(RUNS["wgan_gp"], epochs=30, note=RUNS["wgan_gp"].note + ", 30 epochs")

# The optimiser question: WGAN-GP's FID flattened at 19-20 over epochs 10-15 (recall 0.12-0.15) with the paper's
# Adam(1e-4, beta_1=0, beta_2=0.9), while the same game (Wasserstein loss, gradient penalty 10, 5 critic steps) on the
# fully connected GAN with the GANs' Adam(2e-4, beta_1=0.5) scored 14.47 after 10 epochs (RESULTS.md, GAN tips) and
# 6.46 after 60. This is WGAN-GP's model and game with the DCGAN's optimiser, to be read epoch by epoch against
# wgan_gp's per-epoch FID. Measured: FID 20.36 after 15 epochs (precision 0.548, recall 0.075) against wgan_gp's 18.92
# (0.552, 0.127); 1.1-2.2 lower after epochs 1-3, level after 4-9, 0.9-2.5 higher after 10-15: not the optimiser.
RUNS["wgan_gp_dcgan_adam"] = QualityRun(
    model="dcgan", epochs=15, quality_samples=5000, loss="wasserstein",
    model_kwargs=dict(registry.get_spec("wgan_gp").model_kwargs),
    note="WGAN-GP (the DCGAN architecture, a layer-normalised critic, 5 critic steps, gradient penalty 10) trained "
         "with the DCGAN's Adam(2e-4, beta_1=0.5): the optimiser question",
)

# The critic question: the registry's WGAN-GP critic normalises each position over its channels alone (Keras's
# LayerNormalization on the last axis), which the paper's layer normalisation is not (it spans height, width and
# channels), and the paper's DCGAN-architecture critic has no normalisation. This is wgan_gp with none.
RUNS["wgan_gp_unnormalised_critic"] = dataclasses.replace(
    RUNS["wgan_gp"], model_kwargs={"discriminator_norm": None},
    note=RUNS["wgan_gp"].note + ", no normalisation in the critic: the critic question",
)

# The averaging question: PixelCNN++ is evaluated with Polyak averages of its weights (decay 0.9995 over hundreds of
# thousands of steps). These 10 epochs are 4,690 steps, so 0.999 (an average over about 1,000 steps, two epochs).
# Same run as pixel_cnn_pp_256levels otherwise, to be read against it.
RUNS["pixel_cnn_pp_256levels_ema"] = dataclasses.replace(
    RUNS["pixel_cnn_pp_256levels"], ema_momentum=0.999,
    note=RUNS["pixel_cnn_pp_256levels"].note + ", Polyak averages of the weights (momentum 0.999)",
)

_RUN = flags.DEFINE_string("run", None, "Name of the run to train and score (see --list).")
_ROOT = flags.DEFINE_string("root", "runs/quality", "Parent of the runs' work directories (ROOT/NAME).")
_RESULTS = flags.DEFINE_string("json_dir", "benchmarks/results", "Where quality_NAME.json is written.")
_LIST = flags.DEFINE_boolean("list", False, "Print every run's configuration and parameter count, and exit.")
_VERBOSE = flags.DEFINE_integer("keras_verbose", 2, "Keras verbosity (2: one line per epoch, for logs).")


def train_config(name, root, verbose=2):
    """The `TrainConfig` of run `name` in `ROOT/NAME`."""
    if name not in RUNS:
        raise ValueError(f"Unknown run {name!r}. Valid names: {', '.join(sorted(RUNS))}.")
    run = RUNS[name]
    return train_lib.TrainConfig(
        model=run.model, workdir=os.path.join(root, name), epochs=run.epochs, batch_size=run.batch_size,
        learning_rate=run.learning_rate, num_levels=run.num_levels, model_kwargs=dict(run.model_kwargs),
        steps_per_epoch=run.steps_per_epoch, train_take=run.take, eval_take=run.take,
        validate_every_epoch=_is_likelihood_model(run.model), quality_samples=run.quality_samples, verbose=verbose,
        loss=run.loss, ema_momentum=run.ema_momentum,
    ).resolved()


def _is_likelihood_model(model):
    return registry.get_spec(model).preprocessing == "levels"


def parameter_count(name):
    """Parameters of run `name`'s model, built without training."""
    cfg = train_config(name, "/nonexistent")
    shape = data.image_shape(cfg.dataset)
    classes = data.num_classes(cfg.dataset) if cfg.spec.conditional else None
    return int(train_lib.build_model(cfg, shape, classes).count_params())


def read_history(workdir):
    """Rows of `WORKDIR/history.csv` as dicts of floats, epochs counted from 1 (the first epoch is 1)."""
    return [{**row, "epoch": row["epoch"] + 1} for row in callbacks.read_history(os.path.join(workdir, "history.csv"))]


def run_quality(name, root, results_dir, verbose=2):
    """Trains (or resumes) run `name`, scores it on the whole test split, writes `quality_NAME.json`; returns it."""
    cfg = train_config(name, root, verbose)
    run = RUNS[name]
    metrics = train_lib.train_and_evaluate(cfg)
    evaluation = eval_lib.evaluate(
        eval_lib.EvalConfig(workdir=cfg.workdir, num_samples=run.num_samples, iwae_k=run.iwae_k, take=run.take)
    )
    history = read_history(cfg.workdir)
    result = {
        "name": name,
        "model": cfg.model,
        "parameters": metrics["parameters"],
        "epochs": len(history),
        "train_config": dataclasses.asdict(cfg),
        "note": run.note,
        "wall_seconds": sum(row.get("epoch_seconds", 0.0) for row in history),
        "likelihood": evaluation.get("likelihood"),
        "quality": evaluation.get("quality"),
        "translation": evaluation.get("translation"),
        "history": history,
        **common.provenance("benchmarks.quality"),
    }
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, f"quality_{name}.json")
    atomic.write_json(path, result, indent=2, sort_keys=True)
    return result


def main(argv):
    del argv
    if _LIST.value:
        for name, run in RUNS.items():
            try:
                count = parameter_count(name)
            except ValueError as e:  # A model not registered yet (PixelCNN++ before issue 17).
                count = f"unavailable: {e}"
            print(json.dumps({"run": name, "parameters": count, **dataclasses.asdict(run)}))
        return
    if not _RUN.value:
        print("error: --run=NAME is required (or --list).", file=sys.stderr)
        sys.exit(1)
    result = run_quality(_RUN.value, _ROOT.value, _RESULTS.value, _VERBOSE.value)
    print(json.dumps({k: result[k] for k in ("name", "parameters", "epochs", "wall_seconds", "likelihood", "quality")}))


if __name__ == "__main__":
    app.run(main)
