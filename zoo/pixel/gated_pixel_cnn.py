"""Gated PixelCNN: vertical and horizontal stacks with gated activations, optionally class-conditional."""

import keras
import tensorflow as tf

from zoo.pixel import cached
from zoo.pixel.autoregressive import AutoregressiveModel
from zoo.pixel.masked import MaskedConv2D


def _shift_down(x):
    """Moves features one row down (row i gets row i - 1, row 0 gets zeros).

    A `Slice`, not `[:, :-1]`: the gradient of that `StridedSlice` took 17% of a training step's op time on
    CPU; a `Slice`'s gradient is a cheap `Pad`.
    """
    height = x.shape[1]
    return tf.slice(tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]]), [0, 0, 0, 0], [-1, height, -1, -1])


@keras.saving.register_keras_serializable(package="zoo")
class GatedPixelCNNLayer(keras.layers.Layer):
    """One gated layer with a vertical and a horizontal stack (van den Oord et al., 2016, figure 2).

    Vertical stack: a `k x k` convolution over the rows on and above the current one ("V" mask). Horizontal
    stack: a `1 x k` masked convolution over the current row up to the current pixel, plus the vertical
    features shifted one row down, so it sees every earlier pixel and no blind spot remains. Both use the
    gate `tanh(a) * sigmoid(b)`, with a class embedding added to `a` and `b` when conditional; the
    horizontal stack has a residual connection after the first layer.

    Args:
        filters: channels of both stacks.
        kernel_size: k.
        first: the first layer (type-A mask on the horizontal stack, no residual).
        color_channels: colour channels of the image.
        num_classes: classes of the conditioning label, or None.
    """

    def __init__(self, filters, kernel_size=3, first=False, color_channels=1, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.first = filters, kernel_size, first
        self.color_channels, self.num_classes = color_channels, num_classes
        c, mask = color_channels, "A" if first else "B"
        self.vertical = MaskedConv2D(2 * filters, kernel_size, "V", color_channels=c)
        self.vertical_to_horizontal = MaskedConv2D(2 * filters, 1, "V", color_channels=c)
        self.horizontal = MaskedConv2D(2 * filters, (1, kernel_size), mask, color_channels=c, out_chunks=2)
        self.horizontal_out = MaskedConv2D(filters, 1, "B", color_channels=c, in_chunks=1)
        self.condition = keras.layers.Dense(4 * filters, use_bias=False) if num_classes else None

    def build(self, input_shape):
        v_shape, h_shape = input_shape[0], input_shape[1]
        self.vertical.build(v_shape)
        self.vertical_to_horizontal.build(tuple(v_shape[:-1]) + (2 * self.filters,))
        self.horizontal.build(h_shape)
        self.horizontal_out.build(tuple(h_shape[:-1]) + (self.filters,))
        if self.condition is not None:
            self.condition.build((None, self.num_classes))

    @staticmethod
    def _gate(x):
        a, b = tf.split(x, 2, axis=-1)
        return tf.tanh(a) * tf.sigmoid(b)

    def call(self, inputs, labels=None):
        v, h = inputs
        v_pre = self.vertical(v)
        # The horizontal stack only reads vertical features of the rows strictly above.
        h_pre = self.horizontal(h) + self.vertical_to_horizontal(_shift_down(v_pre))
        if self.condition is not None:
            embedding = self.condition(tf.one_hot(labels, self.num_classes))[:, None, None, :]
            v_bias, h_bias = tf.split(embedding, 2, axis=-1)
            v_pre, h_pre = v_pre + v_bias, h_pre + h_bias
        v_out = self._gate(v_pre)
        h_out = self.horizontal_out(self._gate(h_pre))
        return v_out, h_out if self.first else h + h_out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "first": self.first,
                "color_channels": self.color_channels,
                "num_classes": self.num_classes,
            }
        )
        return config


