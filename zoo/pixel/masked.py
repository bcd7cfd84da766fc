"""Masked convolutions: the building block that makes a convolutional network autoregressive."""

import keras
import numpy as np
import tensorflow as tf

MASK_TYPES = ("A", "B", "V")


def channel_groups(num_channels, color_channels, chunks=1):
    """Colour group (0 = R, 1 = G, 2 = B for RGB) of each of `num_channels` feature channels.

    The channels are `chunks` equal blocks (e.g. the four LSTM gates); inside a block, channel `k` of `n`
    belongs to group `k * color_channels // n`. An image's own channels are one group each, and a final
    layer's `color_channels * K` outputs split into consecutive blocks of `K`, one per colour.
    """
    per_chunk = num_channels // chunks
    return (np.arange(num_channels) % per_chunk) * color_channels // per_chunk


def causal_mask(kernel_size, in_channels, out_channels, mask_type, color_channels=1, in_chunks=1, out_chunks=1):
    """The constant 0/1 mask of a masked convolution kernel, shape `(kh, kw, in_channels, out_channels)`.

    Raster order with colour order inside a pixel (van den Oord et al., 2016): a kernel tap may read a
    pixel above the centre row, or left of the centre on the centre row. At the centre tap itself, output
    group `g_out` may read input group `g_in` if `g_out > g_in` (type "A": the first layer, which must not
    see the current value) or `g_out >= g_in` (type "B": later layers, whose inputs at the current pixel
    already exclude it). Type "V" is the vertical stack of the Gated PixelCNN: every tap on or above the
    centre row, whose output only ever reaches later pixels after a one-row shift.
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f"`mask_type` must be one of {MASK_TYPES}; got {mask_type!r}.")
    kh, kw = kernel_size
    ch, cw = kh // 2, kw // 2
    mask = np.zeros((kh, kw, in_channels, out_channels), np.float32)
    if mask_type == "V":
        mask[: ch + 1] = 1.0
        return mask
    mask[:ch] = 1.0
    mask[ch, :cw] = 1.0
    g_in = channel_groups(in_channels, color_channels, in_chunks)[:, None]
    g_out = channel_groups(out_channels, color_channels, out_chunks)[None, :]
    mask[ch, cw] = (g_out > g_in) if mask_type == "A" else (g_out >= g_in)
    return mask


@keras.saving.register_keras_serializable(package="zoo")
class MaskedConv2D(keras.layers.Layer):
    """A 2-D convolution whose kernel is multiplied by a constant causal mask in every call.

    The mask is a constant, not a weight and not a constraint, so it holds from the first call, under any
    optimizer, and after loading. See `causal_mask` for the mask types. The taps the mask zeroes for every
    channel (the rows below the centre, and on a one-row kernel the columns right of it) are cut from the
    kernel in the call, and the input is padded on the causal sides instead: the same outputs without
    their products (a fifth of PixelCNN's and the Row LSTM's forward FLOPs).

    Args:
        filters: output channels.
        kernel_size: int or `(kh, kw)`, odd sizes.
        mask_type: "A", "B" or "V".
        color_channels: colour channels of the image (1 or 3) whose order the centre tap respects.
        in_chunks, out_chunks: equal blocks of channels with the same colour grouping (e.g. 4 LSTM gates).
        use_bias: add a bias.
        kernel_initializer: Keras initializer of the kernel.

    Example:
        >>> layer = MaskedConv2D(64, 7, mask_type="A")
        >>> features = layer(tf.zeros([2, 28, 28, 1]))

    References:
        van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016, section 3.4.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        mask_type="B",
        color_channels=1,
        in_chunks=1,
        out_chunks=1,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        kernel_size = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if any(k % 2 == 0 or k < 1 for k in kernel_size):
            raise ValueError(f"`kernel_size` must be odd; got {kernel_size}.")
        if mask_type not in MASK_TYPES:
            raise ValueError(f"`mask_type` must be one of {MASK_TYPES}; got {mask_type!r}.")
        self.filters = int(filters)
        self.kernel_size = kernel_size
        self.mask_type = mask_type
        self.color_channels = int(color_channels)
        self.in_chunks = int(in_chunks)
        self.out_chunks = int(out_chunks)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=self.kernel_size + (in_channels, self.filters), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None
        self.mask = tf.constant(
            causal_mask(
                self.kernel_size, in_channels, self.filters, self.mask_type, self.color_channels,
                self.in_chunks, self.out_chunks,
            )
        )

    def _live_taps(self):
        """`(rows, columns)` of the kernel's top-left block that holds every tap the mask keeps."""
        kh, kw = self.kernel_size
        one_row = kh == 1 and self.mask_type != "V"
        return kh // 2 + 1, kw // 2 + 1 if one_row else kw

    def call(self, inputs):
        (kh, kw), (rows, columns) = self.kernel_size, self._live_taps()
        kernel = self.kernel * self.mask
        if (rows, columns) != (kh, kw):
            kernel = tf.slice(kernel, [0, 0, 0, 0], [rows, columns, -1, -1])
        # `tf.pad` and a VALID convolution: a convolution with explicit padding took 1.5x as long on CPU.
        padding = [[0, 0], [rows - 1, 0], [kw // 2, columns - 1 - kw // 2], [0, 0]]
        if rows > 1 or columns > 1:
            inputs = tf.pad(inputs, padding)
        outputs = tf.nn.conv2d(inputs, kernel, strides=1, padding="VALID")
        # `bias_add`, not `+`: its gradient (`BiasAddGrad`) was 1.7x faster than the broadcast's `Sum` on CPU.
        return tf.nn.bias_add(outputs, self.bias) if self.use_bias else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "mask_type": self.mask_type,
                "color_channels": self.color_channels,
                "in_chunks": self.in_chunks,
                "out_chunks": self.out_chunks,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
