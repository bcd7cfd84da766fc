"""The data layer: real Fashion-MNIST through TFDS, preprocessing ranges, determinism, clear errors."""

import gzip
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from trainers import data, local_fashion_mnist
from trainers.data import records


def _first(ds, n=2):
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds.take(n)]


def test_fashion_mnist_keeps_tfds_semantics():
    ds, info = tfds.load("fashion_mnist", split="test", as_supervised=True, with_info=True)
    assert info.splits["train"].num_examples == 60000
    assert info.splits["test"].num_examples == 10000
    assert info.features["image"].shape == (28, 28, 1)
    assert info.features["label"].names[9] == "Ankle boot"
    image, label = next(iter(ds))
    assert image.dtype == tf.uint8 and label.dtype == tf.int64
    assert data.image_shape("fashion_mnist") == (28, 28, 1)
    assert data.num_classes("fashion_mnist") == 10


def test_local_images_are_the_real_fashion_mnist():
    # The first test image of Fashion-MNIST is an ankle boot (label 9).
    images = local_fashion_mnist.read_idx(
        local_fashion_mnist.local_dir() + "/t10k-images-idx3-ubyte.gz", 2051, 10000
    )
    labels = local_fashion_mnist.read_idx(local_fashion_mnist.local_dir() + "/t10k-labels-idx1-ubyte.gz", 2049, 10000)
    assert images.shape == (10000, 28, 28, 1) and labels[0] == 9
    assert np.bincount(labels).tolist() == [1000] * 10
    tfds_images, tfds_labels = next(iter(tfds.as_numpy(data.builder("fashion_mnist").as_dataset(
        split="test", as_supervised=True, shuffle_files=False).batch(10000))))
    # TFDS stores records in a key-hashed order (as the official builder does): compare as multisets.
    def keyed(imgs, labs):
        return sorted(img.tobytes() + bytes([int(lab)]) for img, lab in zip(imgs, labs))

    assert keyed(tfds_images, tfds_labels) == keyed(images, labels)


def test_read_idx_rejects_a_wrong_file(tmp_path):
    path = tmp_path / "labels.gz"
    with gzip.open(path, "wb") as f:
        f.write((2049).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(5))
    assert local_fashion_mnist.read_idx(str(path), 2049, 5).shape == (5,)
    with pytest.raises(ValueError, match="expected 2051"):
        local_fashion_mnist.read_idx(str(path), 2051, 5)
    with pytest.raises(ValueError, match="expected 10"):
        local_fashion_mnist.read_idx(str(path), 2049, 10)


@pytest.mark.parametrize(
    "prep, dtype, low, high",
    [
        (data.Preprocessing("unit"), tf.float32, 0.0, 1.0),
        (data.Preprocessing("symmetric"), tf.float32, -1.0, 1.0),
        (data.Preprocessing("levels", num_levels=256), tf.int32, 0, 255),
        (data.Preprocessing("levels", num_levels=4), tf.int32, 0, 3),
        (data.Preprocessing("levels", num_levels=2), tf.int32, 0, 1),
        (data.Preprocessing("levels", num_levels=2, binarize="stochastic"), tf.int32, 0, 1),
    ],
)
def test_preprocessing_ranges_on_real_batches(prep, dtype, low, high):
    ds = data.load("fashion_mnist", "test", prep, batch_size=256, seed=0, take=1024)
    for images in ds:
        assert images.dtype == dtype and images.shape[1:] == (28, 28, 1)
        assert float(tf.reduce_min(images)) == low and float(tf.reduce_max(images)) == high


def test_levels_and_binarization_values():
    raw = tf.constant([0, 63, 64, 127, 128, 255], tf.uint8)
    assert data.Preprocessing("levels", num_levels=2)(raw).numpy().tolist() == [0, 0, 0, 0, 1, 1]
    assert data.Preprocessing("levels", num_levels=4)(raw).numpy().tolist() == [0, 0, 1, 1, 2, 3]
    assert data.Preprocessing("levels", num_levels=256)(raw).numpy().tolist() == [0, 63, 64, 127, 128, 255]
    np.testing.assert_allclose(data.Preprocessing("symmetric")(raw).numpy()[[0, -1]], [-1.0, 1.0])
    levels = data.Preprocessing("levels", num_levels=4)
    np.testing.assert_allclose(levels.to_unit(tf.constant([0, 3])).numpy(), [0.0, 1.0])


