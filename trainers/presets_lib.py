"""Making and checking presets: weights from trained work directories, metrics on a fixed test slice, figures.

A preset (see `zoo.presets`) is made from a work directory of `python -m trainers.train` (the benchmark runs
in `runs/bench/`, whose command, date and numbers are in `benchmarks/results/<run>.json`):

1. the trained `model.keras` is read (safe mode), its weights are copied into a model built from the
   constructor config alone and saved as `<preset>.weights.h5` (no optimizer state);
2. the manifest records the SHA-256, size, config, training command and provenance;
3. the preset is loaded back through `zoo.presets`, so what is measured is what users load, and measured on
   the first `METRICS_TAKE` test images (`metrics`) and on a smaller slice that tests re-evaluate (`check`);
4. a gallery figure is drawn from it;
5. the presets table and the gallery of README.md are rewritten from all manifests (`write_readme`).

Metrics, all deterministic for given weights:
- autoregressive models: the exact NLL in nats per image and bits/dim (`log_prob`);
- VAEs: the one-sample ELBO (seeded) and the importance-weighted bound with `IWAE_K` samples;
- GANs: FID, precision and recall of `take` samples (seed 0) against the first `take` test images, in the
  feature space of the shipped classifier, beside the real-against-real floor (test against train);
- CycleGAN: on the first `take` test images of each domain, the cycle errors A -> B -> A and B -> A -> B (mean
  absolute per-pixel error in [-1, 1] units) and the share of translations the shipped classifier puts in the
  target class (`trainers.eval_lib.translation_scores`);
- the classifier: accuracy.
A class-conditional model (cVAE, cDCGAN) is scored on each test image with its own label, and samples every
class in turn (`sample_labels`).

Example:
    >>> from trainers import presets_lib
    >>> presets_lib.make_presets(presets_lib.MakePresetsConfig(presets=("dcgan_fashion_mnist",)))
    >>> preset = zoo.presets.get_preset("dcgan_fashion_mnist")
    >>> presets_lib.check_value(preset.load(), preset)      # == preset.manifest["check"]["value"]
"""

import dataclasses
import datetime
import json
import os
import tempfile
from typing import Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from trainers import data, eval_lib, metrics, visualize
from zoo import ops
from zoo import presets as zoo_presets
from zoo.classifier.feature_classifier import FeatureClassifier
from zoo.gan.cyclegan import CycleGAN
from zoo.gan.gan import GAN
from zoo.pixel.autoregressive import AutoregressiveModel
from zoo.utils import atomic
from zoo.utils.versions import versions
from zoo.vae.vae import VAE

#: The manifest's `metrics` are measured on the first this many test images (and as many GAN samples).
METRICS_TAKE = 1000
#: Importance samples of the VAE bound in `metrics`.
IWAE_K = 100
#: Images scored per batch. Fixed: the VAE's seeded estimates depend on how the images are batched.
BATCH_SIZE = 250
#: Seed of every estimate and sample behind a preset metric.
SEED = 0
#: How far a re-evaluated check metric may be from the manifest's, relative: float round-off across CPUs and
#: oneDNN kernel choices. An accuracy may differ by one image of the slice instead.
CHECK_RTOL = {"autoregressive": 1e-3, "vae": 1e-3, "gan": 1e-2, "cyclegan": 1e-3, "classifier": 0.0}

