"""The classifier training CLI end to end on real Fashion-MNIST: weights, manifest, JSON line, loadable result."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from trainers import data
from trainers import train_classifier
from zoo import classifier

_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.mark.slow
def test_cli_writes_checksummed_weights_and_a_manifest_that_reproduce_the_accuracy(tmp_path):
    out = str(tmp_path / "weights")
    command = [
        sys.executable, "-m", "trainers.train_classifier", f"--output_dir={out}", "--epochs=1", "--batch_size=64",
        "--train_take=512", "--eval_take=256", "--verbose=0",
    ]
    done = subprocess.run(command, env=_ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    json_lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(json_lines) == 1
    manifest = json.loads(json_lines[0])
    with open(os.path.join(out, "fashion_mnist_classifier.json")) as f:
        assert json.load(f) == manifest
    assert manifest["command"] == "python -m trainers.train_classifier " + " ".join(command[3:])
    assert manifest["test_examples"] == 256 and manifest["train_examples"] == 512
    path = os.path.join(out, "fashion_mnist_classifier.weights.h5")
    assert classifier.sha256_of_file(path) == manifest["sha256"]

    # The saved weights alone (no optimizer state) reproduce the accuracy the manifest records.
    model = classifier.load_feature_classifier("fashion_mnist", weights_dir=out)
    ds = data.load("fashion_mnist", "test", data.Preprocessing("unit"), batch_size=256, shuffle=False,
                   with_labels=True, take=256)
    images, labels = next(iter(tfds.as_numpy(ds)))
    accuracy = np.mean(model.predict_classes(images).numpy() == labels)
    assert accuracy == pytest.approx(manifest["test_accuracy"], abs=1e-6)
    assert accuracy > 0.2  # Eight steps already learn above chance (0.1).


def test_train_feature_classifier_rejects_a_bad_config(tmp_path):
    config = train_classifier.ClassifierTrainConfig(output_dir=str(tmp_path), epochs=0)
    with pytest.raises(ValueError, match="`epochs` must be a positive int; got 0"):
        train_classifier.train_feature_classifier(config)
    with pytest.raises(TypeError, match="`config` must be a ClassifierTrainConfig"):
        train_classifier.train_feature_classifier({"epochs": 1})
