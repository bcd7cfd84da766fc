"""Inception pool3 extractor: never downloads, clear errors, and the resize/grey-to-RGB plumbing works."""

import keras
import numpy as np
import pytest

from zoo.classifier import inception_feature_extractor


def test_missing_weights_file_raises_naming_the_path(tmp_path):
    path = str(tmp_path / "inception_v3_notop.h5")
    with pytest.raises(FileNotFoundError, match=f"InceptionV3 weights file not found: {path}. Nothing is downloaded"):
        inception_feature_extractor(path)


def test_bad_arguments_raise(tmp_path):
    with pytest.raises(TypeError, match="`weights_path` must be a path"):
        inception_feature_extractor(None)
    path = tmp_path / "weights.h5"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="`image_shape` must have 1 or 3 channels"):
        inception_feature_extractor(str(path), image_shape=(28, 28, 2))


@pytest.mark.slow
def test_extractor_loads_a_weights_file_and_gives_2048_features_for_grey_images(tmp_path):
    # Random weights stand in for ImageNet's (which cannot be downloaded here): this checks the plumbing.
    keras.utils.set_random_seed(0)
    reference = keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg", input_shape=(299, 299, 3))
    path = str(tmp_path / "inception_random.weights.h5")
    reference.save_weights(path)
    extractor = inception_feature_extractor(path, image_shape=(28, 28, 1))
    grey = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    features = extractor.predict(grey, verbose=0)
    assert features.shape == (2, 2048)
    # The same images, resized, replicated to RGB and scaled to [-1, 1] by hand, give the same features.
    rgb = keras.ops.image.resize(np.repeat(grey, 3, axis=-1), (299, 299), interpolation="bilinear")
    np.testing.assert_allclose(features, reference.predict(2.0 * np.asarray(rgb) - 1.0, verbose=0), rtol=1e-4, atol=1e-5)