#: preset name -> (benchmark run, check metric, check slice size). The run is the work directory
#: `<runs_dir>/<run>` with its `<results_dir>/<run>.json`, or for "quality:NAME" the long run
#: `<quality_dir>/NAME` of `benchmarks.quality` with its `<results_dir>/quality_NAME.json`; None for the
#: classifier, whose weights and manifest `trainers.train_classifier` writes in place. Check slices are small, so a test re-evaluates one in seconds.
SOURCES = {
    "vae_fashion_mnist": ("quality:vae", "elbo_nats", 200),
    "cvae_fashion_mnist": ("quality:cvae", "elbo_nats", 200),
    "dcgan_fashion_mnist": ("quality:dcgan", "fid", 500),
    "cdcgan_fashion_mnist": ("quality:cdcgan", "fid", 500),
    "wgan_gp_fashion_mnist": ("quality:wgan_gp", "fid", 500),
    "gan_fashion_mnist": ("quality:gan", "fid", 500),
    "cyclegan_fashion_mnist": ("quality:cyclegan", "cycle_a_mae", 100),
    "pixel_cnn_fashion_mnist": ("quality:pixel_cnn_20epochs", "bits_per_dim", 100),
    "pixel_cnn_fashion_mnist_256levels": ("quality:pixel_cnn_256levels_20epochs", "bits_per_dim", 100),
    "pixel_cnn_pp_fashion_mnist_256levels": ("pixel_cnn_pp_256levels_di_avg_7560s", "bits_per_dim", 100),
    "gated_pixel_cnn_fashion_mnist": ("quality:gated_pixel_cnn_wide_20epochs", "bits_per_dim", 100),
    "gated_pixel_cnn_fashion_mnist_256levels": ("quality:gated_pixel_cnn_256levels_20epochs", "bits_per_dim", 100),
    "row_lstm_fashion_mnist": ("quality:row_lstm", "bits_per_dim", 100),
    "row_lstm_fashion_mnist_256levels": ("quality:row_lstm_256levels_20epochs", "bits_per_dim", 100),
    "diagonal_bilstm_fashion_mnist": ("quality:diagonal_bilstm", "bits_per_dim", 50),
    "diagonal_bilstm_fashion_mnist_256levels": ("quality:diagonal_bilstm_256levels_20epochs", "bits_per_dim", 50),
    "classifier_fashion_mnist": (None, "accuracy", 500),
}

#: The data representation each family is trained on (`trainers.registry`'s `preprocessing`).
_PREPROCESSING_KIND = {
    "autoregressive": "levels", "vae": "levels", "gan": "symmetric", "cyclegan": "symmetric", "classifier": "unit",
}

#: Where `make_presets` draws the gallery figures by default (beside the weights, not installed with them).
FIGURES_DIR = os.path.join(os.path.dirname(zoo_presets.PRESETS_DIR), "figures")
_REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(zoo_presets.PRESETS_DIR)))


@dataclasses.dataclass
class MakePresetsConfig:
    """Which presets `make_presets` writes, from where, and where to.

    Args:
        presets: names of the presets to make (keys of `SOURCES`). Default: all.
        runs_dir: directory of the benchmark work directories (unless a result names its `model_path`). Default
            "runs/bench".
        quality_dir: directory of the long runs of `benchmarks.quality` ("quality:NAME" sources). Default
            "runs/quality".
        results_dir: directory of the benchmark result JSONs. Default "benchmarks/results".
        output_dir: where weights and manifests go. Default: `zoo.presets.PRESETS_DIR`.
        figures_dir: where the gallery PNGs go. Default: `FIGURES_DIR`.
        figures: draw the figures (autoregressive sampling takes a minute or more per model). Default True.
        data_dir: TFDS data directory.
        readme: Markdown file whose presets table and gallery (between `README_MARKERS`) are rewritten from the
            manifests afterwards. Default: the repository's README.md when `output_dir` is the shipped presets'
            directory, else none; "" for none.
    """

    presets: Tuple[str, ...] = tuple(SOURCES)
    runs_dir: str = "runs/bench"
    quality_dir: str = "runs/quality"
    results_dir: str = "benchmarks/results"
    output_dir: Optional[str] = None
    figures_dir: Optional[str] = None
    figures: bool = True
    data_dir: Optional[str] = None
    readme: Optional[str] = None

    def validate(self):
        unknown = [name for name in self.presets if name not in SOURCES]
        if unknown or not self.presets:
            raise ValueError(f"`presets` must be names among {', '.join(SOURCES)}; got {list(self.presets)!r}.")
        return self


