"""PixelCNN++: equal to tfd.PixelCNN on its own weights, causal, normalised, cached sampling equal to naive,
`.keras` and SavedModel round trips."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import tf_keras

from export import saved_model
from zoo.pixel import pixel_cnn_pp
from zoo.pixel.pixel_cnn_pp import PixelCNNPlusPlus
from zoo.pixel.pixel_cnn_pp_layers import ShiftedConv2D, ShiftedConv2DTranspose, WeightNormDense


def _tiny(image_shape=(4, 4, 1), num_levels=256, **kwargs):
    keras.utils.set_random_seed(0)
    config = dict(num_resnet=1, num_hierarchies=2, num_filters=4, num_logistic_mix=2, dropout_p=0.0, seed=0)
    return PixelCNNPlusPlus(image_shape=image_shape, num_levels=num_levels, **{**config, **kwargs})


def _perturbed(model):
    # Larger weights than at initialisation: confident, varied conditionals, so a wrong cache changes samples.
    for i, variable in enumerate(model.weights):
        variable.assign(variable + tf.random.stateless_normal(variable.shape, seed=[i, 1], stddev=0.3))
    return model


def _trained_tfp(image_shape, num_levels, num_resnet, num_hierarchies, num_logistic_mix, images, one_hot=None):
    """A `tfd.PixelCNN` after its data-dependent initialisation and one optimizer step (which applies its masks);
    conditioned on one-hot class vectors when `one_hot` (of the images' classes) is given."""
    tf_keras.utils.set_random_seed(0)
    dist = tfp.distributions.PixelCNN(
        image_shape=image_shape, num_resnet=num_resnet, num_hierarchies=num_hierarchies, num_filters=4,
        num_logistic_mix=num_logistic_mix, dropout_p=0.0, high=num_levels - 1, low=0,
        conditional_shape=None if one_hot is None else one_hot.shape[1:],
    )
    optimizer = tf_keras.optimizers.SGD(0.01)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(images, conditional_input=one_hot))
    variables = dist.network.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return dist


@pytest.mark.parametrize(
    "image_shape, num_levels, num_resnet, num_hierarchies, num_logistic_mix",
    [
        ((8, 8, 1), 2, 1, 1, 1),
        ((8, 8, 1), 256, 2, 2, 3),
        ((8, 8, 3), 256, 1, 2, 3),
        ((8, 8, 3), 2, 2, 1, 2),
    ],
)
def test_from_tfp_log_prob_equals_tfd_pixel_cnn(image_shape, num_levels, num_resnet, num_hierarchies, num_logistic_mix):
    images = np.random.default_rng(0).integers(0, num_levels, (6,) + image_shape).astype(np.float32)
    dist = _trained_tfp(image_shape, num_levels, num_resnet, num_hierarchies, num_logistic_mix, images)
    model = PixelCNNPlusPlus.from_tfp(dist)
    assert model.num_levels == num_levels and model.count_params() < sum(v.shape.num_elements() for v in dist.network.trainable_variables)
    test = np.random.default_rng(1).integers(0, num_levels, (5,) + image_shape)
    np.testing.assert_allclose(model.log_prob(test.astype(np.int32)), dist.log_prob(test.astype(np.float32)), rtol=1e-4)


@pytest.mark.parametrize("image_shape, num_levels, num_hierarchies", [((8, 8, 1), 256, 2), ((4, 4, 3), 2, 1)])
def test_from_tfp_copies_a_class_conditional_tfd_pixel_cnn(image_shape, num_levels, num_hierarchies):
    rng = np.random.default_rng(0)
    images = rng.integers(0, num_levels, (6,) + image_shape).astype(np.float32)
    one_hot = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    dist = _trained_tfp(image_shape, num_levels, 1, num_hierarchies, 2, images, one_hot=one_hot)
    model = PixelCNNPlusPlus.from_tfp(dist)
    assert model.num_classes == 3
    test = rng.integers(0, num_levels, (6,) + image_shape)
    labels = np.array([0, 1, 2, 2, 1, 0], np.int32)
    ours = model.log_prob(test.astype(np.int32), labels=labels)
    np.testing.assert_allclose(ours, dist.log_prob(test.astype(np.float32), conditional_input=np.eye(3, dtype=np.float32)[labels]), rtol=1e-4)
    # The labels matter: another class gives another likelihood, as in the reference.
    assert not np.allclose(ours, model.log_prob(test.astype(np.int32), labels=(labels + 1) % 3))