class _CachedGatedPixelCNN:
    """Gated PixelCNN at one pixel. The horizontal stacks run per pixel from caches of their inputs; the
    vertical stacks, whose row r reads row r up to its right end, run once per finished row and hand the
    next row its `vertical_to_horizontal` term."""

    def __init__(self, model, batch_size, labels):
        size = model.image_shape[:2]
        self.model, self.batch_size, self.num_pixels, self.width = model, batch_size, size[0] * size[1], size[1]
        self.horizontal = [cached.PixelConv(layer.horizontal, size) for layer in model.gated_layers]
        self.horizontal_out = [cached.PixelConv(layer.horizontal_out, size) for layer in model.gated_layers]
        self.vertical = [cached.RowConv(layer.vertical) for layer in model.gated_layers]
        self.vertical_to_horizontal = [cached.RowConv(layer.vertical_to_horizontal) for layer in model.gated_layers]
        self.head = [cached.PixelConv(layer, size) for layer in model.head]
        self.biases = [
            tf.split(layer.condition(tf.one_hot(labels, model.num_classes)), 2, axis=-1) if labels is not None else None
            for layer in model.gated_layers
        ]

    def _input_channels(self):
        return [self.model.color_channels] + [self.model.filters] * (len(self.model.gated_layers) - 1)

    def initial_state(self):
        filters, rows = self.model.filters, [v.rows - 1 for v in self.vertical]
        return {
            "horizontal": [cached.pixel_cache(self.batch_size, c, self.num_pixels) for c in self._input_channels()],
            "above": [tf.zeros([self.batch_size, r, self.width, c]) for r, c in zip(rows, self._input_channels())],
            "from_vertical": [
                tf.zeros([self.batch_size, self.width, 2 * filters]) + layer.vertical_to_horizontal.bias
                for layer in self.model.gated_layers
            ],
        }

    def row_start(self, state, row):
        # (width, batch, 2 * filters), so that a pixel reads its column with a slice of the leading axis.
        return [tf.transpose(v, [1, 0, 2]) for v in state["from_vertical"]]

    def pixel(self, state, row_state, position, column, center):
        h, inputs = center, []
        for i, layer in enumerate(self.model.gated_layers):
            inputs.append(h)
            pre = self.horizontal[i](h, state["horizontal"][i], position) + row_state[i][column]
            if self.biases[i] is not None:
                pre = pre + self.biases[i][1]
            out = self.horizontal_out[i](layer._gate(pre))
            h = out if layer.first else h + out
        h = self.head[0](cached.relu(h))
        return self.model._output_logits(self.head[1](cached.relu(h))), inputs[1:]

    def pixel_done(self, state, position, pixel, inputs):
        caches = [cache.write(position, value) for cache, value in zip(state["horizontal"], [pixel] + inputs)]
        return dict(state, horizontal=caches)

    def row_end(self, state, row, row_pixels):
        v, above, from_vertical = row_pixels, [], []
        for i, layer in enumerate(self.model.gated_layers):
            strip = tf.concat([state["above"][i], v[:, None]], axis=1)
            above.append(strip[:, 1:])
            pre = self.vertical[i](strip)
            from_vertical.append(self.vertical_to_horizontal[i](pre[:, None]))
            if self.biases[i] is not None:
                pre = pre + self.biases[i][0][:, None]
            v = layer._gate(pre)
        return dict(state, above=above, from_vertical=from_vertical)


@keras.saving.register_keras_serializable(package="zoo")
class GatedPixelCNN(AutoregressiveModel):
    """Gated PixelCNN: PixelCNN without the blind spot, with gated units and optional class conditioning.

    `p(x | y) = prod_i p(x_i | x_<i, y)` in raster order (R, G, B inside a pixel). `num_layers` gated layers
    of a vertical stack (rows above) and a horizontal stack (the row so far), combined so that every earlier
    pixel is in the receptive field, then two ReLU + 1x1 type-B layers to the logits.

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: int to condition on a class label, or None.
        num_levels: 2 (Bernoulli) to 256 (categorical over the levels). Default 2.
        filters: channels of each stack. Default 64.
        num_layers: gated layers. Default 6.
        kernel_size: k of the `k x k` vertical and `1 x k` horizontal convolutions. Default 3.
        first_kernel_size: k of the first layer's convolutions, which read the image itself; None (the
            default) uses `kernel_size`. A wider first layer widens the receptive field at little cost in
            parameters: 7 reaches as far as `PixelCNN`'s 7 x 7 first layer.
        output_filters: width of the 1x1 output layers. Default 64.
        seed: seed of sampling draws made without an explicit seed.

    Example:
        >>> model = GatedPixelCNN(image_shape=(28, 28, 1), num_classes=10)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> model.fit(binarized_images_and_labels, epochs=3)
        >>> model.sample(10, seed=0, labels=list(range(10)))

    References:
        van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu, "Conditional Image Generation
        with PixelCNN Decoders", NeurIPS 2016.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=None,
        num_levels=2,
        filters=64,
        num_layers=6,
        kernel_size=3,
        output_filters=64,
        seed=None,
        first_kernel_size=None,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, num_classes=num_classes, num_levels=num_levels, seed=seed, **kwargs)
        self.filters, self.num_layers = filters, num_layers
        self.kernel_size, self.output_filters = kernel_size, output_filters
        if first_kernel_size is not None and (
            not isinstance(first_kernel_size, int) or first_kernel_size < 1 or first_kernel_size % 2 == 0
        ):
            raise ValueError(f"`first_kernel_size` must be None or an odd positive int; got {first_kernel_size!r}.")
        self.first_kernel_size = first_kernel_size
        c = self.color_channels
        self.gated_layers = [
            GatedPixelCNNLayer(
                filters, (first_kernel_size or kernel_size) if i == 0 else kernel_size, first=i == 0,
                color_channels=c, num_classes=num_classes,
            )
            for i in range(num_layers)
        ]
        self.head = [
            MaskedConv2D(output_filters, 1, "B", color_channels=c, name="head_hidden"),
            MaskedConv2D(c * self.params_per_subpixel, 1, "B", color_channels=c, name="head_logits"),
        ]
        self._finish_build()

    def _logits(self, x, labels, training=False):
        v, h = x, x
        for layer in self.gated_layers:
            v, h = layer((v, h), labels=labels)
        h = self.head[0](tf.nn.relu(h))
        return self._output_logits(self.head[1](tf.nn.relu(h)))

    def _cached_sampler(self, batch_size, labels):
        return _CachedGatedPixelCNN(self, batch_size, labels)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "num_layers": self.num_layers,
                "kernel_size": self.kernel_size,
                "first_kernel_size": self.first_kernel_size,
                "output_filters": self.output_filters,
            }
        )
        return config