def preset_family(model):
    """Which preset metrics and figure `model` gets: "autoregressive", "vae", "gan", "cyclegan" or "classifier".

    Not `export.saved_model.signature_family`, which sorts models by their serving signatures.
    """
    families = ((AutoregressiveModel, "autoregressive"), (VAE, "vae"), (GAN, "gan"), (CycleGAN, "cyclegan"),
                (FeatureClassifier, "classifier"))
    for cls, name in families:
        if isinstance(model, cls):
            return name
    raise TypeError(f"`model` must be a zoo model with presets; got {type(model).__name__}.")


def preprocessing(preset):
    """The `data.Preprocessing` of a preset's inputs, from its manifest."""
    return data.Preprocessing(**preset.manifest["preprocessing"])


def test_slice(preset, take, split="test", data_dir=None):
    """The first `take` images of `split` in the preset's preprocessing, and their labels, as numpy arrays."""
    ds = data.load(preset.manifest["dataset"], split, preprocessing(preset), batch_size=take, shuffle=False,
                   with_labels=True, take=take, data_dir=data_dir)
    images, labels = next(iter(ds))
    return images.numpy(), labels.numpy()


def _unpaired_test(preset, take, batch_size, data_dir=None):
    """Unshuffled `(images_a, images_b)` batches of the first `take` test images of each domain of a preset."""
    return data.load_unpaired(preset.manifest["dataset"], "test", preprocessing(preset), batch_size=batch_size,
                              shuffle=False, take=take, domains=preset.manifest["train_config"].get("domains"),
                              data_dir=data_dir)


def unpaired_test_slice(preset, take, data_dir=None):
    """The first `take` test images of each domain of a translation preset, `(images_a, images_b)` numpy arrays."""
    images_a, images_b = next(iter(_unpaired_test(preset, take, take, data_dir)))
    return images_a.numpy(), images_b.numpy()


def _translation_scores(model, preset, take, data_dir):
    dataset = preset.manifest["dataset"]
    domains = data.resolve_domains(dataset, preset.manifest["train_config"].get("domains"), data_dir)
    classifier = zoo_presets.get_preset(f"classifier_{dataset}").load()
    return eval_lib.translation_scores(
        model, _unpaired_test(preset, take, BATCH_SIZE, data_dir), preprocessing(preset), classifier, domains
    )


def _batches(images, labels=None):
    """`(index, images, labels)` of each batch of `BATCH_SIZE`; the labels are None unless given."""
    for start in range(0, images.shape[0], BATCH_SIZE):
        stop = start + BATCH_SIZE
        yield start // BATCH_SIZE, images[start:stop], None if labels is None else labels[start:stop]


def _conditional(model):
    return bool(getattr(model, "num_classes", None))


def sample_labels(model, count):
    """The labels a preset samples a conditional model with: every class in turn (None if unconditional)."""
    return np.arange(count, dtype=np.int32) % model.num_classes if _conditional(model) else None


def _classifier_features(dataset):
    """`(features_fn, description)` of the shipped classifier of `dataset`, the feature space of GAN metrics."""
    preset = zoo_presets.get_preset(f"classifier_{dataset}")
    classifier = preset.load()
    return (lambda x: classifier.features(x).numpy()), f"{preset.name} sha256:{preset.manifest['sha256'][:12]}"


