"""Shipped feature-classifier weights: where they live, their manifest, and checksum-verified loading.

For each dataset the repository ships two files in `zoo/classifier/weights/`:

    <dataset>_classifier.weights.h5   the `FeatureClassifier` weights (`model.save_weights`)
    <dataset>_classifier.json         the manifest: SHA-256 of the weights, the constructor config, test
                                      accuracy, the exact training command, date and library versions

Metric values are only comparable between runs that used the same weights, so loading refuses a weights file
whose SHA-256 differs from the manifest's.
"""

import hashlib
import json
import os

from zoo.classifier.feature_classifier import FeatureClassifier

#: Directory of the shipped weights and manifests.
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")


class WeightsChecksumError(ValueError):
    """A weights file's SHA-256 differs from the one its manifest records (corrupted or replaced file)."""


def weights_filename(dataset):
    """File name of the weights of the classifier trained on `dataset`."""
    return f"{dataset}_classifier.weights.h5"


def manifest_filename(dataset):
    """File name of the manifest of the classifier trained on `dataset`."""
    return f"{dataset}_classifier.json"


def sha256_of_file(path, chunk_size=1 << 20):
    """Hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
        WeightsChecksumError: the weights file's SHA-256 differs from the manifest's.

    Example:
        >>> classifier = load_feature_classifier("fashion_mnist")
        >>> real = classifier.features(test_images_in_0_1)
    """
    weights_dir = weights_dir or WEIGHTS_DIR
    manifest = read_manifest(dataset, weights_dir)
    path = os.path.join(weights_dir, manifest["weights_file"])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The manifest of {dataset!r} names the weights file {path}, which does not exist.")
    actual = sha256_of_file(path)
    if actual != manifest["sha256"]:
        raise WeightsChecksumError(
            f"Weights file {path} has SHA-256 {actual}, but its manifest records {manifest['sha256']}: the file is "
            f"corrupted or was replaced. Restore it (git checkout) or retrain with: {manifest.get('command', '?')}"
        )
    model = FeatureClassifier(**manifest["model_config"])
    model.load_weights(path)
    return model
