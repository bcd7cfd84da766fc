"""Cached sampling gives exactly the images of the naive loop, for every autoregressive model."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.pixel import DiagonalBiLSTM, GatedPixelCNN, PixelCNN, RowLSTM

TINY = {
    "pixel_cnn": lambda **kw: PixelCNN(filters=8, num_blocks=2, output_filters=8, **kw),
    "gated_pixel_cnn": lambda **kw: GatedPixelCNN(filters=6, num_layers=3, output_filters=8, **kw),
    "gated_pixel_cnn_conditional": lambda **kw: GatedPixelCNN(filters=6, num_layers=3, output_filters=8, num_classes=3, **kw),
    "gated_pixel_cnn_first_kernel_7": lambda **kw: GatedPixelCNN(
        filters=6, num_layers=2, output_filters=8, first_kernel_size=7, **kw
    ),
    "row_lstm": lambda **kw: RowLSTM(hidden=6, num_layers=2, output_filters=8, **kw),
    "diagonal_bilstm": lambda **kw: DiagonalBiLSTM(hidden=6, num_layers=2, output_filters=8, **kw),
}


def _model(name, image_shape, num_levels):
    keras.utils.set_random_seed(0)
    model = TINY[name](image_shape=image_shape, num_levels=num_levels, seed=0)
    # Larger weights than at initialisation: confident, varied conditionals, so a wrong cache changes samples.
    for i, variable in enumerate(model.weights):
        variable.assign(variable + tf.random.stateless_normal(variable.shape, seed=[i, 1], stddev=0.3))
    return model


# Odd sizes (height != width, 7x7 kernels wider than the image) and colour with 256 levels.
@pytest.mark.parametrize("image_shape, num_levels", [((6, 5, 1), 2), ((4, 5, 3), 256)])
@pytest.mark.parametrize("name", sorted(TINY))
def test_cached_sample_and_complete_equal_the_naive_loop(name, image_shape, num_levels):
    model = _model(name, image_shape, num_levels)
    labels = [0, 2, 1, 2, 0] if model.num_classes else None
    naive = model.sample(5, seed=3, labels=labels, method="naive").numpy()
    cached = model.sample(5, seed=3, labels=labels, method="cached").numpy()
    np.testing.assert_array_equal(cached, naive)
    assert len(np.unique(naive)) > 1

    known = np.zeros(image_shape[:2], bool)
    known[: image_shape[0] // 2] = True
    known[-1, 0] = True  # a known pixel after unknown ones
    naive = model.complete(cached, known, seed=4, labels=labels, method="naive").numpy()
    np.testing.assert_array_equal(model.complete(cached, known, seed=4, labels=labels, method="cached").numpy(), naive)
    np.testing.assert_array_equal(naive[:, known], cached[:, known])


def test_cached_is_the_default_and_naive_stays_available():
    model = _model("pixel_cnn", (4, 4, 1), 2)
    assert model.has_cached_sampler
    np.testing.assert_array_equal(model.sample(3, seed=1).numpy(), model.sample(3, seed=1, method="cached").numpy())
    with pytest.raises(ValueError, match="`method` must be 'auto', 'cached' or 'naive'"):
        model.sample(3, seed=1, method="fast")


@pytest.mark.parametrize("method", ["cached", "naive"])
@pytest.mark.parametrize("name", sorted(TINY))
def test_rows_equal_one_image_calls(name, method):
    """`sample_rows`/`complete_rows` row i is exactly the one-image call with seed i, whatever the batch."""
    model = _model(name, (2, 3, 3), 256)
    seeds = np.array([5, -3, 2**40 + 11], np.int64)
    labels = np.array([2, 0, 1], np.int32) if model.num_classes else None
    row_labels = [None] * 3 if labels is None else [labels[i : i + 1] for i in range(3)]
    rows = model.sample_rows(seeds, labels=labels, method=method).numpy()
    singles = [model.sample(1, seed=int(s), labels=row_labels[i], method=method).numpy()[0] for i, s in enumerate(seeds)]
    np.testing.assert_array_equal(rows, np.stack(singles))
    assert len(np.unique(rows)) > 1

    known = np.random.default_rng(0).random(rows.shape) < 0.5
    completed = model.complete_rows(rows[::-1], known, seeds, labels=labels, method=method).numpy()
    singles = [
        model.complete(rows[::-1][i : i + 1], known[i : i + 1], seed=int(s), labels=row_labels[i], method=method).numpy()[0]
        for i, s in enumerate(seeds)
    ]
    np.testing.assert_array_equal(completed, np.stack(singles))
    np.testing.assert_array_equal(completed[known], rows[::-1][known])


def test_bad_seeds_get_a_clear_error():
    model = _model("pixel_cnn", (4, 4, 1), 2)
    with pytest.raises(TypeError, match="`seeds` must hold ints"):
        model.sample_rows([0.5, 1.5])
    with pytest.raises(ValueError, match=r"`seeds` must have shape \(batch,\)"):
        model.sample_rows([[1, 2]])
    with pytest.raises(ValueError, match="`seeds` must have at least one entry"):
        model.sample_rows(np.zeros([0], np.int64))
    with pytest.raises(ValueError, match="`seeds` must have one entry per image"):
        model.complete_rows(np.zeros([2, 4, 4, 1], np.int32), np.zeros([4, 4], bool), [1, 2, 3])