def test_stochastic_binarization_follows_intensity():
    raw = tf.fill([200, 28, 28, 1], tf.constant(64, tf.uint8))
    prep = data.Preprocessing("levels", num_levels=2, binarize="stochastic")
    mean = float(tf.reduce_mean(tf.cast(prep(raw, seed=tf.constant([1, 2], tf.int64)), tf.float32)))
    assert abs(mean - 64 / 255) < 0.01


def test_same_seed_same_batches_and_labels_kept():
    prep = data.Preprocessing("levels", num_levels=2, binarize="stochastic")
    kwargs = dict(batch_size=32, take=512, with_labels=True)
    a = _first(data.load("fashion_mnist", "train", prep, seed=3, **kwargs))
    b = _first(data.load("fashion_mnist", "train", prep, seed=3, **kwargs))
    c = _first(data.load("fashion_mnist", "train", prep, seed=4, **kwargs))
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert a[0][1].shape == (32,) and a[0][1].max() <= 9
    assert not np.array_equal(a[0][1], c[0][1])


def test_epochs_reshuffle_and_redraw_binarization():
    prep = data.Preprocessing("levels", num_levels=2, binarize="stochastic")
    ds = data.load("fashion_mnist", "train", prep, batch_size=64, seed=0, take=64)
    first, second = [next(iter(ds)).numpy() for _ in range(2)]
    assert first.shape == second.shape == (64, 28, 28, 1)
    assert not np.array_equal(first, second)


def test_evaluation_order_is_the_split_order_and_keeps_every_example():
    prep = data.Preprocessing("unit")
    ds = data.load("fashion_mnist", "test", prep, batch_size=300, shuffle=False, with_labels=True, take=1000)
    sizes = [int(x.shape[0]) for x, _ in ds]
    assert sizes == [300, 300, 300, 100]
    first_images, first_labels = next(iter(ds))
    images, labels = data.example_batch("fashion_mnist", "test", prep, batch_size=8)
    np.testing.assert_array_equal(images.numpy(), first_images.numpy()[:8])
    np.testing.assert_array_equal(labels.numpy(), first_labels.numpy()[:8])


def _batches(ds, epochs=1):
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for _ in range(epochs) for b in ds]


def _tfds_reference(split, prep, *, batch_size, seed=None, take=None, epochs=1):
    """Batches of the per-example TFDS pipeline `load` replaced, to pin its examples, order and seeding."""
    ds = data.builder("fashion_mnist").as_dataset(split=split, as_supervised=True, shuffle_files=False)
    ds = ds.take(take) if take else ds
    if seed is not None:
        ds = ds.cache().shuffle(take, seed=seed, reshuffle_each_iteration=True)
    return _batches(ds.batch(batch_size, drop_remainder=seed is not None).map(lambda x, y: (prep(x), y)), epochs)


def test_batched_decoding_gives_the_tfds_examples_in_the_tfds_order():
    # Two file instructions on one file: TFDS interleaves them in blocks of 16, which `load` must reproduce.
    prep = data.Preprocessing("levels", num_levels=256)
    split = "test[:40]+test[-40:]"
    ds = data.load("fashion_mnist", split, prep, batch_size=32, shuffle=False, with_labels=True)
    assert int(ds.cardinality()) == 3  # Known, as `as_dataset` declares it: Keras counts the steps of an epoch.
    ours = _batches(ds)
    reference = _tfds_reference(split, prep, batch_size=32)
    assert [x.shape[0] for x, _ in ours] == [32, 32, 16]
    for (x, y), (rx, ry) in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(y, ry)


def test_every_shuffled_epoch_is_a_new_seeded_permutation_of_the_examples():
    prep = data.Preprocessing("levels", num_levels=256)  # The uint8 values themselves.
    (images, labels), = _tfds_reference("train", prep, batch_size=512, take=512)
    examples = sorted(x.tobytes() + bytes([int(y)]) for x, y in zip(images, labels))
    kwargs = dict(batch_size=64, take=512, with_labels=True)
    ds = data.load("fashion_mnist", "train", prep, seed=3, **kwargs)
    epochs = [_batches(ds) for _ in range(2)]
    for epoch in epochs:
        assert len(epoch) == 8
        assert sorted(x.tobytes() + bytes([int(y)]) for xs, ys in epoch for x, y in zip(xs, ys)) == examples
    assert not np.array_equal(epochs[0][0][1], epochs[1][0][1])
    again = _batches(data.load("fashion_mnist", "train", prep, seed=3, **kwargs).repeat().take(16))
    for (x, y), (ex, ey) in zip(again, epochs[0] + epochs[1], strict=True):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def test_a_new_pipeline_starts_from_the_kept_decoded_split():
    prep = data.Preprocessing("levels", num_levels=256)
    kwargs = dict(batch_size=100, shuffle=False, with_labels=True)
    kept = _batches(data.load("fashion_mnist", "test", prep, **kwargs))
    records.forget_decoded_in_memory()  # As a new process: the split is read back from disk.
    for (x, y), (dx, dy) in zip(kept, _batches(data.load("fashion_mnist", "test", prep, cache=False, **kwargs)), strict=True):
        np.testing.assert_array_equal(x, dx)
        np.testing.assert_array_equal(y, dy)
    files = os.listdir(os.path.join(data.builder("fashion_mnist").data_path, "decoded"))
    assert any(name.startswith("test-") and name.endswith(".images.npy") for name in files)


