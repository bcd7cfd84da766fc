"""The shipped Fashion-MNIST classifier: checksum, accuracy on the real test split, a meaningful feature space."""

import json
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

from trainers import data, metrics
from zoo import classifier
from zoo.classifier import pretrained

_NUM_TEST = 2000


@pytest.fixture(scope="module")
def shipped():
    return classifier.load_feature_classifier("fashion_mnist")


@pytest.fixture(scope="module")
def test_split():
    ds = data.load("fashion_mnist", "test", data.Preprocessing("unit"), batch_size=_NUM_TEST, shuffle=False,
                   with_labels=True, take=_NUM_TEST)
    images, labels = next(iter(tfds.as_numpy(ds)))
    return images, labels


def test_manifest_matches_the_shipped_weights():
    manifest = classifier.read_manifest("fashion_mnist")
    path = os.path.join(classifier.WEIGHTS_DIR, manifest["weights_file"])
    assert classifier.sha256_of_file(path) == manifest["sha256"]
    assert os.path.getsize(path) == manifest["size_bytes"] < 5 * 2**20
    assert manifest["test_examples"] == 10000 and manifest["test_accuracy"] >= 0.91
    assert manifest["command"].startswith("python -m trainers.train_classifier")
    for key in ("date", "versions", "model_config", "train_config"):
        assert manifest[key]


def test_shipped_weights_reach_91_percent_on_the_real_test_split(shipped, test_split):
    images, labels = test_split
    accuracy = np.mean(shipped.predict_classes(images).numpy() == labels)
    assert accuracy >= 0.91, f"accuracy {accuracy:.4f} on the first {_NUM_TEST} test images"


def test_feature_space_separates_real_from_degraded_and_shows_dropped_classes(shipped, test_split):
    images, labels = test_split
    half = _NUM_TEST // 2
    real_a, real_b = shipped.features(images[:half]).numpy(), shipped.features(images[half:]).numpy()
    blurred = images[half:].reshape(-1, 14, 2, 14, 2, 1).mean(axis=(2, 4)).repeat(2, axis=1).repeat(2, axis=2)
    floor = metrics.fid(real_a, real_b)
    assert metrics.fid(real_a, shipped.features(blurred).numpy()) > 3 * floor + 1.0
    # "Generator" that only draws 3 of the 10 classes: real images, so precision stays high, recall collapses.
    three_classes = real_b[labels[half:] < 3]
    full = metrics.precision_recall(real_a, real_b)
    dropped = metrics.precision_recall(real_a, three_classes)
    assert dropped.precision > 0.8 * full.precision
    assert dropped.recall < 0.6 * full.recall  # Not 0.3: neighbouring classes (shirts, coats) overlap.


def test_corrupted_weights_raise_a_checksum_error_naming_the_file(tmp_path):
    weights_dir = tmp_path / "weights"
    shutil.copytree(classifier.WEIGHTS_DIR, weights_dir)
    manifest = classifier.read_manifest("fashion_mnist", str(weights_dir))
    path = weights_dir / manifest["weights_file"]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(classifier.WeightsChecksumError, match=re.escape(str(path)) + ".*SHA-256.*corrupted"):
        classifier.load_feature_classifier("fashion_mnist", weights_dir=str(weights_dir))


def test_intact_copy_loads_and_missing_files_raise(tmp_path):
    weights_dir = tmp_path / "weights"
    shutil.copytree(classifier.WEIGHTS_DIR, weights_dir)
    assert classifier.available_datasets(str(weights_dir)) == ["fashion_mnist"]
    assert classifier.load_feature_classifier("fashion_mnist", weights_dir=str(weights_dir)).built
    with pytest.raises(FileNotFoundError, match=r"dataset 'cifar10'.*\(available: fashion_mnist\)"):
        classifier.load_feature_classifier("cifar10", weights_dir=str(weights_dir))
    os.remove(weights_dir / pretrained.weights_filename("fashion_mnist"))
    with pytest.raises(FileNotFoundError, match="fashion_mnist_classifier.weights.h5, which does not exist"):
        classifier.load_feature_classifier("fashion_mnist", weights_dir=str(weights_dir))


def test_manifest_is_valid_json_with_the_loader_config():
    with open(os.path.join(classifier.WEIGHTS_DIR, pretrained.manifest_filename("fashion_mnist"))) as f:
        manifest = json.load(f)
    model = classifier.FeatureClassifier(**manifest["model_config"])
    assert model.count_params() == manifest["num_parameters"]
