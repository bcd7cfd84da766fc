"""Inception pool3 extractor: it never downloads, and says clearly what is missing.

Building Inception-v3 with a weights file takes most of a minute on a shared 2-core CPU, and the real ImageNet
file cannot be fetched here, so only the argument checks are tested.
"""

import re

import pytest

from zoo.classifier import inception_feature_extractor


def test_missing_weights_file_raises_naming_the_path(tmp_path):
    path = str(tmp_path / "inception_v3_notop.h5")
    message = f"InceptionV3 weights file not found: {path}. Nothing is downloaded"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        inception_feature_extractor(path)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(TypeError, match="`weights_path` must be a path"):
        inception_feature_extractor(None)
    path = tmp_path / "weights.h5"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="`image_shape` must have 1 or 3 channels"):
        inception_feature_extractor(str(path), image_shape=(28, 28, 2))