def evaluate(model, preset, take, iwae_k=IWAE_K, data_dir=None):
    """The preset metrics of `model` on the first `take` test images (see the module docstring).

    Args:
        model: the preset's model.
        preset: its `zoo.presets.Preset` (for the dataset and preprocessing).
        take: images of the test split (and GAN samples).
        iwae_k: importance samples of the VAE bound; 0 skips it (the check needs only the ELBO).
        data_dir: TFDS data directory.

    Returns:
        A dict of floats.
    """
    kind = preset_family(model)
    if kind == "cyclegan":
        return _translation_scores(model, preset, take, data_dir)
    images, labels = test_slice(preset, take, data_dir=data_dir)
    shape = tuple(images.shape[1:])
    # A conditional model is scored on each test image with its own label.
    batches = list(_batches(images, labels if _conditional(model) else None))
    if kind == "autoregressive":
        log_probs = np.concatenate([model.log_prob(b, labels=y).numpy() for _, b, y in batches])
        nll = -float(np.mean(log_probs, dtype=np.float64))
        return {"nll_nats": nll, "bits_per_dim": float(ops.bits_per_dim(nll, shape))}
    if kind == "vae":
        elbo = np.concatenate([model.elbo(b, labels=y, seed=SEED * 1_000_003 + i).numpy() for i, b, y in batches])
        result = {"elbo_nats": float(np.mean(elbo, dtype=np.float64))}
        result["elbo_bits_per_dim"] = float(ops.bits_per_dim(-result["elbo_nats"], shape))
        if iwae_k:
            bound = np.concatenate([
                model.log_prob_bound(b, num_samples=iwae_k, labels=y, seed=SEED * 1_000_003 + i, chunk_size=50).numpy()
                for i, b, y in batches
            ])
            result.update(iwae_k=iwae_k, iwae_nats=float(np.mean(bound, dtype=np.float64)))
            result["iwae_bits_per_dim"] = float(ops.bits_per_dim(-result["iwae_nats"], shape))
        return result
    if kind == "gan":
        features, _ = _classifier_features(preset.manifest["dataset"])
        prep = preprocessing(preset)
        real = features(prep.to_unit(images).numpy())
        fake = features(prep.to_unit(model.sample(take, seed=SEED, labels=sample_labels(model, take))).numpy())
        reference = features(prep.to_unit(test_slice(preset, take, split="train", data_dir=data_dir)[0]).numpy())
        pr = metrics.precision_recall(real, fake, k=3)
        return {"fid": float(metrics.fid(real, fake)), "fid_floor": float(metrics.fid(real, reference)),
                "precision": float(pr.precision), "recall": float(pr.recall)}
    predictions = np.concatenate([model.predict_classes(b).numpy() for _, b, _ in batches])
    return {"accuracy": float(np.mean(predictions == labels))}


def check_value(model, preset, data_dir=None):
    """`model`'s value of the preset's check metric on its check slice; tests compare it with the manifest's."""
    check = preset.manifest["check"]
    return evaluate(model, preset, check["take"], iwae_k=0, data_dir=data_dir)[check["metric"]]


def _constructor_config(model):
    """The model's constructor arguments from `get_config`, without Keras's layer bookkeeping."""
    config = model.get_config()
    for key in ("name", "trainable", "dtype"):
        config.pop(key, None)
    return json.loads(json.dumps(config))  # Tuples become lists, as the manifest stores them.


QUALITY_PREFIX = "quality:"


def run_source(run, config):
    """`(work directory, result JSON path, result)` of a `SOURCES` run under `config` (a `MakePresetsConfig`)."""
    if run.startswith(QUALITY_PREFIX):
        name = run[len(QUALITY_PREFIX):]
        run_dir = os.path.join(config.quality_dir, name)
        result_path = os.path.join(config.results_dir, f"quality_{name}.json")
    else:
        run_dir, result_path = os.path.join(config.runs_dir, run), os.path.join(config.results_dir, f"{run}.json")
    result = _read_json(result_path)
    # A benchmark that trained in a work directory of its choice (`--workdir`) names its model in the result.
    if result.get("model_path"):
        run_dir = os.path.dirname(result["model_path"])
    return run_dir, result_path, result


