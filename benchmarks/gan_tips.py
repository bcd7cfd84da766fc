r"""The lecture's tips for a stable GAN, measured one by one on the fully connected GAN (mode collapse).

    python -m benchmarks.gan_tips                       # every variant, 10 epochs each
    python -m benchmarks.gan_tips --variants=baseline,dropout --epochs=10

Each variant is `python -m trainers.train --model=gan` with the registry defaults plus one change (or a
combination of changes that measured well alone), trained for the same number of generator steps (rows with k > 1 take k discriminator steps per generator step), then scored
as `python -m trainers.evaluate --num_samples=5000` does: FID and k-NN precision/recall of 5000 samples against
5000 test images in the shipped classifier's feature space. Recall is the share of real images that have a
generated image nearby: the measure of mode collapse (0 = the generator covers none of the data's variety).

The last two variants compare the real minibatches of k = 2 discriminator steps: one batch reused by both
(`fresh_real_batches=False`) against a fresh batch for each (Goodfellow et al., Algorithm 1), at equal
generator steps and so equal compute. Results go to `benchmarks/results/gan_tips.json`; rerunning reuses the
variants already scored in `--root` (delete a variant's directory to retrain it).
"""

import json
import os

from absl import app, flags

from benchmarks import common
import numpy as np

from trainers import callbacks, data, eval_lib, train_lib
from zoo.classifier import pretrained
from zoo.utils import atomic

#: name -> (what changed, TrainConfig overrides). Model kwargs merge into the registry's.
VARIANTS = {
    "baseline": ("registry defaults: non-saturating loss, Adam(2e-4, 0.5), k=1", {}),
    "dropout": ("dropout 0.3 after each hidden discriminator layer", {"model_kwargs": {"discriminator_dropout": 0.3}}),
    "label_smoothing": ("one-sided label smoothing, real target 0.9", {"model_kwargs": {"label_smoothing": 0.1}}),
    "generator_bn": ("batch normalisation in the generator", {"model_kwargs": {"generator_norm": "batch"}}),
    "lr_1e-4": ("learning rate 1e-4 for both players", {"learning_rate": 1e-4}),
    "latent_100": ("latent_dim 100", {"model_kwargs": {"latent_dim": 100}}),
    "minibatch_stddev": (
        "the discriminator sees the batch's feature spread (minibatch standard deviation)",
        {"model_kwargs": {"minibatch_stddev": True}},
    ),
    "bn_dropout_smoothing": (
        "generator batch norm + discriminator dropout 0.3 + label smoothing 0.1",
        {"model_kwargs": {"generator_norm": "batch", "discriminator_dropout": 0.3, "label_smoothing": 0.1}},
    ),
    "least_squares": ("least-squares game (Mao et al., 2017)", {"loss": "least_squares"}),
    "wasserstein_gp": (
        "Wasserstein loss with gradient penalty 10, k=5 critic steps (Gulrajani et al., 2017)",
        {"loss": "wasserstein", "model_kwargs": {"d_steps": 5}},
    ),
    "wide_bn": (
        "wider players (256, 512, 1024 units) with generator batch norm and latent_dim 100",
        {"model_kwargs": {"hidden_units": [256, 512, 1024], "generator_norm": "batch", "latent_dim": 100}},
    ),
    "k2_reused": ("k=2 discriminator steps on one reused real batch", {"model_kwargs": {"d_steps": 2}}),
    "k2_fresh": (
        "k=2 discriminator steps, a fresh real batch each (Algorithm 1)",
        {"model_kwargs": {"d_steps": 2, "fresh_real_batches": True}},
    ),
}

_VARIANTS = flags.DEFINE_list("variants", list(VARIANTS), "Variants to run, in order.")
_EPOCHS = flags.DEFINE_integer("epochs", 10, "Epochs of 468 generator steps (one pass of 60,000 images at batch 128).")
_ROOT = flags.DEFINE_string("root", "runs/gan_tips", "Parent of the variants' work directories.")
_BASE_KWARGS = flags.DEFINE_string("base_model_kwargs", "{}", "JSON model kwargs every variant starts from.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/gan_tips.json", "Result file.")
_STEPS_PER_EPOCH = 468
_NUM_SAMPLES = 5000


