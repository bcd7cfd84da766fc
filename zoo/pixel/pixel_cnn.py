"""PixelCNN: masked convolutions all the way down."""

import keras
import tensorflow as tf

from zoo.pixel import cached
from zoo.pixel.autoregressive import AutoregressiveModel
from zoo.pixel.masked import MaskedConv2D


class _CachedPixelCNN:
    """PixelCNN at one pixel: a cache of the image for the first convolution and one cache of every block's
    3x3 input side by side (the blocks share their taps, so one read and one write per pixel serve them all,
    which matters in a loop whose cost is mostly per-op overhead); 1x1 layers need none."""

    def __init__(self, model, batch_size):
        size = model.image_shape[:2]
        self.model, self.batch_size, self.num_pixels = model, batch_size, size[0] * size[1]
        self.first = cached.PixelConv(model.first, size)
        self.blocks = [[cached.PixelConv(layer, size) for layer in block] for block in model.blocks]
        self.head = [cached.PixelConv(layer, size) for layer in model.head]

    def initial_state(self):
        width = self.model.filters // 2
        return [
            cached.pixel_cache(self.batch_size, self.model.color_channels, self.num_pixels),
            cached.pixel_cache(self.batch_size, width * len(self.blocks), self.num_pixels),
        ]

    def row_start(self, state, row):
        return ()

    def pixel(self, state, row_state, position, column, center):
        h = self.first(center, state[0], position)
        width, block_inputs = self.model.filters // 2, []
        if self.blocks:
            neighbours = self.blocks[0][1].neighbours(state[1], position)  # (batch, taps, blocks * width)
        for i, (reduce, conv, expand) in enumerate(self.blocks):
            a = cached.relu(reduce(cached.relu(h)))
            block_inputs.append(a)
            h = h + expand(cached.relu(conv(a, neighbours=neighbours[:, :, i * width : (i + 1) * width])))
        h = self.head[0](cached.relu(h))
        return self.model._output_logits(self.head[1](cached.relu(h))), block_inputs

    def pixel_done(self, state, position, pixel, block_inputs):
        blocks = state[1].write(position, tf.concat(block_inputs, axis=-1)) if block_inputs else state[1]
        return [state[0].write(position, pixel), blocks]

    def row_end(self, state, row, row_pixels):
        return state


@keras.saving.register_keras_serializable(package="zoo")
class PixelCNN(AutoregressiveModel):
    """PixelCNN: a fully visible belief network whose conditionals come from masked convolutions.

    `p(x) = prod_i p(x_i | x_<i)` in raster order (R, G, B inside a pixel). A type-A masked
    `first_kernel_size` convolution (which cannot see the current sub-pixel), then `num_blocks` residual
    blocks `x + conv1x1_B(relu(conv3x3_B(relu(conv1x1_B(relu(x))))))` that halve and restore the width
    (paper, figure 5), then two ReLU + 1x1 type-B layers to the logits. Every pixel's conditional is computed
    in one pass, so training is parallel; sampling needs one pass per sub-pixel.

    The stacked 3x3 masks leave a blind spot: pixels above and to the right of the current one that no
    path reaches however deep the network (fixed by `GatedPixelCNN`).

    Args:
        image_shape: `(height, width, channels)`.
        num_classes: not supported (use `GatedPixelCNN` for a conditional model); must be None.
        num_levels: 2 (Bernoulli) to 256 (categorical over the levels). Default 2.
        filters: width of the residual stream (`2h` in the paper). Default 64.
        num_blocks: residual blocks. Default 5.
        first_kernel_size: size of the type-A first convolution. Default 7.
        kernel_size: size of the blocks' masked convolution. Default 3.
        output_filters: width of the 1x1 output layers. Default 64.
        seed: seed of sampling draws made without an explicit seed.

    Example:
        >>> model = PixelCNN(image_shape=(28, 28, 1), num_levels=2)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> model.fit(binarized_images, epochs=3)
        >>> model.log_prob(test_images)            # exact, nats per image
        >>> model.sample(16, seed=0)

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=None,
        num_levels=2,
        filters=64,
        num_blocks=5,
        first_kernel_size=7,
        kernel_size=3,
        output_filters=64,
        seed=None,
        **kwargs,
    ):
        if num_classes is not None:
            raise ValueError("PixelCNN is unconditional (num_classes=None); use GatedPixelCNN for class conditioning.")
        super().__init__(image_shape=image_shape, num_classes=None, num_levels=num_levels, seed=seed, **kwargs)
        if filters % 2 or filters < 2:
            raise ValueError(f"`filters` must be an even int >= 2 (blocks halve it); got {filters!r}.")
        self.filters = filters
        self.num_blocks = num_blocks
        self.first_kernel_size = first_kernel_size
        self.kernel_size = kernel_size
        self.output_filters = output_filters
        c = self.color_channels
        self.first = MaskedConv2D(filters, first_kernel_size, "A", color_channels=c, name="conv_a")
        self.blocks = [
            [
                MaskedConv2D(filters // 2, 1, "B", color_channels=c),
                MaskedConv2D(filters // 2, kernel_size, "B", color_channels=c),
                MaskedConv2D(filters, 1, "B", color_channels=c),
            ]
            for _ in range(num_blocks)
        ]
        self.head = [
            MaskedConv2D(output_filters, 1, "B", color_channels=c, name="head_hidden"),
            MaskedConv2D(c * self.params_per_subpixel, 1, "B", color_channels=c, name="head_logits"),
        ]
        self._finish_build()

    def _logits(self, x, labels, training=False):
        h = self.first(x)
        for reduce, conv, expand in self.blocks:
            h = h + expand(tf.nn.relu(conv(tf.nn.relu(reduce(tf.nn.relu(h))))))
        h = self.head[0](tf.nn.relu(h))
        return self._output_logits(self.head[1](tf.nn.relu(h)))

    def _cached_sampler(self, batch_size, labels):
        return _CachedPixelCNN(self, batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "num_blocks": self.num_blocks,
                "first_kernel_size": self.first_kernel_size,
                "kernel_size": self.kernel_size,
                "output_filters": self.output_filters,
            }
        )
        return config