def _from_quality_result(result):
    """A `benchmarks.quality` result in the keys of a benchmark result (what a manifest's `training` holds)."""
    history = result.get("history") or [{}]
    return {
        **result,
        "command": result.get("benchmark_command"),
        "steps_per_epoch": result["train_config"].get("steps_per_epoch"),
        "batch_size": result["train_config"].get("batch_size"),
        "train_wall_seconds": result.get("wall_seconds"),
        "test": {**(result.get("likelihood") or {}), **(result.get("quality") or {}), "last_epoch": history[-1]},
    }


def _from_pixel_cnn_pp_result(result):
    """A `benchmarks.pixel_cnn_pp_benchmark` likelihood result (ours beside `tfd.PixelCNN`) in the keys of a
    benchmark result, for our model."""
    ours = result["pixel_cnn_pp"]
    test = {"bits_per_dim": ours["test_bits_per_dim"], "images": result.get("test_images"),
            "reference_tfp_bits_per_dim": result["tfp"]["test_bits_per_dim"]}
    if result.get("average_momentum"):  # The saved weights are Polyak averages; the last weights scored too.
        test.update(average_momentum=result["average_momentum"], averaged_steps=ours["averaged_steps"],
                    last_weights_bits_per_dim=ours["test_bits_per_dim_last_weights"])
    return {
        **result,
        "command": result.get("benchmark_command"),
        "steps": ours["steps"],
        "train_wall_seconds": ours["train_wall_seconds"],
        "train_images_per_second": ours["train_images_per_second"],
        "test": test,
    }


def _training_record(run_dir, result_path, result):
    """`(train_config, training)`: the run's resolved config and its benchmark record (`result`, read from
    `result_path`)."""
    with open(os.path.join(run_dir, "config.json")) as f:
        train_config = json.load(f)
    if "history" in result:
        result = _from_quality_result(result)
    elif "pixel_cnn_pp" in result:
        result = _from_pixel_cnn_pp_result(result)
    keys = ("command", "benchmark_command", "date", "epochs", "steps", "steps_per_epoch", "batch_size",
            "train_wall_seconds", "train_images_per_second", "cores", "machine", "tensorflow", "keras")
    training = {key: result.get(key) for key in keys}
    training["test_split_metrics"] = result.get("test")  # Keras `evaluate` on the whole test split after training.
    training["result_file"] = os.path.relpath(result_path)
    train_config = {k: v for k, v in train_config.items() if k not in ("workdir", "verbose", "data_dir")}
    return train_config, training


