"""FeatureClassifier: shapes for any image size, the embedding it exposes, serialization, input checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.classifier import FeatureClassifier

TINY = dict(image_shape=(8, 8, 1), num_classes=3, filters=(4, 8), feature_dim=6, dropout=0.5)


def _images(n, shape=(8, 8, 1), seed=0):
    return np.random.default_rng(seed).uniform(size=(n,) + shape).astype("float32")


def test_weights_exist_after_construction():
    model = FeatureClassifier(**TINY)
    assert model.built and model.count_params() > 0


@pytest.mark.parametrize("shape", [(8, 8, 1), (9, 7, 3), (28, 28, 1)])
def test_logits_and_features_shapes_for_any_image_size(shape):
    model = FeatureClassifier(**{**TINY, "image_shape": shape})
    x = _images(5, shape)
    assert model(x).shape == (5, 3)
    features = model.features(x)
    assert features.shape == (5, 6) and features.dtype == tf.float32
    assert float(tf.reduce_min(features)) >= 0.0  # Post-ReLU, like Inception's pool3.


def test_features_are_the_input_of_the_output_layer():
    # `features` is the penultimate layer: the logits are an affine map of it (dropout is off at inference).
    model = FeatureClassifier(**TINY)
    x = _images(4)
    dense = model.head.layers[-1]
    np.testing.assert_allclose(dense(model.features(x)), model(x), rtol=1e-5, atol=1e-5)


def test_features_do_not_depend_on_batching_or_on_a_dataset_input():
    model = FeatureClassifier(**TINY)
    x = _images(23)
    whole = model.features(x, batch_size=100)
    np.testing.assert_allclose(model.features(x, batch_size=5), whole, rtol=1e-5, atol=1e-6)
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(23, "int32"))).batch(7)
    np.testing.assert_allclose(model.features(ds), whole, rtol=1e-5, atol=1e-6)
    assert model.features(x[:0]).shape == (0, 6)


def test_save_and_load_keras_file_gives_identical_outputs(tmp_path):
    model = FeatureClassifier(**TINY)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _images(16), np.arange(16) % 3
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # Moves batch-norm statistics off their initial values.
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, FeatureClassifier)
    np.testing.assert_array_equal(loaded(x), model(x))
    np.testing.assert_array_equal(loaded.features(x), model.features(x))


def test_get_config_holds_every_constructor_argument():
    config = FeatureClassifier(**TINY).get_config()
    for key, value in TINY.items():
        assert tuple(config[key]) == tuple(value) if isinstance(value, tuple) else config[key] == value
    rebuilt = FeatureClassifier.from_config(config)
    assert rebuilt.count_params() == FeatureClassifier(**TINY).count_params()


def test_learns_a_separable_problem():
    # Class = which half of the image is bright: a working classifier gets it all right after a short fit.
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=256)
    x = rng.uniform(0.0, 0.3, size=(256, 8, 8, 1)).astype("float32")
    x[y == 0, :4] += 0.7
    x[y == 1, 4:] += 0.7
    keras.utils.set_random_seed(0)
    model = FeatureClassifier(**{**TINY, "num_classes": 2})
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert np.mean(model.predict_classes(x).numpy() == y) == 1.0


def test_bad_images_raise_errors_naming_the_argument():
    model = FeatureClassifier(**TINY)
    with pytest.raises(ValueError, match=r"`images` must have shape \(None, 8, 8, 1\)"):
        model.features(_images(2, (8, 8, 3)))
    with pytest.raises(ValueError, match=r"`images` values must lie in \[0.0, 1.0\]"):
        model.features(_images(2) * 255.0)
    with pytest.raises(TypeError, match="`images` must be a float tensor"):
        model.features(np.zeros((2, 8, 8, 1), "uint8"))
    with pytest.raises(ValueError, match="`batch_size` must be >= 1"):
        model.features(_images(2), batch_size=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_classes": 1}, ValueError, "`num_classes` must be an int >= 2; got 1"),
        ({"filters": ()}, ValueError, "`filters` must be a non-empty"),
        ({"feature_dim": 0}, ValueError, "`feature_dim` must be a positive int; got 0"),
        ({"dropout": 1.0}, ValueError, r"`dropout` must be in \[0, 1\); got 1.0"),
        ({"image_shape": (8, 8)}, ValueError, "`image_shape` must be"),
    ],
)
def test_bad_constructor_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        FeatureClassifier(**{**TINY, **kwargs})
