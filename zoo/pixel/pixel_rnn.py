"""PixelRNN: Row LSTM and Diagonal BiLSTM layers and models.

Design of the Diagonal BiLSTM layer (issue 16). The math is the paper's and the old layer's (kept as the
tests' oracle in `tests/zoo/pixel/pixel_rnn_reference.py`; same variables, same outputs to float rounding);
what changed is how it runs. Measured as the summed op times of a `RunMetadata` full trace of one forward and
backward pass of one layer (batch 128, hidden 32, 28x28, 2 shared CPU cores; one change at a time):

- old layer (a skew of 28 pads, an unskew of 28 slices, one `tf.scan` per direction over the 55 skewed
  columns, a `conv1d` per step): 20.2 s, of which `StridedSliceGrad` 5.5 s (the gradient of the unskew's
  slices) and `AssignAdd` 3.7 s (per-step kernel gradients accumulated in the loop);
- skew and unskew by one pad and reshape, both directions stacked in one scan, the 2x1 state convolution as
  one matmul of [above, left]: 17.4 s, no better, because `x[:, :-1]`-style slices remained and TF's CPU
  `StridedSliceGrad` took up to a second per call (9.7 s in all); the same with `tf.slice` (gradient: a
  `Pad`) everywhere: 7.5 s once the pixel-major layout (H, W, batch, channels) also cut the transposes
  of the 55-column gate tensor from 2.2 s to 0.4 s;
- unrolling the 55 columns in Python instead of `tf.scan`, which lets each column compute only its pixels
  of the image (784 positions instead of 55 x 28 = 1540; the padding's states never reach a pixel): 5.5 s
  (an unrolled loop that still sliced with `StridedSlice` had been 2.5x slower than the scan);
- the input-to-state 1x1 convolutions fused into the per-column matmul ([pixel, above, left] times one
  `(channels + 2 hidden, 4 hidden)` kernel per direction): 3.8 s, now mostly the matmuls themselves.
  (About 1.3 s of each figure is the test harness: the random input and the loss.)
- then (same trace, layer alone, 2 loaded cores): the bias as one more row of that kernel, fed by a constant
  1 channel, so its gradient is part of the matmul's instead of a `Sum` per diagonal; and the skew done by one
  row gather per direction into diagonal order (a diagonal is then a contiguous `tf.split` piece) and undone
  by one gather back, both with the reverse gather as gradient (`_move_rows`), instead of the skew's pad, 55
  slices and the unskew's pads: 1.04 s -> 0.94 s (Pads 0.10 s -> 0.02 s). Tried and dropped: the input
  products for all pixels in one matmul before the loop, leaving only [above, left] per diagonal (0.72 s ->
  0.85 s: the per-diagonal adds cost more than the one matmul saved).

The Row LSTM keeps its `tf.scan` over 28 rows: the same unrolling (the 1 x 3 state convolution as one matmul
of three shifted copies of the row above, pixel-major rows) measured 1.0x its time (fwd + bwd of one layer,
interleaved), so it did not pay for the longer trace.

Row LSTM, also measured and dropped (fwd + bwd of one layer, interleaved, loaded machine): a hand-written
backward pass (`tf.custom_gradient`, the kernel's gradient as one product over all rows after the loop)
1.2x slower; the state convolution as a matmul of three shifted copies, 1.0-1.1x; the input-to-state
convolution on a rows-first layout to save a transpose, 1.05-1.08x; the recurrence run by Keras's own loop
(the TF backend's `rnn`, which a `keras.layers.RNN` cell runs) instead of `tf.scan`: same outputs and
gradients, 0.96x and 1.01x (15 and 25 rounds), no gain for a less direct layer.

Also measured and dropped (one Diagonal BiLSTM layer's forward and backward, interleaved, loaded machine): TF's
fused LSTM cell (`tf.raw_ops.LSTMBlockCell` per diagonal and direction, its `LSTMBlockCellGrad` under a
`tf.custom_gradient`; equal outputs and gradients) 1.6x slower, its built-in product not being oneDNN's.
Taken (issue 16, all models): `MaskedConv2D` no longer multiplies the taps its mask zeroes everywhere, which
cuts the Row LSTM's 1 x 3 input-to-state convolution to 1 x 2 (forward 17.1 -> 13.6 GFLOP per batch): its
training step 0.90-0.92x as long side by side (3 runs, loaded machine), but in `benchmarks.train_speed` its
ratio to PixelCNN, whose convolutions lost a fifth of their FLOPs too, went only from 1.61x to 1.57x.

Not taken: `tf.function(jit_compile=True)` (XLA) around the scan version was 1.4x slower than without it
(interleaved wall times of one layer's forward and backward), and would tie training and export to XLA; on
the unrolled layer, XLA's compilation of the whole training step (`benchmarks/train_speed.py --xla`) had not
finished after 20 minutes on the loaded machine. The cost of unrolling is tracing: a 28x28 layer is about 1,000 ops forward, so the first
call of a training step takes tens of seconds longer to trace. Whole-model step times, old and new side by
side, are in `benchmarks/RESULTS.md` ("Training speed").
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.pixel import cached
from zoo.pixel.autoregressive import AutoregressiveModel
from zoo.pixel.masked import MaskedConv2D


def _lstm_update(gates, c_prev):
    i, f, o, g = tf.split(gates, 4, axis=-1)
    c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(g)
    return tf.sigmoid(o) * tf.tanh(c), c


def diagonal_order(height, width, mirrored=False):
    """Row-major pixel indices in diagonal order: diagonal `t = i + j` after diagonal `t - 1`, rows rising
    inside one. `mirrored`: the diagonals of the image flipped left to right (the right-to-left LSTM's).
    Returns `(order, sizes)`: the `height * width` indices and the pixels on each of the `height + width - 1`
    diagonals."""
    order, sizes = [], []
    for t in range(height + width - 1):
        rows = range(max(0, t - width + 1), min(height - 1, t) + 1)
        order += [i * width + (width - 1 - (t - i) if mirrored else t - i) for i in rows]
        sizes.append(len(rows))
    return np.array(order), sizes


def _take_rows(x, index):
    """`x[index]` along axis 0, where index `len(x)` reads a row of zeros."""
    if (index == x.shape[0]).any():
        x = tf.concat([x, tf.zeros(tf.concat([[1], tf.shape(x)[1:]], 0), x.dtype)], 0)
    return tf.gather(x, index)


def _move_rows(x, index, inverse):
    """`x[index]` along axis 0 for an `index` that reads each row at most once (`len(x)`: a zero row).

    Its gradient is the gather back by `inverse` (`len(index)` where no output row came from a row), instead
    of TF's `IndexedSlices` sum: skewing by one gather each way replaced 55 pads and 55 slices per layer.
    """

    @tf.custom_gradient
    def move(x):
        return _take_rows(x, index), lambda dy: _take_rows(dy, inverse)

    return move(x)


def _inverse(index, size):
    """For `_move_rows`: where each of `size` rows went in `index` (`len(index)` for rows never read)."""
    inverse = np.full(size, len(index))
    valid = index < size
    inverse[index[valid]] = np.flatnonzero(valid)
    return inverse


def _select_rows(x, have, want, batch, axis):
    """Rows `want = (first, last)` of `x`, which holds rows `have` as blocks of `batch` along `axis`; zeros
    outside `have`. Pads and `tf.slice`s only: on CPU a `StridedSlice`'s gradient took seconds per call
    (see the module docstring)."""
    top, bottom = max(0, have[0] - want[0]), max(0, want[1] - have[1])
    if top or bottom:
        paddings = [[0, 0]] * x.shape.rank
        paddings[axis] = [top * batch, bottom * batch]
        x = tf.pad(x, paddings)
    start, count = max(0, want[0] - have[0]), want[1] - want[0] + 1
    if start or count != max(have[1], want[1]) - min(have[0], want[0]) + 1:
        begin, size = [0] * x.shape.rank, [-1] * x.shape.rank
        begin[axis], size[axis] = start * batch, count * batch
        x = tf.slice(x, begin, size)
    return x


@keras.saving.register_keras_serializable(package="zoo")
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


@keras.saving.register_keras_serializable(package="zoo")
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

    def call(self, x):
        height, width, channels = x.shape[1:]
        batch = tf.shape(x)[0]
        # Pixel-major layout (H * W, batch * channels), each direction's pixels gathered in its diagonal
        # order, so a diagonal is one contiguous block of rows (a `tf.split` piece) and a whole
        # (batch, channels) block moves per pixel. The right-to-left LSTM is the left-to-right one on the
        # mirrored image. A constant 1 after the channels carries the bias through the matmul: the bias's
        # gradient is then part of the kernel's, not a reduction per diagonal (5% of the step).
        pixels = tf.transpose(x, [1, 2, 0, 3])
        pixels = tf.concat([pixels, tf.ones(tf.concat([tf.shape(pixels)[:-1], [1]], 0))], axis=-1)
        pixels = tf.reshape(pixels, [height * width, -1])
        orders = [diagonal_order(height, width, mirrored) for mirrored in (False, True)]
        inverses = [_inverse(order, height * width) for order, _ in orders]
        both = tf.stack([_move_rows(pixels, order, inverse) for (order, _), inverse in zip(orders, inverses)])
        sizes = orders[0][1]
        kernels = self._step_kernels()
        no_rows = tf.zeros([2, 0, self.hidden])  # the state before the first diagonal: rows (0, -1)
        hidden_diagonals, state, previous = [], (no_rows, no_rows), (0, -1)
        for t, diagonal in enumerate(tf.split(both, sizes, axis=1)):
            # Only the pixels of the image on this diagonal are computed.
            rows = (max(0, t - width + 1), min(height - 1, t))
            inputs = tf.reshape(diagonal, [2, sizes[t] * batch, channels + 1])
            # The input-to-state and 2x1 state-to-state convolutions as one matmul: the pixel itself, the one
            # above and the one to the left (rows r - 1 and r of the previous diagonal).
            above = _select_rows(state[0], previous, (rows[0] - 1, rows[1] - 1), batch, axis=1)
            left, cell = (_select_rows(s, previous, rows, batch, axis=1) for s in state)
            gates = tf.matmul(tf.concat([inputs, above, left], axis=-1), kernels)
            state, previous = _lstm_update(gates, cell), rows
            hidden_diagonals.append(tf.reshape(state[0], [2, sizes[t], -1]))
        forward, backward = tf.unstack(tf.concat(hidden_diagonals, axis=1))
        # Back to row-major pixels. At row i the right-to-left LSTM has seen the pixels right of i on row i,
        # so it is read one row down (zeros on row 0).
        shifted = np.concatenate([np.full(width, height * width), inverses[1][: (height - 1) * width]])
        hidden = _move_rows(forward, inverses[0], orders[0][0]) + _move_rows(backward, shifted, _inverse(shifted, height * width))
        hidden = tf.reshape(hidden, [height, width, batch, self.hidden])
        return x + tf.transpose(self.output_projection(hidden), [2, 0, 1, 3])

    def _step_kernels(self):
        """`(2, channels + 1 + 2 * hidden, 4 * hidden)` kernels: input taps, bias, above taps, left taps."""
        kernels = []
        for conv, state_kernel in zip(self.input_to_state, self.state_kernels):
            input_kernel = conv.kernel * conv.mask  # the type-B 1x1 mask: colour order inside the pixel
            taps = tf.reshape(state_kernel, [2 * self.hidden, 4 * self.hidden])  # above, then left
            bias = tf.reshape(tf.convert_to_tensor(conv.bias), [1, 4 * self.hidden])
            kernels.append(tf.concat([tf.reshape(input_kernel, input_kernel.shape[2:]), bias, taps], 0))
        return tf.stack(kernels)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden": self.hidden, "color_channels": self.color_channels})
        return config


class _CachedPixelRNN:
    """A PixelRNN at one pixel, carrying the recurrent states forward instead of recomputing them.

    What both kinds share: the 7x7 first convolution, the input-to-state convolutions, the output projections
    and the head run per pixel from caches of their inputs; each layer's hidden and cell states are cached per
    pixel, and the previous row's hidden states are kept for the next row. A subclass adds its layer's
    recurrence (`_layer_step`) and what it keeps per row.
    """

    def __init__(self, model, batch_size, input_to_state):
        size = model.image_shape[:2]
        self.model, self.batch_size, self.num_pixels, self.width = model, batch_size, size[0] * size[1], size[1]
        self.first = cached.PixelConv(model.first, size)
        self.input_to_state = [cached.PixelConv(conv, size) for conv in input_to_state]
        self.projection = [cached.PixelConv(layer.output_projection, size) for layer in model.recurrent_layers]
        self.head = [cached.PixelConv(layer, size) for layer in model.head]

    def _zeros(self, *shape):
        return tf.zeros((self.batch_size,) + shape)

    def _rows(self):
        """Per layer, `(batch, width, hidden)` zeros: the state of the row above the image."""
        return [self._zeros(self.width, self.model.hidden) for _ in range(self.model.num_layers)]

    def initial_state(self):
        hidden, layers = self.model.hidden, range(self.model.num_layers)
        caches = [self.model.color_channels] + [2 * hidden] * self.model.num_layers
        return {
            "inputs": [cached.pixel_cache(self.batch_size, c, self.num_pixels) for c in caches],
            "hidden": [cached.pixel_cache(self.batch_size, hidden, self.num_pixels) for _ in layers],
            "cell": [cached.pixel_cache(self.batch_size, hidden, self.num_pixels) for _ in layers],
            "above_hidden": self._rows(),
        }

    @staticmethod
    def _columns(x):
        return tf.transpose(x, [1, 0, 2])  # (width, batch, channels): a pixel reads its column.

    def _left(self, state, name, i, position, column):
        # The previous pixel of this row, or the zero state at the row's start.
        return state[name][i].read(tf.where(column > 0, position - 1, self.num_pixels))

    def _layer_step(self, i, layer, gates, state, row_state, position, column):
        """`(hidden, cell, output)` of recurrent layer `i` at the pixel, from its input-to-state `gates`."""
        raise NotImplementedError

    def pixel(self, state, row_state, position, column, center):
        x = self.first(center, state["inputs"][0], position)
        inputs, hiddens, cells = [], [], []
        for i, layer in enumerate(self.model.recurrent_layers):
            inputs.append(x)
            gates = self.input_to_state[i](x, state["inputs"][i + 1], position)
            h, c, out = self._layer_step(i, layer, gates, state, row_state, position, column)
            hiddens.append(h)
            cells.append(c)
            x = x + self.projection[i](out)
        x = self.head[0](cached.relu(x))
        return self.model._output_logits(self.head[1](cached.relu(x))), (inputs, hiddens, cells)

    def pixel_done(self, state, position, pixel, activations):
        inputs, hiddens, cells = activations
        write = lambda caches, values: [cache.write(position, value) for cache, value in zip(caches, values)]
        return dict(
            state,
            inputs=write(state["inputs"], [pixel] + inputs),
            hidden=write(state["hidden"], hiddens),
            cell=write(state["cell"], cells),
        )

    def _finished_rows(self, caches, row):
        """The row's values of each of `caches`, `(batch, width, channels)`."""
        positions = row * self.width + tf.range(self.width)
        return [tf.ensure_shape(self._columns(cache.gather(positions)), [None, self.width, None]) for cache in caches]

    def row_end(self, state, row, row_pixels):
        return dict(state, above_hidden=self._finished_rows(state["hidden"], row))


class _CachedRowLSTM(_CachedPixelRNN):
    """Cached Row LSTM: the state-to-state convolution of the previous row's hidden state is computed once per
    row; each pixel then takes one LSTM step with the cell state of the pixel above."""

    def __init__(self, model, batch_size):
        super().__init__(model, batch_size, [layer.input_to_state for layer in model.recurrent_layers])

    def initial_state(self):
        return dict(super().initial_state(), above_cell=self._rows())

    def row_start(self, state, row):
        return {
            "state_gates": [
                self._columns(tf.nn.conv1d(h, layer.state_kernel, stride=1, padding="SAME"))
                for h, layer in zip(state["above_hidden"], self.model.recurrent_layers)
            ],
            "above_cell": [self._columns(c) for c in state["above_cell"]],
        }

    def _layer_step(self, i, layer, gates, state, row_state, position, column):
        h, c = _lstm_update(gates + row_state["state_gates"][i][column], row_state["above_cell"][i][column])
        return h, c, h

    def row_end(self, state, row, row_pixels):
        return dict(super().row_end(state, row, row_pixels), above_cell=self._finished_rows(state["cell"], row))


class _CachedDiagonalBiLSTM(_CachedPixelRNN):
    """Cached Diagonal BiLSTM: the left-to-right LSTM takes one step per pixel from the state above (previous
    row) and to the left (previous pixel); the right-to-left LSTM, which reads the pixel to the right, runs
    over a row once it is finished, and its output reaches the next row, exactly where the layer's one-row
    shift puts it."""

    def __init__(self, model, batch_size):
        super().__init__(model, batch_size, [layer.input_to_state[0] for layer in model.recurrent_layers])
        self.backward_input = [cached.RowConv(layer.input_to_state[1]) for layer in model.recurrent_layers]

    def initial_state(self):
        return dict(super().initial_state(), above_backward=self._rows())

    def row_start(self, state, row):
        return {
            "above": [self._columns(h) for h in state["above_hidden"]],
            "backward": [self._columns(h) for h in state["above_backward"]],
        }

    def _layer_step(self, i, layer, gates, state, row_state, position, column):
        kernel = layer.state_kernels[0]
        gates += tf.matmul(row_state["above"][i][column], kernel[0])
        gates += tf.matmul(self._left(state, "hidden", i, position, column), kernel[1])
        h, c = _lstm_update(gates, self._left(state, "cell", i, position, column))
        return h, c, h + row_state["backward"][i][column]

    def row_end(self, state, row, row_pixels):
        state = super().row_end(state, row, row_pixels)
        inputs = self._finished_rows(state["inputs"][1:], row)
        state["above_backward"] = [
            self._backward_row(layer, self.backward_input[i](x[:, None]), above)
            for i, (layer, x, above) in enumerate(zip(self.model.recurrent_layers, inputs, state["above_backward"]))
        ]
        return state

    def _backward_row(self, layer, gates_in, above):
        """The right-to-left LSTM over one finished row: `(batch, width, hidden)` hidden states."""
        kernel = layer.state_kernels[1]
        gates_in = gates_in + tf.einsum("bwh,hk->bwk", above, kernel[0])

        def step(carry, column_gates):
            h_right, c_right = carry
            return _lstm_update(column_gates + tf.matmul(h_right, kernel[1]), c_right)

        zeros = tf.zeros_like(above[:, 0])
        hidden, _ = tf.scan(step, tf.reverse(tf.transpose(gates_in, [1, 0, 2]), [0]), initializer=(zeros, zeros))
        return tf.transpose(tf.reverse(hidden, [0]), [1, 0, 2])


class _PixelRNN(AutoregressiveModel):
    """Shared body of the two PixelRNN models: a 7x7 type-A convolution, recurrent layers, 1x1 output layers."""

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=None,
        num_levels=2,
        hidden=32,
        num_layers=2,
        output_filters=64,
        seed=None,
        **kwargs,
    ):
        if num_classes is not None:
            raise ValueError(f"{type(self).__name__} is unconditional (num_classes=None); use GatedPixelCNN for classes.")
        super().__init__(image_shape=image_shape, num_classes=None, num_levels=num_levels, seed=seed, **kwargs)
        self.hidden, self.num_layers, self.output_filters = hidden, num_layers, output_filters
        c = self.color_channels
        self.first = MaskedConv2D(2 * hidden, 7, "A", color_channels=c, name="conv_a")
        self.recurrent_layers = [self._make_layer() for _ in range(num_layers)]
        self.head = [
            MaskedConv2D(output_filters, 1, "B", color_channels=c, name="head_hidden"),
            MaskedConv2D(c * self.params_per_subpixel, 1, "B", color_channels=c, name="head_logits"),
        ]
        self._finish_build()

    def _logits(self, x, labels, training=False):
        h = self.first(x)
        for layer in self.recurrent_layers:
            h = layer(h)
        h = self.head[0](tf.nn.relu(h))
        return self._output_logits(self.head[1](tf.nn.relu(h)))

    def get_config(self):
        config = super().get_config()
        config.update({"hidden": self.hidden, "num_layers": self.num_layers, "output_filters": self.output_filters})
        return config


