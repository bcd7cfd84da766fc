"""The fast PixelRNN layers compute today's model: equal to the old layers (the oracle, kept in
`pixel_rnn_reference.py`) for the same weights, for binarized, 256-level and RGB images, with the old layers' weights files."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import pixel_rnn_reference as reference
from zoo.pixel import pixel_rnn
from zoo.pixel.pixel_rnn import DiagonalBiLSTM, RowLSTM


PAIRS = {"row_lstm": (RowLSTM, reference.RowLSTM), "diagonal_bilstm": (DiagonalBiLSTM, reference.DiagonalBiLSTM)}
# Binarized, 256 levels, RGB; height != width, and wider than high, so skewing is not symmetric.
CASES = [((5, 7, 1), 2), ((6, 4, 1), 256), ((4, 5, 3), 256)]


def _pair(name, image_shape, num_levels, directory):
    """A new model with the weights of an old one, copied through a `.weights.h5` file as presets are."""
    new_class, reference_class = PAIRS[name]
    kwargs = dict(image_shape=image_shape, num_levels=num_levels, hidden=5, num_layers=2, output_filters=8, seed=0)
    model, oracle = new_class(**kwargs), reference_class(**kwargs)
    for i, variable in enumerate(oracle.weights):  # larger than at initialisation: varied, confident outputs
        variable.assign(variable + tf.random.stateless_normal(variable.shape, seed=[i, 7], stddev=0.3))
    path = str(directory / "oracle.weights.h5")
    oracle.save_weights(path)
    model.load_weights(path)
    assert [(v.name, v.shape) for v in model.weights] == [(v.name, v.shape) for v in oracle.weights]
    for new, old in zip(model.weights, oracle.weights):
        np.testing.assert_array_equal(new, old)
    return model, oracle


def _images(image_shape, num_levels, batch=6):
    return np.random.default_rng(0).integers(0, num_levels, (batch,) + image_shape).astype("int32")


def _loss_and_gradients(model, images):
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(images))
    return loss, tape.gradient(loss, model.trainable_variables)


@pytest.mark.parametrize("image_shape, num_levels", CASES)
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_log_prob_loss_and_gradients_equal_the_old_layers(tmp_path, name, image_shape, num_levels):
    model, oracle = _pair(name, image_shape, num_levels, tmp_path)
    images = _images(image_shape, num_levels)
    np.testing.assert_allclose(model.log_prob(images), oracle.log_prob(images), rtol=1e-5)
    model.compile(), oracle.compile()
    np.testing.assert_allclose(
        model.test_step(images)["loss"], oracle.test_step(images)["loss"], rtol=1e-5
    )
    loss, gradients = _loss_and_gradients(model, images)
    oracle_loss, oracle_gradients = _loss_and_gradients(oracle, images)
    np.testing.assert_allclose(loss, oracle_loss, rtol=1e-5)
    for new, old, variable in zip(gradients, oracle_gradients, model.trainable_variables):
        np.testing.assert_allclose(new, old, rtol=1e-4, atol=1e-6 * float(tf.reduce_max(tf.abs(old))), err_msg=variable.path)


@pytest.mark.parametrize("height,width", [(5, 3), (2, 4), (4, 4)])
def test_diagonal_order_reads_the_old_layers_skew_column_by_column(height, width):
    pixels = np.arange(1, height * width + 1, dtype=np.float32).reshape(1, height, width, 1)  # 0: the padding
    for mirrored in (False, True):
        skewed = reference.skew(tf.constant(pixels[:, :, ::-1] if mirrored else pixels))[0, ..., 0].numpy()
        order, sizes = pixel_rnn.diagonal_order(height, width, mirrored)
        np.testing.assert_array_equal(order, [int(v) - 1 for column in skewed.T for v in column if v])
        assert sizes == [int(np.count_nonzero(column)) for column in skewed.T]


def test_moving_rows_gives_the_values_and_gradients_of_a_gather():
    x = tf.random.stateless_normal([6, 3], seed=[3, 4])
    index = np.array([2, 6, 0, 5, 1])  # 6 reads a zero row; rows 3 and 4 are never read
    weights = tf.random.stateless_normal([5, 3], seed=[5, 6])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        moved = pixel_rnn._move_rows(x, index, pixel_rnn._inverse(index, 6))
        gathered = tf.gather(tf.concat([x, tf.zeros([1, 3])], 0), index)
        losses = [tf.reduce_sum(weights * y) for y in (moved, gathered)]
    np.testing.assert_array_equal(moved, gathered)
    np.testing.assert_array_equal(tape.gradient(losses[0], x), tf.convert_to_tensor(tape.gradient(losses[1], x)))


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_a_batch_of_one_and_a_traced_unknown_batch_give_the_same_values(tmp_path, name):
    model, _ = _pair(name, (4, 5, 1), 2, tmp_path)
    images = _images((4, 5, 1), 2, batch=3)
    traced = tf.function(model.log_prob, input_signature=[tf.TensorSpec([None, 4, 5, 1], tf.int32)])
    one_by_one = np.concatenate([model.log_prob(images[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(traced(images), one_by_one, rtol=1e-6)


def test_keras_round_trip_gives_identical_outputs(tmp_path):
    model, _ = _pair("diagonal_bilstm", (4, 5, 1), 2, tmp_path)
    images = _images((4, 5, 1), 2)
    path = str(tmp_path / "model.keras")
    model.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path).log_prob(images), model.log_prob(images))