@pytest.mark.parametrize("image_shape, num_levels, num_hierarchies", [((8, 8, 1), 256, 2), ((4, 4, 3), 2, 1)])
def test_from_tfp_with_weight_norm_keeps_the_references_direction_and_scale(image_shape, num_levels, num_hierarchies):
    images = np.random.default_rng(0).integers(0, num_levels, (6,) + image_shape).astype(np.float32)
    dist = _trained_tfp(image_shape, num_levels, 1, num_hierarchies, 2, images)
    model = PixelCNNPlusPlus.from_tfp(dist, weight_norm=True)
    plain = PixelCNNPlusPlus.from_tfp(dist)
    assert model.weight_norm and model.count_params() > plain.count_params()
    test = np.random.default_rng(1).integers(0, num_levels, (5,) + image_shape)
    np.testing.assert_allclose(model.log_prob(test.astype(np.int32)), dist.log_prob(test.astype(np.float32)), rtol=1e-4)
    # The folded copy's kernels, with the reference's own scale per filter: training goes on in its parameterisation.
    references = pixel_cnn_pp._tfp_layers(dist)
    layers, folded = model._layers_in_tfp_order(), plain._layers_in_tfp_order()
    assert len(layers) == len(folded) == len(references)
    for ours, copy, reference in zip(layers, folded, references):
        np.testing.assert_allclose(ours.kernel, copy.kernel, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours.g, reference.g, rtol=1e-6)
        np.testing.assert_allclose(ours.bias, reference.layer.bias, rtol=1e-6)


def test_from_tfp_refuses_what_it_cannot_copy_exactly():
    with pytest.raises(TypeError, match="tfp.distributions.PixelCNN"):
        PixelCNNPlusPlus.from_tfp(_tiny())
    dist = tfp.distributions.PixelCNN(image_shape=(4, 4, 1), num_resnet=1, num_hierarchies=1, num_filters=2, num_logistic_mix=1)
    with pytest.raises(ValueError, match="not initialised"):
        PixelCNNPlusPlus.from_tfp(dist)
    dist.log_prob(np.zeros((2, 4, 4, 1), np.float32))
    with pytest.raises(ValueError, match="outside its mask"):  # Initialised, but no optimizer step has masked it.
        PixelCNNPlusPlus.from_tfp(dist)
    with pytest.raises(ValueError, match="one-hot class vectors"):
        PixelCNNPlusPlus.from_tfp(tfp.distributions.PixelCNN(image_shape=(4, 4, 1), num_hierarchies=1, conditional_shape=(2, 3)))
    with pytest.raises(ValueError, match="low=0"):
        PixelCNNPlusPlus.from_tfp(tfp.distributions.PixelCNN(image_shape=(4, 4, 1), num_hierarchies=1, high=255, low=10))


