"""Evaluation of a trained zoo model: likelihoods and sample quality, written to `WORKDIR/eval.json`.

What is measured depends on what the model can do:
- likelihood models give the test NLL in nats per image and bits/dim: exact `log_prob` for the
  autoregressive family; for VAEs the ELBO and the importance-weighted bound `log_prob_bound` with `iwae_k`
  samples (a tighter lower bound on `log p(x)`);
- every generator gives FID, KID and k-NN precision/recall between `num_samples` generated images and as many
  images of the evaluation split, in the feature space of the shipped Fashion-MNIST classifier (or of
  Inception-v3 when its weights are supplied). Beside each score stands its floor: the same metric between
  the evaluation split and as many images of the reference split (real against real), what a perfect
  generator would score with this many samples;
- unpaired translation models (CycleGAN) give their cycle-reconstruction error on the evaluation split and the
  share of translated images the shipped classifier assigns to the target domain's class
  (`translation_scores`), instead of sample quality.

Real images go through the model's own preprocessing first (binarized models are compared with binarized
real images), so a score measures the model and not the quantisation.

Example:
    >>> from trainers import eval_lib
    >>> result = eval_lib.evaluate(eval_lib.EvalConfig(workdir="runs/vae", num_samples=5000))
    >>> result["likelihood"]["iwae_nats"], result["quality"]["fid"], result["quality"]["floor"]["fid"]
"""

import dataclasses
import glob
import json
import os
import time
from typing import Optional

import keras
import numpy as np
import tensorflow as tf

from trainers import data, metrics, train_lib
from zoo import ops
from zoo.classifier import inception, pretrained
from zoo.utils import atomic


