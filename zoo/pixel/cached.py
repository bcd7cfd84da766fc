"""Building blocks of cached autoregressive generation (Ramachandran et al., 2017).

The naive sampler reruns the whole network over the whole image once per sub-pixel. A cached sampler keeps,
for every layer that looks at neighbouring pixels, the inputs it has already seen, and computes each layer's
output only at the pixel being generated: a masked convolution at one pixel is one small matrix product of
the few causal taps of its kernel with the cached inputs under them.

Cache layout, chosen for TensorFlow on CPU: one `tf.TensorArray` per cached layer input, with one
`(batch, channels)` slot per pixel in raster order plus one extra slot that stays zero and stands for every
tap outside the image. A pixel's taps are then one `gather` of constant slot indices (a table computed once
per image shape), and storing a new pixel is an O(1) `write`: no padded activation tensor is copied or
updated in the loop, which is what makes the per-pixel step cost independent of the image size. (Measured on
2 CPU cores, PixelCNN at batch 64: the same caches as dense `(pixels + 1, batch, channels)` tensors updated
with `tf.tensor_scatter_nd_update` instead, sample 6.3x slower.) What remains is
mostly per-op overhead, so layers with the same taps share one cache and one read where they can. Layers whose
outputs at a row depend on pixels to the right (the vertical stack of the Gated PixelCNN, the state-to-state
convolution of the Row LSTM) are computed once per row instead, on a strip of the rows they read.
"""

import numpy as np
import tensorflow as tf

from zoo.pixel.masked import causal_mask


def relu(x):
    """`tf.nn.relu` for the per-pixel steps.

    Grappler's remapper fails on a Relu that follows MatMul + BiasAdd + Add inside nested while loops
    (and then skips its other fusions); `maximum` computes the same values and is left alone.
    """
    return tf.maximum(x, 0.0)


def pixel_cache(batch_size, channels, num_pixels):
    """A cache of one layer input: `num_pixels` slots of `(batch, channels)` and a last slot of zeros."""
    cache = tf.TensorArray(
        tf.float32, size=num_pixels + 1, element_shape=tf.TensorShape([None, channels]), clear_after_read=False
    )
    return cache.write(num_pixels, tf.zeros([batch_size, channels]))


def _masked_kernel(layer):
    mask = causal_mask(
        layer.kernel_size, int(layer.kernel.shape[2]), layer.filters, layer.mask_type, layer.color_channels,
        layer.in_chunks, layer.out_chunks,
    )
    return mask, layer.kernel * mask


class PixelConv:
    """A `MaskedConv2D` evaluated at a single pixel from a `pixel_cache` of its input.

    Only the taps whose mask is not all zero are read: the causal neighbours (rows above, and the pixels to
    the left on the current row) come from the cache; the centre tap, when the mask keeps it, comes from the
    caller, because the current pixel's input is still being computed.

    Args:
        layer: a built `MaskedConv2D` with mask "A" or "B".
        image_size: `(height, width)` of the image.
    """

    def __init__(self, layer, image_size):
        if layer.mask_type not in ("A", "B"):
            raise ValueError(f"PixelConv needs a causal mask 'A' or 'B'; got {layer.mask_type!r}.")
        height, width = image_size
        mask, kernel = _masked_kernel(layer)
        kh, kw = layer.kernel_size
        ch, cw = kh // 2, kw // 2
        self.taps = [
            (i - ch, j - cw) for i in range(kh) for j in range(kw) if (i, j) != (ch, cw) and mask[i, j].any()
        ]
        self.use_center = bool(mask[ch, cw].any())
        self.filters = layer.filters
        self.neighbour_width = len(self.taps) * int(layer.kernel.shape[2])
        self.bias = layer.bias
        rows = [kernel[i + ch, j + cw] for i, j in self.taps] + ([kernel[ch, cw]] if self.use_center else [])
        self.kernel = tf.concat(rows, axis=0) if rows else None
        if self.taps:
            table = np.full((height * width, len(self.taps)), height * width, np.int32)
            for position in range(height * width):
                row, col = divmod(position, width)
                for t, (dr, dc) in enumerate(self.taps):
                    if 0 <= row + dr < height and 0 <= col + dc < width:
                        table[position, t] = (row + dr) * width + col + dc
            self.table = tf.constant(table)

    def neighbours(self, cache, position):
        """The cached inputs under the causal taps at `position`, `(batch, taps, channels)`."""
        return tf.transpose(cache.gather(self.table[position]), [1, 0, 2])

    def __call__(self, center, cache=None, position=None, neighbours=None):
        """Output `(batch, filters)` at `position` from the cached inputs and the current pixel's `center`.

        `neighbours` (from `neighbours`) replaces the read of `cache` when several layers with the same taps
        share one cache and one read.
        """
        parts = []
        if self.taps:
            neighbours = self.neighbours(cache, position) if neighbours is None else neighbours
            # A constant shape: `tf.shape` here ran per layer and pixel when the batch is symbolic (an export).
            parts.append(tf.reshape(neighbours, [-1, self.neighbour_width]))
        if self.use_center:
            parts.append(center)
        if parts:
            outputs = tf.matmul(parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1), self.kernel)
        else:
            outputs = tf.zeros([tf.shape(center)[0], self.filters])
        return outputs if self.bias is None else tf.nn.bias_add(outputs, self.bias)


class RowConv:
    """A `MaskedConv2D` whose mask keeps no tap below the centre row, evaluated on one row of the image.

    The output at row `r` reads the input rows `r - kh // 2 .. r`, which the caller passes as a strip
    `(batch, kh // 2 + 1, width, channels)`; the kernel rows below the centre are zero under the mask and
    are dropped.

    Args:
        layer: a built `MaskedConv2D` (any mask type).
    """

    def __init__(self, layer):
        mask, kernel = _masked_kernel(layer)
        kh, kw = layer.kernel_size
        if mask[kh // 2 + 1 :].any():
            raise ValueError("RowConv needs a mask without taps below the centre row.")
        self.rows = kh // 2 + 1
        self.pad = kw // 2
        self.kernel = kernel[: self.rows]
        self.bias = layer.bias

    def __call__(self, strip):
        """`(batch, width, filters)` of the strip's last row."""
        padded = tf.pad(strip, [[0, 0], [0, 0], [self.pad, self.pad], [0, 0]])
        outputs = tf.nn.conv2d(padded, self.kernel, strides=1, padding="VALID")[:, 0]
        return outputs if self.bias is None else tf.nn.bias_add(outputs, self.bias)