def test_datasets_without_fixed_shape_features_fall_back_to_as_dataset(monkeypatch):
    prep = data.Preprocessing("levels", num_levels=256)
    kwargs = dict(batch_size=50, shuffle=False, with_labels=True, take=100, cache=False)
    fast = _batches(data.load("fashion_mnist", "test", prep, **kwargs))
    monkeypatch.setattr(records, "_example_spec", lambda serialized_info: None)
    fallback = _batches(data.load("fashion_mnist", "test", prep, **kwargs))
    for (x, y), (fx, fy) in zip(fast, fallback, strict=True):
        np.testing.assert_array_equal(x, fx)
        np.testing.assert_array_equal(y, fy)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="nope"), "kind"),
        (dict(kind="levels", num_levels=1), "num_levels"),
        (dict(kind="levels", num_levels=300), "num_levels"),
        (dict(kind="levels", num_levels=2, binarize="random"), "binarize"),
        (dict(kind="unit", binarize="stochastic"), "stochastic"),
    ],
)
def test_bad_preprocessing_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.Preprocessing(**kwargs)


def test_bad_load_arguments_are_refused():
    with pytest.raises(TypeError, match="preprocessing"):
        data.load("fashion_mnist", "test", "unit", batch_size=8)
    with pytest.raises(ValueError, match="batch_size"):
        data.load("fashion_mnist", "test", data.Preprocessing(), batch_size=0)


def test_missing_data_offline_gives_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_FASHION_MNIST_DIR", str(tmp_path / "nothing-here"))

    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to establish a new connection")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(data.DataUnavailableError) as error:
        data.builder("fashion_mnist", data_dir=str(tmp_path / "tfds"))
    message = str(error.value)
    assert "apt-get install dataset-fashion-mnist" in message and "ZOO_FASHION_MNIST_DIR" in message
    with pytest.raises(data.DataUnavailableError, match="tfds build mnist"):
        data.builder("mnist", data_dir=str(tmp_path / "tfds"))


@pytest.mark.slow
def test_local_builder_prepares_once_into_a_fresh_data_dir(tmp_path):
    # Preparation is cached: a second builder() call finds the prepared data and does not regenerate it.
    data_dir = str(tmp_path / "tfds")
    first = data.builder("fashion_mnist", data_dir=data_dir)
    stamp = sorted(os.stat(str(p)).st_mtime_ns for p in first.data_path.iterdir())
    second = data.builder("fashion_mnist", data_dir=data_dir)
    assert second.is_prepared() and sorted(os.stat(str(p)).st_mtime_ns for p in second.data_path.iterdir()) == stamp
    assert second.info.splits["test"].num_examples == 10000


def test_group_puts_k_consecutive_images_of_the_flat_batch_in_each_row():
    prep = data.Preprocessing("symmetric")
    flat_images, flat_labels = next(iter(data.load("fashion_mnist", "train", prep, batch_size=12, seed=3,
                                                   with_labels=True, take=200)))
    images, labels = next(iter(data.load("fashion_mnist", "train", prep, batch_size=4, seed=3, with_labels=True,
                                         take=200, group=3)))
    assert images.shape == (4, 3, 28, 28, 1) and labels.shape == (4, 3)
    np.testing.assert_array_equal(images.numpy().reshape(flat_images.shape), flat_images.numpy())
    np.testing.assert_array_equal(labels.numpy().reshape(-1), flat_labels.numpy())
    only_images = data.load("fashion_mnist", "train", prep, batch_size=4, take=200, group=2)
    assert only_images.element_spec.shape == (4, 2, 28, 28, 1)
    with pytest.raises(ValueError, match="group"):
        data.load("fashion_mnist", "test", prep, batch_size=4, shuffle=False, group=2)
    with pytest.raises(ValueError, match="group"):
        data.load("fashion_mnist", "train", prep, batch_size=4, group=0)