@dataclasses.dataclass
class EvalConfig:
    """What to evaluate and how much.

    Args:
        workdir: a training work directory (`config.json` and `model.keras`, or epoch checkpoints).
        split: the split the model is scored on. Default "test".
        reference_split: the split of the real-against-real floor. Default "train".
        take: score likelihoods on only the first N images of `split` (None = all).
        iwae_k: importance samples of the VAE bound (>= 1). Default 100.
        num_samples: generated images for FID/KID/precision/recall, and real images per real set. 0 skips
            sample quality. Default 10000.
        batch_size: images per likelihood batch and per sampling call. Default 250.
        seed: seed of the likelihood estimates, of the generated images and of KID's subsets.
        inception_weights: path to Keras's InceptionV3 no-top weights; None uses the shipped classifier.
        classifier_dir: directory of the feature classifier's weights and manifest (None = shipped).
        data_dir: TFDS data directory.
    """

    workdir: str
    split: str = "test"
    reference_split: str = "train"
    take: Optional[int] = None
    iwae_k: int = 100
    num_samples: int = 10000
    batch_size: int = 250
    seed: int = 0
    inception_weights: Optional[str] = None
    classifier_dir: Optional[str] = None
    data_dir: Optional[str] = None

    def validate(self):
        if not self.workdir or not os.path.isdir(self.workdir):
            raise ValueError(f"`workdir` must be an existing training work directory; got {self.workdir!r}.")
        for name, low in (("iwae_k", 1), ("batch_size", 1), ("num_samples", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"`{name}` must be an int >= {low}; got {value!r}.")
        if self.take is not None and (not isinstance(self.take, int) or self.take < 1):
            raise ValueError(f"`take` must be a positive int or None; got {self.take!r}.")
        if 0 < self.num_samples < 2:
            raise ValueError(f"`num_samples` must be 0 (no sample quality) or >= 2; got {self.num_samples}.")
        return self


def training_config(workdir):
    """The resolved `TrainConfig` a work directory was trained with (from its `config.json`)."""
    path = os.path.join(workdir, "config.json")
    if not os.path.isfile(path):
        raise ValueError(f"{workdir} has no config.json: is it a `python -m trainers.train` work directory?")
    with open(path) as f:
        fields = json.load(f)
    known = {f.name for f in dataclasses.fields(train_lib.TrainConfig)}
    return train_lib.TrainConfig(**{k: v for k, v in fields.items() if k in known}).resolved()


def load_trained_model(workdir):
    """The final `model.keras` of a work directory, or its newest epoch checkpoint if training was cut short.

    Returns:
        `(model, path)`.
    """
    training_config(workdir).spec.model_class()  # Imports the class, which registers it for deserialization.
    final = os.path.join(workdir, "model.keras")
    candidates = [final] if os.path.isfile(final) else sorted(glob.glob(os.path.join(workdir, "checkpoints", "epoch_*.keras")))
    if not candidates:
        raise ValueError(f"{workdir} holds no trained model (model.keras or checkpoints/epoch_*.keras): train it first.")
    return keras.models.load_model(candidates[-1]), candidates[-1]


def _likelihood(model, ds, cfg, image_shape):
    """Mean per-image log-likelihood estimates over a dataset of `(images, labels)` batches."""
    conditional = bool(getattr(model, "num_classes", None))
    totals, count = {}, 0
    for step, (images, labels) in enumerate(ds):
        labels = labels if conditional else None
        seed = cfg.seed * 1_000_003 + step
        if hasattr(model, "log_prob_bound"):
            values = {
                "elbo": model.elbo(images, labels=labels, seed=seed),
                "iwae": model.log_prob_bound(images, num_samples=cfg.iwae_k, labels=labels, seed=seed),
            }
        else:
            values = {"log_prob": model.log_prob(images, labels=labels)}
        for key, value in values.items():
            totals[key] = totals.get(key, 0.0) + float(tf.reduce_sum(tf.cast(value, tf.float64)))
        count += int(images.shape[0])
    if count == 0:
        raise ValueError(f"The split {cfg.split!r} holds no images to score.")
    result = {"images": count}
    for key, total in totals.items():
        nats = -total / count
        name = "nll" if key == "log_prob" else key
        result[f"{name}_nats"] = nats if key == "log_prob" else -nats
        result[f"{name}_bits_per_dim"] = float(ops.bits_per_dim(nats, image_shape))
    if "iwae_nats" in result:
        result["iwae_k"] = cfg.iwae_k
    return result


def _feature_extractor(cfg, dataset, image_shape):
    """`(features_fn, description)` for the configured feature space."""
    if cfg.inception_weights:
        model = inception.inception_feature_extractor(cfg.inception_weights, image_shape)
        return (lambda x: model.predict(x, batch_size=50, verbose=0)), "inception_v3 pool3"
    try:
        manifest = pretrained.read_manifest(dataset, cfg.classifier_dir)
    except FileNotFoundError:
        raise ValueError(
            f"No feature classifier is shipped for {dataset!r} (available: {pretrained.available_datasets(cfg.classifier_dir)}). "
            "Train one with `python -m trainers.train_classifier`, pass --inception_weights, or --num_samples=0."
        ) from None
    classifier = pretrained.load_feature_classifier(dataset, cfg.classifier_dir)
    return (lambda x: classifier.features(x).numpy()), f"{dataset} classifier sha256:{manifest['sha256'][:12]}"


def _generated_unit_images(model, prep, cfg):
    num_classes = getattr(model, "num_classes", None)
    chunks = []
    start = time.perf_counter()
    for offset in range(0, cfg.num_samples, cfg.batch_size):
        n = min(cfg.batch_size, cfg.num_samples - offset)
        labels = (np.arange(offset, offset + n) % num_classes).astype("int32") if num_classes else None
        chunks.append(prep.to_unit(model.sample(n, seed=cfg.seed * 1_000_003 + offset, labels=labels)).numpy())
    seconds = time.perf_counter() - start
    return np.concatenate(chunks), cfg.num_samples / seconds


def _scores(real, fake, seed):
    subset = min(1000, real.shape[0], fake.shape[0])
    kid = metrics.kid(real, fake, num_subsets=100, subset_size=subset, seed=seed)
    pr = metrics.precision_recall(real, fake, k=3)
    return {
        "fid": float(metrics.fid(real, fake)),
        "kid_mean": float(kid.mean),
        "kid_std": float(kid.std),
        "precision": float(pr.precision),
        "recall": float(pr.recall),
    }


def translation_scores(model, ds, prep, classifier=None, domains=None):
    """How well an unpaired translation model (CycleGAN) translates and inverts its translations.

    Args:
        model: a model with `translate(images, direction)` and `reconstruct(images, direction)`.
        ds: unshuffled `(images_a, images_b)` batches in the model's representation (`data.load_unpaired`).
        prep: the `Preprocessing` of those images; the classifier sees `prep.to_unit(images)`.
        classifier: a classifier of the dataset's classes (`classifier(unit_images)` gives logits), or None.
        domains: the class indices `(a, b)` of the two domains; needed with `classifier`.

    Returns:
        A dict: `images_a`, `images_b` (how many were scored), `cycle_a_mae` and `cycle_b_mae` (the mean absolute
        per-pixel error of `reconstruct`, A -> B -> A and B -> A -> B, in the model's units: [-1, 1] for CycleGAN)
        and, with a classifier, `a2b_accuracy` (the share of translated A images classified as the class of B),
        `b2a_accuracy`, and `real_a_accuracy`, `real_b_accuracy` (the classifier on the untranslated inputs:
        what a translation indistinguishable from real images of the target class would score).
    """
    if classifier is not None and domains is None:
        raise ValueError("`domains` (the class indices of A and B) are needed to score translations with `classifier`.")
    sums = {}
    counts = {"a": 0, "b": 0}

    def add(key, values):
        sums[key] = sums.get(key, 0.0) + float(tf.reduce_sum(tf.cast(values, tf.float64)))

    for images_a, images_b in ds:
        for images, source, direction in ((images_a, "a", "a2b"), (images_b, "b", "b2a")):
            counts[source] += int(images.shape[0])
            errors = tf.abs(model.reconstruct(images, direction) - tf.cast(images, tf.float32))
            add(f"cycle_{source}_mae", tf.reduce_mean(tf.reshape(errors, [tf.shape(errors)[0], -1]), axis=-1))
            if classifier is not None:
                source_class, target_class = (domains[0], domains[1]) if source == "a" else (domains[1], domains[0])
                translated = prep.to_unit(model.translate(images, direction))
                add(f"{direction}_accuracy", tf.argmax(classifier(translated), -1) == target_class)
                add(f"real_{source}_accuracy", tf.argmax(classifier(prep.to_unit(images)), -1) == source_class)
    if not counts["a"] or not counts["b"]:
        raise ValueError("The unpaired dataset holds no images of one of the domains: nothing to score.")
    result = {"images_a": counts["a"], "images_b": counts["b"]}
    for key, total in sums.items():
        result[key] = total / counts["a" if key in ("cycle_a_mae", "a2b_accuracy", "real_a_accuracy") else "b"]
    return result


def evaluate(config: EvalConfig):
    """Scores the model of `config.workdir` and writes the result to `WORKDIR/eval.json`.

    Args:
        config: an `EvalConfig`.

    Returns:
        The result dict: `likelihood` (for likelihood models), `quality` (unless `num_samples=0`), the model
        file scored, and the configuration.

    Raises:
        ValueError: not a work directory, no trained model, bad sizes, or no feature extractor for the dataset.
        trainers.data.DataUnavailableError: the dataset cannot be found or downloaded.
    """
    cfg = config.validate()
    train_cfg = training_config(cfg.workdir)
    model, model_path = load_trained_model(cfg.workdir)
    prep = train_cfg.preprocessing()
    dataset = train_cfg.dataset
    shape = data.image_shape(dataset, cfg.data_dir)
    result = {"workdir": os.path.abspath(cfg.workdir), "model": train_cfg.model, "model_file": model_path,
              "dataset": dataset, "split": cfg.split, "config": dataclasses.asdict(cfg)}

    start = time.perf_counter()
    if hasattr(model, "log_prob") or hasattr(model, "log_prob_bound"):
        ds = data.load(dataset, cfg.split, prep, batch_size=cfg.batch_size, shuffle=False, take=cfg.take,
                       with_labels=True, data_dir=cfg.data_dir)
        result["likelihood"] = _likelihood(model, ds, cfg, shape)
    if hasattr(model, "translate"):
        ds = data.load_unpaired(dataset, cfg.split, prep, batch_size=cfg.batch_size, shuffle=False, take=cfg.take,
                                domains=train_cfg.domains, image_size=train_cfg.image_size, data_dir=cfg.data_dir)
        domains = data.resolve_domains(dataset, train_cfg.domains, cfg.data_dir)
        classifier = None
        if domains is not None and dataset in pretrained.available_datasets(cfg.classifier_dir):
            classifier = pretrained.load_feature_classifier(dataset, cfg.classifier_dir)
        result["translation"] = translation_scores(model, ds, prep, classifier, domains)
    if cfg.num_samples and hasattr(model, "sample"):  # Translation models draw no samples to score.
        features, description = _feature_extractor(cfg, dataset, shape)
        real = features(data.unit_images(dataset, cfg.split, prep, cfg.num_samples, cfg.data_dir))
        reference = features(data.unit_images(dataset, cfg.reference_split, prep, cfg.num_samples, cfg.data_dir))
        fake_images, images_per_second = _generated_unit_images(model, prep, cfg)
        quality = _scores(real, features(fake_images), cfg.seed)
        quality["floor"] = {"reference_split": cfg.reference_split, **_scores(real, reference, cfg.seed)}
        quality.update(num_samples=cfg.num_samples, features=description, sample_images_per_second=images_per_second)
        result["quality"] = quality
    result["eval_seconds"] = time.perf_counter() - start

    path = os.path.join(cfg.workdir, "eval.json")
    atomic.write_json(path, result, indent=2, sort_keys=True)
    return result