def _write_weights_and_manifest(name, run, config, output_dir):
    """Copies a benchmark run's weights into `output_dir/<name>.weights.h5` and writes its manifest (no metrics yet)."""
    run_dir, result_path, result = run_source(run, config)
    if not result:
        raise ValueError(
            f"Preset {name!r} is made from the result {result_path}, which does not exist: run its benchmark."
        )
    model_file = os.path.join(run_dir, "model.keras")
    if not os.path.isfile(model_file):
        raise ValueError(f"{run_dir} holds no model.keras: train it with the command in {result_path}.")
    trained = keras.models.load_model(model_file, compile=False, safe_mode=True)
    model_class = type(trained)
    model_config = _constructor_config(trained)
    # Saved from a model built from the manifest's config alone, so the file holds exactly the variables a
    # loader builds, and no optimizer state. The file also stores each layer's automatic name ("dense_4"),
    # which counts the layers built before in the process: a fresh session makes the bytes, and so the
    # SHA-256, the same on every rebuild.
    weights = trained.get_weights()
    keras.utils.clear_session()
    shipped = model_class(**model_config)
    shipped.set_weights(weights)
    weights_path = os.path.join(output_dir, f"{name}.weights.h5")
    shipped.save_weights(weights_path)

    train_config, training = _training_record(run_dir, result_path, result)
    prep = data.Preprocessing(
        kind=_PREPROCESSING_KIND[preset_family(shipped)],
        num_levels=train_config.get("num_levels") or 256,
        binarize=train_config.get("binarize") or "fixed",
    )
    manifest = {
        "preset": name,
        "class": f"{model_class.__module__}:{model_class.__qualname__}",
        "model": train_config["model"],
        "dataset": train_config["dataset"],
        "preprocessing": dataclasses.asdict(prep),
        "model_config": model_config,
        "weights_file": os.path.basename(weights_path),
        "sha256": zoo_presets.sha256_of_file(weights_path),
        "size_bytes": os.path.getsize(weights_path),
        "num_parameters": int(shipped.count_params()),
        "command": training["command"],
        "date": training["date"],
        "training": training,
        "train_config": train_config,
        "source_model_file": os.path.relpath(model_file),
        "source_model_sha256": zoo_presets.sha256_of_file(model_file),
        "made": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    manifest_path = os.path.join(output_dir, f"{name}.json")
    atomic.write_json(manifest_path, manifest, trailing_newline=True, indent=2, sort_keys=True)
    return manifest_path


def _domain_names(preset, data_dir=None):
    """`(" (Sneaker)", " (Ankle boot)")`: a CycleGAN preset's domains as class names for a caption ("" each for a
    dataset whose splits are the domains)."""
    domains = data.resolve_domains(preset.manifest["dataset"], preset.manifest["train_config"].get("domains"), data_dir)
    if domains is None:
        return "", ""
    names = data.builder(preset.manifest["dataset"], data_dir).info.features["label"].names
    return tuple(f" ({names[i]})" for i in domains)


def draw_figure(model, preset, path, data_dir=None):
    """Writes the preset's gallery PNG and returns a description of its rows.

    Autoregressive: 16 samples; 8 test images with their bottom half hidden (grey); the model's completions of
    them; the originals. VAE: decoder means of 16 samples; two interpolations between test images. GAN: 24
    samples; two slerp interpolations between random latents. Classifier: one column per class, the four test
    images (of the first 1000) it is most confident belong to it. A conditional VAE or GAN: the samples are 20,
    one column per class; the VAE's interpolations decode with the first image's label, the GAN's with
    classes 0 and 1.
    """
    kind = preset_family(model)
    if kind in ("vae", "gan") and _conditional(model):
        return _draw_conditional(model, preset, path, kind, data_dir)
    if kind == "cyclegan":
        rows = []
        for images, direction in zip(unpaired_test_slice(preset, 8, data_dir), ("a2b", "b2a")):
            rows += [images, model.translate(images, direction).numpy(), model.reconstruct(images, direction).numpy()]
        visualize.save_grid(path, (np.concatenate(rows) + 1.0) / 2.0, num_cols=8, scale=2)
        a, b = _domain_names(preset, data_dir)
        return (f"8 test images of domain A{a}; translated to B{b}; back to A; 8 test images of domain B; translated "
                "to A; back to B")
    prep = preprocessing(preset)
    images, _ = test_slice(preset, METRICS_TAKE, data_dir=data_dir)
    num_cols = 8
    if kind == "autoregressive":
        originals = images[:8]
        known = np.zeros(originals.shape, bool)
        known[:, : originals.shape[1] // 2] = True
        completed = model.complete(originals, known, seed=SEED)
        hidden = np.where(known, prep.to_unit(originals).numpy(), 0.5)
        rows = [prep.to_unit(model.sample(16, seed=SEED)).numpy(), hidden, prep.to_unit(completed).numpy(),
                prep.to_unit(originals).numpy()]
        caption = "16 samples; 8 test images with the bottom half hidden; the model's completions; the originals"
    elif kind == "vae":
        rows = [model.sample(16, seed=SEED, mean=True).numpy(),
                model.interpolate(images[0], images[1], steps=8).numpy(),
                model.interpolate(images[2], images[3], steps=8).numpy()]
        caption = "decoder means of 16 samples; interpolations between test images 0 and 1, and 2 and 3"
    elif kind == "gan":
        rows = [(model.sample(24, seed=SEED).numpy() + 1.0) / 2.0]
        for seed in (1, 2):
            z = model.latents(2, seed=seed).numpy()
            rows.append((model.interpolate(z[0], z[1], steps=8, method="slerp").numpy() + 1.0) / 2.0)
        caption = "24 samples; two slerp interpolations between random latents"
    else:
        probabilities = tf.nn.softmax(model(images, training=False)).numpy()
        num_cols = probabilities.shape[1]
        best = [images[np.argsort(-probabilities[:, c], kind="stable")[:4]] for c in range(num_cols)]
        rows = [np.stack(best, axis=1).reshape((-1,) + images.shape[1:])]
        caption = "one column per class: the 4 test images (of the first 1000) the classifier is surest about"
    visualize.save_grid(path, np.concatenate(rows), num_cols=num_cols, scale=2)
    return caption


def _draw_conditional(model, preset, path, kind, data_dir):
    """`draw_figure` of a class-conditional VAE or GAN: a row of every class, twice, then two interpolations."""
    classes = model.num_classes
    images, labels = test_slice(preset, METRICS_TAKE, data_dir=data_dir)
    count = 2 * classes
    if kind == "vae":
        rows = [model.sample(count, seed=SEED, mean=True, labels=sample_labels(model, count)).numpy()]
        rows += [model.interpolate(images[i], images[i + 1], steps=classes, labels=int(labels[i])).numpy() for i in (0, 2)]
        caption = (f"decoder means of {count} samples, one column per class; interpolations between test images 0 and "
                   "1, and 2 and 3, with the first one's label")
    else:
        rows = [(model.sample(count, seed=SEED, labels=sample_labels(model, count)).numpy() + 1.0) / 2.0]
        for label, seed in ((0, 1), (1, 2)):
            z = model.latents(2, seed=seed).numpy()
            rows.append((model.interpolate(z[0], z[1], steps=classes, method="slerp", labels=label).numpy() + 1.0) / 2.0)
        caption = f"{count} samples, one column per class; slerp interpolations between random latents, classes 0 and 1"
    visualize.save_grid(path, np.concatenate(rows), num_cols=classes, scale=2)
    return caption


def _measure_and_draw(name, manifest_path, config, previous):
    """Loads the preset at `manifest_path` as users do and returns its manifest with metrics, check and figure."""
    _, check_metric, check_take = SOURCES[name]
    preset = zoo_presets.Preset.from_manifest(manifest_path)
    model = preset.load()  # What users get: verified file, model built from the manifest alone.
    kind = preset_family(model)
    manifest = dict(preset.manifest)
    manifest["metrics"] = evaluate(model, preset, METRICS_TAKE, data_dir=config.data_dir)
    manifest["metrics_slice"] = f"{manifest['dataset']} test[:{METRICS_TAKE}]"
    if kind == "gan":
        manifest["metrics_features"] = _classifier_features(manifest["dataset"])[1]
    value = evaluate(model, preset, check_take, iwae_k=0, data_dir=config.data_dir)[check_metric]
    manifest["check"] = {
        "metric": check_metric,
        "take": check_take,
        "value": value,
        "rtol": CHECK_RTOL[kind],
        "atol": 1.0 / check_take if kind == "classifier" else 0.0,
    }
    if config.figures:
        path = os.path.join(config.figures_dir or FIGURES_DIR, f"{name}.png")
        manifest["figure_rows"] = draw_figure(model, preset, path, data_dir=config.data_dir)
        manifest["figure"] = os.path.relpath(path, _REPO_DIR)
    else:
        manifest.update({key: previous[key] for key in ("figure", "figure_rows") if key in previous})
    return manifest


def _read_json(path):
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def _make_one(name, config):
    """Makes one preset. Its files change only once everything worked: a failure leaves the old preset as it was."""
    run = SOURCES[name][0]
    if run is None:
        from zoo.classifier import pretrained

        dataset = name[len("classifier_"):]
        manifest_path = os.path.join(pretrained.WEIGHTS_DIR, pretrained.manifest_filename(dataset))
        manifest = _measure_and_draw(name, manifest_path, config, _read_json(manifest_path))
        atomic.write_json(manifest_path, manifest, trailing_newline=True, indent=2, sort_keys=True)
        return manifest
    output_dir = config.output_dir or zoo_presets.PRESETS_DIR
    os.makedirs(output_dir, exist_ok=True)
    previous = _read_json(os.path.join(output_dir, f"{name}.json"))
    # Made and measured in a staging directory beside the presets (not searched: manifests are looked up in
    # `output_dir` itself), then moved into place.
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".staging-") as staging:
        staged = _write_weights_and_manifest(name, run, config, staging)
        manifest = _measure_and_draw(name, staged, config, previous)
        atomic.write_json(staged, manifest, trailing_newline=True, indent=2, sort_keys=True)
        os.replace(os.path.join(staging, manifest["weights_file"]), os.path.join(output_dir, manifest["weights_file"]))
        os.replace(staged, os.path.join(output_dir, os.path.basename(staged)))
    return manifest


#: block -> (opening, closing) HTML comments around the parts of a README that `write_readme` rewrites.
README_MARKERS = {
    block: (f"<!-- {block}: written by python -m trainers.make_presets -->", f"<!-- end of {block} -->")
    for block in ("presets table", "presets gallery")
}
README = os.path.join(_REPO_DIR, "README.md")


def gallery_table(directory=None):
    """The presets' figures and their captions as a Markdown table, in the order of `SOURCES` (then by name).

    Args:
        directory: where the manifests are (default: the shipped presets, as `zoo.presets.list_presets`).
    """
    order = {name: i for i, name in enumerate(SOURCES)}
    rows = sorted(
        zoo_presets.list_presets(directory), key=lambda row: (order.get(row["name"], len(order)), row["name"])
    )
    lines = ["| preset | figure |", "|---|---|"]
    lines += [
        f"| `{row['name']}`<br>{row['figure_caption']} | ![{row['name']}]({row['figure']}) |"
        for row in rows if row["figure"]
    ]
    return "\n".join(lines)


def write_readme(path=README, directory=None):
    """Rewrites the presets table (`zoo.presets.presets_table`) and the gallery (`gallery_table`) of the
    Markdown file `path`, each between its pair of `README_MARKERS`; the rest of the file stays as it is.

    Args:
        path: the Markdown file (default: the repository's README.md). Figure links stay relative to the
            repository, as the manifests record them.
        directory: where the manifests are (default: the shipped presets).

    Returns:
        `path`.

    Raises:
        ValueError: `path` lacks a marker, or has them out of order.
    """
    with open(path) as f:
        text = f.read()
    blocks = {"presets table": zoo_presets.presets_table(directory), "presets gallery": gallery_table(directory)}
    for block, body in blocks.items():
        opening, closing = README_MARKERS[block]
        start, end = text.find(opening), text.find(closing)
        if start < 0 or end < start:
            raise ValueError(f"`path` ({path}) must hold {opening!r} and, after it, {closing!r}.")
        text = text[:start + len(opening)] + "\n" + body + "\n" + text[end:]
    atomic.write_text(path, text)
    return path


def make_presets(config: MakePresetsConfig):
    """Writes (or, for the classifier, completes) the weights, manifests and figures of `config.presets`.

    Args:
        config: a `MakePresetsConfig`.

    Returns:
        `{preset: {"metrics", "check", "size_bytes", "sha256"}}` for the presets made.

    Raises:
        ValueError: an unknown preset, or a benchmark run without its trained model.
    """
    config = config.validate()
    summary = {}
    for name in config.presets:
        manifest = _make_one(name, config)
        summary[name] = {key: manifest[key] for key in ("metrics", "check", "size_bytes", "sha256")}
    readme = README if config.readme is None and config.output_dir is None else config.readme
    if readme:
        write_readme(readme, config.output_dir)
    return summary
