"""Shipped feature-classifier weights: where they live, their manifest, and checksum-verified loading.

For each dataset the repository ships two files in `zoo/classifier/weights/`:

    <dataset>_classifier.weights.h5   the `FeatureClassifier` weights (`model.save_weights`)
    <dataset>_classifier.json         the manifest: SHA-256 of the weights, the constructor config, test
                                      accuracy, the exact training command, date and library versions

Metric values are only comparable between runs that used the same weights, so loading refuses a weights file
whose SHA-256 differs from the manifest's. Each pair is also a preset (`classifier_<dataset>`, see
`zoo.presets`), loaded by the same verified path as every other pretrained model.
"""

import json
import os

from zoo.presets.errors import WeightsChecksumError
from zoo.presets.preset import Preset, sha256_of_file

#: Directory of the shipped weights and manifests.
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")

__all__ = [
    "WEIGHTS_DIR",
    "WeightsChecksumError",
    "available_datasets",
    "load_feature_classifier",
    "manifest_filename",
    "read_manifest",
    "sha256_of_file",
    "weights_filename",
]


def weights_filename(dataset):
    """File name of the weights of the classifier trained on `dataset`."""
    return f"{dataset}_classifier.weights.h5"


def manifest_filename(dataset):
    """File name of the manifest of the classifier trained on `dataset`."""
    return f"{dataset}_classifier.json"


def available_datasets(weights_dir=None):
    """Datasets with a manifest in `weights_dir` (default: the shipped ones), sorted."""
    weights_dir = weights_dir or WEIGHTS_DIR
    suffix = manifest_filename("")
    if not os.path.isdir(weights_dir):
        return []
    return sorted(name[: -len(suffix)] for name in os.listdir(weights_dir) if name.endswith(suffix))


def read_manifest(dataset="fashion_mnist", weights_dir=None):
    """The manifest of the classifier trained on `dataset`, as a dict.

    Raises:
        FileNotFoundError: no manifest for `dataset` (the message lists the datasets that have one).
    """
    weights_dir = weights_dir or WEIGHTS_DIR
    path = os.path.join(weights_dir, manifest_filename(dataset))
    if not os.path.isfile(path):
        available = ", ".join(available_datasets(weights_dir)) or "none"
        raise FileNotFoundError(
            f"No feature classifier for dataset {dataset!r}: {path} does not exist (available: {available}). "
            "Train one with `python -m trainers.train_classifier --dataset=NAME`."
        )
    with open(path) as f:
        return json.load(f)


def load_feature_classifier(dataset="fashion_mnist", weights_dir=None):
    """The trained `FeatureClassifier` for `dataset`, after checking its weights against the manifest's SHA-256.

    Args:
        dataset: TFDS name the classifier was trained on. Default "fashion_mnist" (shipped).
        weights_dir: directory with `<dataset>_classifier.weights.h5` and `<dataset>_classifier.json`.
            Default: the shipped `zoo/classifier/weights/`.

    Returns:
        A `FeatureClassifier` with the trained weights (use `features(images)` for metric embeddings).

    Raises:
        FileNotFoundError: the manifest or the weights file is missing.
        WeightsChecksumError: the weights file's size or SHA-256 differs from the manifest's.
        zoo.presets.PresetError: the weights file was made for another architecture than the manifest's config.

    Example:
        >>> classifier = load_feature_classifier("fashion_mnist")
        >>> real = classifier.features(test_images_in_0_1)
    """
    weights_dir = weights_dir or WEIGHTS_DIR
    manifest = read_manifest(dataset, weights_dir)
    # Manifests written before classifiers were presets lack the preset's identity; it is always this one.
    identity = {
        "preset": f"classifier_{dataset}",
        "class": "zoo.classifier.feature_classifier:FeatureClassifier",
        "model": "classifier",
        "preprocessing": {"kind": "unit", "num_levels": 256, "binarize": "fixed"},
    }
    path = os.path.abspath(os.path.join(weights_dir, manifest_filename(dataset)))
    return Preset(manifest={**identity, **manifest}, manifest_path=path).load()
