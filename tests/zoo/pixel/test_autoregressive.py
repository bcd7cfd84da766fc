"""The four autoregressive models: causality by gradients, normalisation, sampling, completion, saving."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.pixel import DiagonalBiLSTM, GatedPixelCNN, MaskedConv2D, PixelCNN, RowLSTM
from zoo.pixel.masked import causal_mask

TINY = {
    "pixel_cnn": lambda **kw: PixelCNN(filters=12, num_blocks=2, first_kernel_size=3, output_filters=24, **kw),
    "gated_pixel_cnn": lambda **kw: GatedPixelCNN(filters=6, num_layers=3, output_filters=24, **kw),
    "row_lstm": lambda **kw: RowLSTM(hidden=6, num_layers=2, output_filters=24, **kw),
    "diagonal_bilstm": lambda **kw: DiagonalBiLSTM(hidden=6, num_layers=2, output_filters=24, **kw),
}
MODELS = sorted(TINY)


def _tiny(name, image_shape=(4, 4, 1), num_levels=2, **kwargs):
    keras.utils.set_random_seed(0)
    return TINY[name](image_shape=image_shape, num_levels=num_levels, seed=0, **kwargs)


def _dependency(model, seed=0):
    """D[i, j] = sum |d logits_i / d x_j| over sub-pixels in raster order, channel order inside a pixel."""
    shape = model.image_shape
    x = tf.random.stateless_uniform((1,) + shape, seed=[seed, 1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model._logits(x, None)
    jacobian = tape.jacobian(logits, x)  # (1, H, W, C, K, 1, H, W, C)
    n = int(np.prod(shape))
    return tf.reduce_sum(tf.abs(tf.reshape(jacobian, (n, -1, n))), axis=1).numpy()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("image_shape, num_levels", [((4, 4, 1), 2), ((3, 3, 3), 4)])
def test_causality_by_gradients(name, image_shape, num_levels):
    dependency = _dependency(_tiny(name, image_shape, num_levels))
    n = dependency.shape[0]
    future = np.triu(np.ones((n, n), bool))  # j >= i: the sub-pixel itself and everything after it.
    assert (dependency[future] == 0).all(), "an output reads its own or a future sub-pixel"
    for i in range(1, n):
        assert dependency[i, :i].max() > 0, f"sub-pixel {i} reads nothing before it"


def _past_window(i, j, width, radius):
    return [(r, c) for r in range(i - radius, i + 1) for c in range(j - radius, j + radius + 1)
            if 0 <= c < width and (r < i or c < j)]


def test_pixel_cnn_has_a_blind_spot_where_the_gated_stacks_see():
    shape, (i, j) = (8, 8, 1), (4, 4)
    cnn = _dependency(PixelCNN(image_shape=shape, filters=8, num_blocks=3, first_kernel_size=3, output_filters=8))
    gated = _dependency(GatedPixelCNN(image_shape=shape, filters=4, num_layers=3, output_filters=8))
    index = lambda r, c: r * shape[1] + c
    # PixelCNN's 3x3 masked stack never reaches (i - 1, j + 2): the blind spot up and to the right, although
    # it reaches farther pixels such as (i - 2, j + 2) and (i - 1, j + 1).
    assert cnn[index(i, j), index(i - 1, j + 2)] == 0
    assert cnn[index(i, j), index(i - 2, j + 2)] > 0 and cnn[index(i, j), index(i - 1, j + 1)] > 0
    # The Gated PixelCNN sees every earlier pixel within its receptive field: no blind spot.
    for r, c in _past_window(i, j, shape[1], radius=2):
        assert gated[index(i, j), index(r, c)] > 0, (r, c)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("image_shape, num_levels", [((2, 2, 1), 2), ((1, 2, 1), 3), ((1, 1, 3), 2)])
def test_probabilities_of_all_images_sum_to_one(name, image_shape, num_levels):
    model = _tiny(name, image_shape, num_levels)
    n = int(np.prod(image_shape))
    images = np.array(list(itertools.product(range(num_levels), repeat=n)), "int32").reshape((-1,) + image_shape)
    total = float(tf.reduce_sum(tf.exp(model.log_prob(images))))
    assert total == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_samples_follow_the_model_distribution(name):
    model = _tiny(name, (2, 2, 1))
    images = np.array(list(itertools.product(range(2), repeat=4)), "int32").reshape(-1, 2, 2, 1)
    expected = np.exp(model.log_prob(images).numpy())
    samples = model.sample(4000, seed=1).numpy().reshape(4000, 4)
    codes = samples @ (2 ** np.arange(3, -1, -1))
    frequencies = np.bincount(codes, minlength=16) / 4000
    assert np.abs(frequencies - expected).max() < 0.03


@pytest.mark.parametrize("name", MODELS)
def test_complete_keeps_every_known_pixel(name):
    model = _tiny(name, (4, 4, 1), num_levels=4)
    images = np.random.default_rng(0).integers(0, 4, (3, 4, 4, 1)).astype("int32")
    known = np.random.default_rng(1).random((3, 4, 4, 1)) < 0.5
    completed = model.complete(images, known, seed=2).numpy()
    np.testing.assert_array_equal(completed[known], images[known])
    assert completed.min() >= 0 and completed.max() <= 3
    np.testing.assert_array_equal(completed, model.complete(images, known, seed=2).numpy())
    top_half = np.zeros((4, 4), bool)
    top_half[:2] = True
    np.testing.assert_array_equal(model.complete(images, top_half, seed=3).numpy()[:, :2], images[:, :2])


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_sample(name):
    model = _tiny(name, (3, 3, 3), num_levels=4)
    a, b, c = (model.sample(3, seed=s).numpy() for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.int32 and a.shape == (3, 3, 3, 3) and a.max() <= 3


@pytest.mark.parametrize("name", MODELS)
def test_fit_improves_the_likelihood_and_keras_reload_is_identical(tmp_path, name):
    model = _tiny(name, (4, 4, 1))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = np.tile(np.array([[1, 0, 1, 0]] * 4, "int32")[None, :, :, None], (64, 1, 1, 1))
    before = model.evaluate(data, batch_size=32, verbose=0, return_dict=True)
    model.fit(data, batch_size=32, epochs=5, verbose=0)
    after = model.evaluate(data, batch_size=32, verbose=0, return_dict=True)
    assert after["nll"] < before["nll"] and after["bits_per_dim"] == pytest.approx(after["nll"] / (16 * np.log(2)))
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.log_prob(data[:4]).numpy(), model.log_prob(data[:4]).numpy())
    np.testing.assert_array_equal(restored.sample(2, seed=0).numpy(), model.sample(2, seed=0).numpy())
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()


def test_gated_first_kernel_size_widens_the_receptive_field_and_stays_causal():
    shape, (i, j) = (12, 12, 1), (11, 6)
    kwargs = dict(image_shape=shape, filters=4, num_layers=3, output_filters=8)
    wide_model = GatedPixelCNN(first_kernel_size=7, **kwargs)
    narrow, wide = _dependency(GatedPixelCNN(**kwargs))[i * 12 + j], _dependency(wide_model)
    assert (wide[np.triu(np.ones(wide.shape, bool))] == 0).all(), "an output reads its own or a future pixel"
    rows_above = lambda row: i - min(r for r in range(12) if row.reshape(12, 12)[r].max() > 0)
    # Three 3 x 3 layers reach 4 rows up; a 7 x 7 first layer adds the 2 rows more its half-width gives.
    assert (rows_above(narrow), rows_above(wide[i * 12 + j])) == (4, 6)
    assert wide_model.count_params() < 1.3 * GatedPixelCNN(**kwargs).count_params()
    clone = GatedPixelCNN.from_config(wide_model.get_config())
    clone.set_weights(wide_model.get_weights())
    images = np.ones((2,) + shape, "int32")
    np.testing.assert_array_equal(clone.log_prob(images).numpy(), wide_model.log_prob(images).numpy())
    with pytest.raises(ValueError, match="first_kernel_size"):
        GatedPixelCNN(first_kernel_size=4, **kwargs)


def test_gated_pixel_cnn_is_conditional():
    model = _tiny("gated_pixel_cnn", (4, 4, 1), num_classes=3)
    images = np.zeros((2, 4, 4, 1), "int32")
    a, b = model.log_prob(images, labels=[0, 2]).numpy()
    assert a != b
    assert model.sample(2, seed=0, labels=[1, 2]).shape == (2, 4, 4, 1)
    model.compile(optimizer="adam")
    model.fit(np.zeros((8, 4, 4, 1), "int32"), np.arange(8) % 3, batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="conditional"):
        model.log_prob(images)


@pytest.mark.parametrize("name", ["pixel_cnn", "row_lstm", "diagonal_bilstm"])
def test_unconditional_models_refuse_classes(name):
    with pytest.raises(ValueError, match="GatedPixelCNN"):
        _tiny(name, num_classes=10)


def test_masks_are_constants_applied_in_call():
    layer = MaskedConv2D(2, 3, "A")
    layer.build((None, 5, 5, 1))
    assert len(layer.weights) == 2  # kernel and bias: the mask is not a weight.
    layer.kernel.assign(tf.ones_like(layer.kernel))  # Even a kernel full of ones stays causal.
    x = tf.Variable(tf.random.uniform((1, 5, 5, 1)))
    with tf.GradientTape() as tape:
        y = layer(x)[0, 2, 2, 0]
    grad = tape.gradient(y, x).numpy()[0, :, :, 0]
    expected = np.zeros((5, 5))
    expected[1, 1:4] = 1
    expected[2, 1] = 1
    np.testing.assert_array_equal(grad, expected)
    mask = causal_mask((3, 3), 3, 6, "B", color_channels=3)
    np.testing.assert_array_equal(mask[1, 1], np.array([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]]))


@pytest.mark.parametrize(
    "kernel_size, mask_type, color_channels",
    [(1, "B", 1), ((1, 3), "B", 1), ((1, 5), "A", 3), (3, "B", 3), (7, "A", 1), ((3, 5), "B", 1), (3, "V", 1),
     ((1, 3), "V", 1), (1, "V", 1)],
)
def test_cropped_kernel_equals_the_whole_masked_convolution(kernel_size, mask_type, color_channels):
    # The call drops the taps the mask zeroes everywhere; the result must be the textbook masked SAME conv.
    layer = MaskedConv2D(6, kernel_size, mask_type, color_channels=color_channels)
    x = tf.random.stateless_normal((2, 6, 7, 3 * color_channels), seed=[1, 2])
    layer.build(x.shape)
    layer.bias.assign(tf.random.stateless_normal(layer.bias.shape, seed=[3, 4]))
    expected = tf.nn.conv2d(x, layer.kernel * layer.mask, strides=1, padding="SAME") + layer.bias
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: m.log_prob(np.zeros((2, 4, 4), "int32")), ValueError, "rank 4"),
        (lambda m: m.log_prob(np.zeros((2, 4, 5, 1), "int32")), ValueError, "shape"),
        (lambda m: m.log_prob(np.zeros((2, 4, 4, 1), "float32")), TypeError, "integer"),
        (lambda m: m.log_prob(np.full((2, 4, 4, 1), 4, "int32")), ValueError, r"\[0, 3\]"),
        (lambda m: m.log_prob(np.full((2, 4, 4, 1), -1, "int32")), ValueError, r"\[0, 3\]"),
        (lambda m: m.complete(np.zeros((2, 4, 4, 1), "int32"), np.zeros((2, 4, 4, 1), "int32")), TypeError, "boolean"),
        (lambda m: m.complete(np.zeros((2, 4, 4, 1), "int32"), np.zeros((3, 3), bool)), ValueError, "broadcast"),
        (lambda m: m.sample(0), ValueError, "num_samples"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(_tiny("pixel_cnn", num_levels=4))