@pytest.mark.parametrize("strides, size", [(1, (5, 6)), (2, (8, 8)), (2, (7, 5))])
@pytest.mark.parametrize("kernel_size, rows, cols", [((3, 3), (0, 2), (0, 3)), ((4, 4), (0, 2), (0, 2)), ((5, 3), (0, 2), (1, 3))])
def test_shifted_conv_equals_the_masked_same_convolution(strides, size, kernel_size, rows, cols):
    layer = ShiftedConv2D(3, kernel_size, rows, cols, strides=strides)
    x = tf.random.stateless_normal((2,) + size + (2,), seed=[0, 1])
    y = layer(x)
    full = np.zeros(kernel_size + (2, 3), np.float32)
    full[slice(*rows), slice(*cols)] = layer.kernel.numpy()
    np.testing.assert_allclose(y, tf.nn.conv2d(x, full, strides, "SAME") + layer.bias, atol=1e-5)
    # One row from the rows it reads, as the cached sampler computes it.
    row = 2
    top = row * layer.strides[0] + layer.offsets(size)[0]
    strip = tf.pad(x, [[0, 0], [4, 4], [0, 0], [0, 0]])[:, top + 4 : top + 4 + layer.taps[0]]
    np.testing.assert_allclose(layer.call_on_rows(strip), y[:, row], atol=1e-5)


@pytest.mark.parametrize("kernel_size, rows, cols", [((2, 4), (0, 2), (0, 3)), ((2, 2), (0, 2), (0, 2)), ((4, 4), (1, 3), (0, 3))])
def test_shifted_conv_transpose_equals_the_masked_same_transposed_convolution(kernel_size, rows, cols):
    layer = ShiftedConv2DTranspose(3, kernel_size, rows, cols, strides=2)
    x = tf.random.stateless_normal((2, 3, 4, 5), seed=[0, 2])
    y = layer(x)
    full = np.zeros(kernel_size + (3, 5), np.float32)
    full[slice(*rows), slice(*cols)] = layer.kernel.numpy()
    np.testing.assert_allclose(y, tf.nn.conv2d_transpose(x, full, [2, 6, 8, 3], 2, "SAME") + layer.bias, atol=1e-5)