@keras.saving.register_keras_serializable(package="zoo")
class RowLSTM(_PixelRNN):
    """PixelRNN with Row LSTM layers.

    `p(x) = prod_i p(x_i | x_<i)` in raster order (R, G, B inside a pixel): a 7x7 type-A masked
    convolution, `num_layers` residual Row LSTM layers (`RowLSTMLayer`: a row at a time, each state seeing a
    triangle of the rows above), then ReLU + 1x1 type-B layers to Bernoulli or categorical logits.

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: must be None (unconditional).
        num_levels: 2 (Bernoulli) to 256 (categorical). Default 2.
        hidden: LSTM units (the residual stream has `2 * hidden` channels). Default 32.
        num_layers: Row LSTM layers. Default 2.
        output_filters: width of the 1x1 output layer. Default 64.
        seed: seed of sampling draws made without an explicit seed.

    Example:
        >>> model = RowLSTM(image_shape=(28, 28, 1))
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> model.fit(binarized_images, epochs=2)
        >>> model.log_prob(test_images)

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016, section 3.1.
    """

    def _make_layer(self):
        return RowLSTMLayer(self.hidden, 3, color_channels=self.color_channels)

    def _cached_sampler(self, batch_size, labels):
        return _CachedRowLSTM(self, batch_size)