def _config(name, root, epochs, base_kwargs):
    overrides = dict(VARIANTS[name][1])
    model_kwargs = {**base_kwargs, **overrides.pop("model_kwargs", {})}
    return train_lib.TrainConfig(
        model="gan", workdir=os.path.join(root, name), epochs=epochs, steps_per_epoch=_STEPS_PER_EPOCH,
        model_kwargs=model_kwargs, verbose=2, **overrides,
    )


def class_shares(workdir, num_samples=_NUM_SAMPLES):
    """Share of a run's samples (seeds as in `trainers.evaluate`) that the shipped classifier puts in each class.

    Tells mode dropping (classes missing) from a generator that covers every class with a few near-duplicates
    (every class present, recall still near 0). Cached in `WORKDIR/class_shares.json`.
    """
    path = os.path.join(workdir, "class_shares.json")
    if not os.path.isfile(path):
        model, _ = eval_lib.load_trained_model(workdir)
        prep = data.Preprocessing("symmetric")
        classifier = pretrained.load_feature_classifier("fashion_mnist")
        counts = np.zeros(10)
        for offset in range(0, num_samples, 500):
            images = prep.to_unit(model.sample(500, seed=offset))
            counts += np.bincount(np.argmax(classifier(images), -1), minlength=10)
        atomic.write_json(path, [round(float(c), 4) for c in counts / counts.sum()])
    with open(path) as f:
        return json.load(f)


def run_variant(name, root, epochs, base_kwargs):
    """Trains (or reuses) one variant and returns its row: what changed, FID, precision, recall, commands."""
    cfg = _config(name, root, epochs, base_kwargs)
    eval_path = os.path.join(cfg.workdir, "eval.json")
    if not os.path.isfile(eval_path):
        train_lib.train_and_evaluate(cfg)
        eval_lib.evaluate(eval_lib.EvalConfig(workdir=cfg.workdir, num_samples=_NUM_SAMPLES))
    with open(eval_path) as f:
        evaluation = json.load(f)
    with open(os.path.join(cfg.workdir, "metrics.json")) as f:
        metrics = json.load(f)
    quality = evaluation["quality"]
    return {
        "variant": name,
        "change": VARIANTS[name][0],
        "model_kwargs": cfg.model_kwargs,
        "loss": cfg.loss or cfg.spec.compile_kwargs.get("loss", "non_saturating"),
        "learning_rate": cfg.learning_rate,
        "generator_steps": epochs * _STEPS_PER_EPOCH,
        "fid": quality["fid"],
        "precision": quality["precision"],
        "recall": quality["recall"],
        "floor": {k: quality["floor"][k] for k in ("fid", "precision", "recall")},
        # Every epoch's time, also of a run that was interrupted and resumed.
        "train_seconds": sum(row.get("epoch_seconds", 0.0) for row in callbacks.read_history(
            os.path.join(cfg.workdir, "history.csv"))),
        "parameters": metrics["parameters"],
        "class_shares": class_shares(cfg.workdir),
    }


def main(argv):
    del argv
    unknown = [v for v in _VARIANTS.value if v not in VARIANTS]
    if unknown:
        raise app.UsageError(f"Unknown variants {unknown}; valid: {', '.join(VARIANTS)}.")
    base_kwargs = json.loads(_BASE_KWARGS.value)
    rows = []
    if os.path.isfile(_OUT.value):
        with open(_OUT.value) as f:
            rows = [r for r in json.load(f).get("rows", []) if r["variant"] not in _VARIANTS.value]
    for name in _VARIANTS.value:
        rows.append(run_variant(name, _ROOT.value, _EPOCHS.value, base_kwargs))
        result = {"rows": rows, "num_samples": _NUM_SAMPLES, "epochs": _EPOCHS.value,
                  "steps_per_epoch": _STEPS_PER_EPOCH, **common.provenance("benchmarks.gan_tips")}
        os.makedirs(os.path.dirname(_OUT.value), exist_ok=True)
        atomic.write_json(_OUT.value, result, indent=2, sort_keys=True)
        print(json.dumps(rows[-1]))


if __name__ == "__main__":
    app.run(main)
