"""The PixelRNN layers as they were before issue 16: the oracle the fast layers are tested against.

`skew`/`unskew` with one pad or slice per row and a `tf.scan` over every skewed column (padded positions
included), exactly as `zoo/pixel/pixel_rnn.py` computed them until the fast layers replaced them. Their
variables have the same names and shapes as the new layers', so weights files load one into the other.
`RowLSTM` and `DiagonalBiLSTM` here are the zoo's models built from these layers. Test-only (and timed side
by side with the new layers by `benchmarks/train_speed.py`); registered under `zoo_reference` so they never
shadow the zoo's classes.
"""

import keras
import tensorflow as tf

from zoo.pixel import pixel_rnn
from zoo.pixel.masked import MaskedConv2D


def _lstm_update(gates, c_prev):
    i, f, o, g = tf.split(gates, 4, axis=-1)
    c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


def skew(x):
    """Shifts row i of `(batch, H, W, C)` right by i: `(batch, H, W + H - 1, C)`; diagonals become columns."""
    height = x.shape[1]
    return tf.stack([tf.pad(x[:, i], [[0, 0], [i, height - 1 - i], [0, 0]]) for i in range(height)], axis=1)


def unskew(x, width):
    """Inverse of `skew`: `(batch, H, W + H - 1, C)` back to `(batch, H, W, C)`."""
    return tf.stack([x[:, i, i : i + width] for i in range(x.shape[1])], axis=1)


@keras.saving.register_keras_serializable(package="zoo_reference")
class RowLSTMLayer(keras.layers.Layer):
    """Row LSTM: an LSTM that processes a whole row at a time, top to bottom.

    The input-to-state component is a `1 x k` type-B masked convolution of the row itself (pixels up to the
    current one); the state-to-state component is a `1 x k` convolution of the previous row's hidden state,
    so each pixel's state sees a triangle of rows above it. Output: the input plus a 1x1 projection of the
    hidden state (residual connection).

    Args:
        hidden: LSTM units per pixel.
        kernel_size: k. Default 3.
        color_channels: colour channels of the image (their order inside a pixel is kept).
    """

    def __init__(self, hidden, kernel_size=3, color_channels=1, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.kernel_size, self.color_channels = hidden, kernel_size, color_channels
        self.input_to_state = MaskedConv2D(4 * hidden, (1, kernel_size), "B", color_channels=color_channels, out_chunks=4)
        self.output_projection = None

    def build(self, input_shape):
        self.input_to_state.build(input_shape)
        self.state_kernel = self.add_weight(
            name="state_kernel", shape=(self.kernel_size, self.hidden, 4 * self.hidden), initializer="glorot_uniform"
        )
        self.output_projection = MaskedConv2D(int(input_shape[-1]), 1, "B", color_channels=self.color_channels)
        self.output_projection.build(tuple(input_shape[:-1]) + (self.hidden,))

    def call(self, x):
        gates_in = tf.transpose(self.input_to_state(x), [1, 0, 2, 3])  # (H, batch, W, 4h)
        zeros = tf.zeros_like(gates_in[0, ..., : self.hidden])

        def step(state, row_gates):
            h_prev, c_prev = state
            gates = row_gates + tf.nn.conv1d(h_prev, self.state_kernel, stride=1, padding="SAME")
            return _lstm_update(gates, c_prev)

        hidden, _ = tf.scan(step, gates_in, initializer=(zeros, zeros))
        return x + self.output_projection(tf.transpose(hidden, [1, 0, 2, 3]))

    def get_config(self):
        config = super().get_config()
        config.update({"hidden": self.hidden, "kernel_size": self.kernel_size, "color_channels": self.color_channels})
        return config


@keras.saving.register_keras_serializable(package="zoo_reference")
class DiagonalBiLSTMLayer(keras.layers.Layer):
    """Diagonal BiLSTM: two LSTMs that sweep the image along diagonals, from the left and from the right.

    The input is skewed (row i shifted right by i) so each diagonal is a column; the LSTM moves column by
    column with a 1x1 type-B input-to-state convolution and a `2 x 1` state-to-state convolution over the
    previous column (the pixel to the left and the pixel above). The right-to-left LSTM runs on the
    mirrored image; its output is shifted down one row before being added, because at row i it has seen
    pixels to the right on row i, which lie in the future. Output: input + 1x1 projection (residual).

    Args:
        hidden: LSTM units per pixel and direction.
        color_channels: colour channels of the image (their order inside a pixel is kept).
    """

    def __init__(self, hidden, color_channels=1, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.color_channels = hidden, color_channels
        self.input_to_state = [
            MaskedConv2D(4 * hidden, 1, "B", color_channels=color_channels, out_chunks=4, name=f"input_to_state_{d}")
            for d in ("forward", "backward")
        ]
        self.output_projection = None

    def build(self, input_shape):
        for layer in self.input_to_state:
            layer.build(input_shape)
        self.state_kernels = [
            self.add_weight(name=f"state_kernel_{d}", shape=(2, self.hidden, 4 * self.hidden), initializer="glorot_uniform")
            for d in ("forward", "backward")
        ]
        self.output_projection = MaskedConv2D(int(input_shape[-1]), 1, "B", color_channels=self.color_channels)
        self.output_projection.build(tuple(input_shape[:-1]) + (self.hidden,))

    def _sweep(self, x, input_to_state, state_kernel):
        width = x.shape[2]
        gates_in = tf.transpose(skew(input_to_state(x)), [2, 0, 1, 3])  # (W + H - 1, batch, H, 4h)
        zeros = tf.zeros_like(gates_in[0, ..., : self.hidden])

        def step(state, column_gates):
            h_prev, c_prev = state
            # Row r of the new column reads rows r - 1 and r of the previous one: above and left.
            above_and_left = tf.pad(h_prev, [[0, 0], [1, 0], [0, 0]])
            gates = column_gates + tf.nn.conv1d(above_and_left, state_kernel, stride=1, padding="VALID")
            return _lstm_update(gates, c_prev)

        hidden, _ = tf.scan(step, gates_in, initializer=(zeros, zeros))
        return unskew(tf.transpose(hidden, [1, 2, 0, 3]), width)

    def call(self, x):
        forward = self._sweep(x, self.input_to_state[0], self.state_kernels[0])
        backward = tf.reverse(self._sweep(tf.reverse(x, [2]), self.input_to_state[1], self.state_kernels[1]), [2])
        backward = tf.pad(backward, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]
        return x + self.output_projection(forward + backward)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden": self.hidden, "color_channels": self.color_channels})
        return config


@keras.saving.register_keras_serializable(package="zoo_reference")
class RowLSTM(pixel_rnn.RowLSTM):
    """`zoo.pixel.RowLSTM` with the old `RowLSTMLayer`."""

    def _make_layer(self):
        return RowLSTMLayer(self.hidden, 3, color_channels=self.color_channels)


@keras.saving.register_keras_serializable(package="zoo_reference")
class DiagonalBiLSTM(pixel_rnn.DiagonalBiLSTM):
    """`zoo.pixel.DiagonalBiLSTM` with the old `DiagonalBiLSTMLayer`."""

    def _make_layer(self):
        return DiagonalBiLSTMLayer(self.hidden, color_channels=self.color_channels)