def _dependency(model):
    """D[i, j] = sum |d params_i / d x_j| over sub-pixels in raster order, channel order inside a pixel."""
    shape = model.image_shape
    x = tf.random.stateless_uniform((1,) + shape, seed=[0, 1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        params = model._logits(x, None)
    n = int(np.prod(shape))
    jacobian = tape.jacobian(params, x)
    return tf.reduce_sum(tf.abs(tf.reshape(jacobian, (n, -1, n))), axis=1).numpy()


@pytest.mark.parametrize("image_shape, weight_norm", [((4, 4, 3), False), ((4, 6, 1), True)])
def test_causality_by_gradients_and_no_blind_spot(image_shape, weight_norm):
    model = _perturbed(_tiny(image_shape, num_levels=16, weight_norm=weight_norm))
    dependency = _dependency(model)
    n, c = dependency.shape[0], image_shape[-1]
    assert (dependency[np.triu(np.ones((n, n), bool))] == 0).all(), "a conditional reads its own or a future sub-pixel"
    for i in range(c, n):  # Every earlier pixel (not only the nearby ones) reaches every later pixel.
        assert (dependency[i, : i - i % c].reshape(-1, c).max(axis=1) > 0).all(), i
    if c == 3:  # The colour coupling: G reads R, B reads R and G of the same pixel.
        assert dependency[1, 0] > 0 and dependency[2, 0] > 0 and dependency[2, 1] > 0


@pytest.mark.parametrize("image_shape, num_levels", [((1, 2, 1), 3), ((1, 1, 3), 2), ((1, 1, 1), 256)])
def test_probabilities_of_all_images_sum_to_one(image_shape, num_levels):
    model = _perturbed(_tiny(image_shape, num_levels, num_hierarchies=1, num_logistic_mix=3))
    n = int(np.prod(image_shape))
    images = np.array(list(itertools.product(range(num_levels), repeat=n)), "int32").reshape((-1,) + image_shape)
    assert float(tf.reduce_sum(tf.exp(model.log_prob(images)))) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("method", ["cached", "naive"])
def test_samples_follow_the_model_distribution(method):
    model = _perturbed(_tiny((1, 1, 3), 2, num_hierarchies=1, num_logistic_mix=3))
    images = np.array(list(itertools.product(range(2), repeat=3)), "int32").reshape(-1, 1, 1, 3)
    expected = np.exp(model.log_prob(images).numpy())
    samples = model.sample(4000, seed=1, method=method).numpy().reshape(4000, 3)
    frequencies = np.bincount(samples @ np.array([4, 2, 1]), minlength=8) / 4000
    assert np.abs(frequencies - expected).max() < 0.03


# Colour, class labels and 256 levels at two resolutions; binarized at three.
@pytest.mark.parametrize(
    "image_shape, num_levels, kwargs",
    [((4, 6, 3), 256, {"num_classes": 3, "weight_norm": True}), ((4, 8, 1), 2, {"num_hierarchies": 3, "num_resnet": 2})],
)
def test_cached_sample_and_complete_equal_the_naive_loop(image_shape, num_levels, kwargs):
    model = _perturbed(_tiny(image_shape, num_levels, **kwargs))
    labels = [0, 2, 1, 2, 0] if model.num_classes else None
    naive = model.sample(5, seed=3, labels=labels, method="naive").numpy()
    cached = model.sample(5, seed=3, labels=labels, method="cached").numpy()
    np.testing.assert_array_equal(cached, naive)
    assert len(np.unique(naive)) > 1 and model.has_cached_sampler
    known = np.zeros(image_shape[:2], bool)
    known[: image_shape[0] // 2] = True
    known[-1, 0] = True  # a known pixel after unknown ones
    completed = model.complete(cached, known, seed=4, labels=labels, method="cached").numpy()
    np.testing.assert_array_equal(completed, model.complete(cached, known, seed=4, labels=labels, method="naive").numpy())
    np.testing.assert_array_equal(completed[:, known], cached[:, known])


@pytest.mark.parametrize("weight_norm", [False, True])
def test_fit_improves_the_likelihood_and_keras_reload_is_identical(tmp_path, weight_norm):
    model = _tiny((4, 4, 1), 4, num_classes=2, dropout_p=0.5, weight_norm=weight_norm)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    images = np.tile(np.array([[3, 0, 3, 0]] * 4, "int32")[None, :, :, None], (64, 1, 1, 1))
    labels = np.arange(64) % 2
    if weight_norm:
        model.initialize_from_data(images[:32], labels[:32])
    before = model.evaluate(images, labels, batch_size=32, verbose=0, return_dict=True)
    model.fit(images, labels, batch_size=32, epochs=5, verbose=0)
    after = model.evaluate(images, labels, batch_size=32, verbose=0, return_dict=True)
    assert after["nll"] < before["nll"] and after["bits_per_dim"] == pytest.approx(after["nll"] / (16 * np.log(2)))
    path = str(tmp_path / "pixel_cnn_pp.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.log_prob(images[:4], labels[:4]), model.log_prob(images[:4], labels[:4]))
    np.testing.assert_array_equal(restored.sample(2, seed=0, labels=[0, 1]), model.sample(2, seed=0, labels=[0, 1]))
    assert PixelCNNPlusPlus.from_config(model.get_config()).get_config() == model.get_config()


def test_weight_norm_starts_as_the_plain_network_and_data_init_standardises_each_layer_in_turn():
    images = np.random.default_rng(0).integers(0, 256, (32, 4, 4, 3)).astype(np.int32)
    plain, normalised = _tiny((4, 4, 3)), _tiny((4, 4, 3), weight_norm=True)
    assert normalised.data_dependent_init and not plain.data_dependent_init
    layers = normalised._layers_in_tfp_order()
    assert all(layer.weight_norm for layer in layers)
    for layer in layers:  # g starts at ||v||: the kernel applied is the stored direction v itself.
        np.testing.assert_allclose(layer.kernel, layer.weights[0], rtol=1e-5, atol=1e-6)
    before = normalised.log_prob(images).numpy()
    normalised.initialize_from_data(images)
    x = 2.0 * tf.cast(images, tf.float32) / 255.0 - 1.0
    # The first layer, and the last, which sees the batch through every layer initialised before it.
    for outputs in (normalised.vertical_init(x), normalised._network(x, None)):
        mean, variance = tf.nn.moments(outputs, axes=[0, 1, 2])
        np.testing.assert_allclose(mean, 0.0, atol=1e-4)
        np.testing.assert_allclose(variance, 1.0, rtol=1e-3)
    assert not np.allclose(normalised.log_prob(images), before)


def test_data_init_of_plain_kernels_starts_as_the_weight_normalised_network():
    images = np.random.default_rng(0).integers(0, 256, (32, 4, 4, 3)).astype(np.int32)
    plain = _tiny((4, 4, 3), data_init=True)
    normalised = _tiny((4, 4, 3), weight_norm=True)
    assert plain.data_dependent_init and not plain.weight_norm
    assert PixelCNNPlusPlus.from_config(plain.get_config()).data_init
    for source, target in zip(plain._layers_in_tfp_order(), normalised._layers_in_tfp_order()):
        target.weights[0].assign(source.kernel)  # The same directions v.
    plain.initialize_from_data(images)
    normalised.initialize_from_data(images)
    np.testing.assert_allclose(plain.log_prob(images), normalised.log_prob(images), rtol=1e-5)
    x = 2.0 * tf.cast(images, tf.float32) / 255.0 - 1.0
    mean, variance = tf.nn.moments(plain._network(x, None), axes=[0, 1, 2])
    np.testing.assert_allclose(mean, 0.0, atol=1e-4)
    np.testing.assert_allclose(variance, 1.0, rtol=1e-3)
    with pytest.raises(TypeError, match="data_init"):
        _tiny((4, 4, 3), data_init="yes")


@pytest.mark.parametrize("make, shape", [
    (lambda: ShiftedConv2D(3, (3, 3), (0, 2), (0, 3), weight_norm=True), (2, 5, 6, 4)),
    (lambda: ShiftedConv2DTranspose(3, (2, 4), (0, 2), (0, 3), weight_norm=True), (2, 3, 4, 4)),
    (lambda: WeightNormDense(3), (2, 5, 6, 4)),
])
def test_weight_normalised_layers_rebuild_from_their_config_with_identical_outputs(make, shape):
    layer = make()
    x = tf.random.stateless_normal(shape, seed=[0, 2])
    y = layer(x)
    layer.g.assign(layer.g * 1.5)  # A scale away from ||v||: the copy must carry g, not recompute it.
    copy = type(layer).from_config(layer.get_config())
    copy(x)
    copy.set_weights(layer.get_weights())
    assert copy.get_config() == layer.get_config() and copy.weight_norm
    np.testing.assert_allclose(copy(x), layer(x), rtol=1e-6)
    assert not np.allclose(layer(x), y)
    assert [w.name for w in layer.weights] == ["kernel", "bias", "g"]


def test_saved_model_signatures_equal_keras(tmp_path):
    model = _perturbed(_tiny((4, 4, 3), 256))
    signatures = tf.saved_model.load(saved_model.to_saved_model(model, str(tmp_path), "pixel_cnn_pp")).signatures
    seeds = np.array([0, 5, -3], np.int64)
    levels = signatures["sample"](seed=tf.constant(seeds))["levels"].numpy()
    np.testing.assert_array_equal(levels, np.concatenate([model.sample(1, seed=int(s)) for s in seeds]))
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3)).astype(np.int32)
    np.testing.assert_allclose(signatures["log_prob"](images=tf.constant(images))["log_prob"], model.log_prob(images), rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_shape": (4, 4, 2)}, "1 or 3 channels"),
        ({"image_shape": (6, 6, 1), "num_hierarchies": 3}, "divisible by 2 \\*\\* \\(num_hierarchies - 1\\) = 4"),
        ({"receptive_field_dims": (3, 4)}, "receptive_field_dims"),
        ({"num_logistic_mix": 0}, "num_logistic_mix"),
        ({"dropout_p": 1.0}, "dropout_p"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _tiny(**kwargs)