@keras.saving.register_keras_serializable(package="zoo")
class DiagonalBiLSTM(_PixelRNN):
    """PixelRNN with Diagonal BiLSTM layers.

    `p(x) = prod_i p(x_i | x_<i)` in raster order (R, G, B inside a pixel): a 7x7 type-A masked
    convolution, `num_layers` residual Diagonal BiLSTM layers (`DiagonalBiLSTMLayer`: the whole past in
    the receptive field after one layer), then ReLU + 1x1 type-B layers to Bernoulli or categorical logits.

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: must be None (unconditional).
        num_levels: 2 (Bernoulli) to 256 (categorical). Default 2.
        hidden: LSTM units per direction (the residual stream has `2 * hidden` channels). Default 32.
        num_layers: Diagonal BiLSTM layers. Default 2.
        output_filters: width of the 1x1 output layer. Default 64.
        seed: seed of sampling draws made without an explicit seed.

    Example:
        >>> model = DiagonalBiLSTM(image_shape=(28, 28, 1))
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> model.fit(binarized_images, epochs=2)

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016, section 3.2.
    """

    def _make_layer(self):
        return DiagonalBiLSTMLayer(self.hidden, color_channels=self.color_channels)

    def _cached_sampler(self, batch_size, labels):
        return _CachedDiagonalBiLSTM(self, batch_size)
