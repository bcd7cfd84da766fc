"""Cached sampling of PixelCNN++ (Ramachandran et al., 2017): every activation computed once, when it is final.

Each activation of the network has a time at which it becomes final during raster-order generation, and is
computed exactly then:

- The vertical stack at row r of resolution level l (stride 2**l) reads only image rows above 2**l * r, so
  it is computed a whole row at a time (all blocks, down and up pass), when fine row 2**l * r starts. Each
  vertical convolution keeps the few input rows above it reads; the stride-2 convolution reads the last two
  rows of the finer level, the transposed one the current row of the coarser level.
- The horizontal stack at pixel (p, q) of level l reads pixels before fine pixel (2**l p, 2**l q), so it is
  computed at that pixel, before the pixel is drawn: level 0 at every pixel, level l inside a `tf.cond` at
  pixels whose row and column are multiples of 2**l (down pass from fine to coarse, then up pass back). Its
  convolutions are small matrix products of the few cached taps (one `zoo.pixel.cached`-style
  `TensorArray` per level holding every block's convolution inputs side by side, one read and one write
  per pixel) and the current pixel's input; the stride-2 convolution reads the finer level's cache, the
  transposed one the coarser level's value at (p // 2, q // 2) with the kernel tap (p % 2, q % 2).
- Parts of a horizontal block that read the vertical stack (the skip projections) are computed with the row.

The network output at a pixel does not depend on the pixel itself; only the mixture's posterior weights do
(`PixelCNNPlusPlus._mixture_params`). So the network runs once per pixel and its output is reused for each
colour channel.

Measured while building it (2 shared cores, sequential runs, so rough): drawing each sub-pixel directly (a
component, then one logistic) instead of `MixtureSameFamily.sample` took `sample(16)` of the reference config
from 4.0 s to 2.7 s; not converting these methods with AutoGraph halved the first call's tracing (22 s to 12 s
for a tiny model). The side-by-side numbers are in `benchmarks/RESULTS.md` (`benchmarks.pixel_cnn_pp_benchmark`).
"""

import numpy as np
import tensorflow as tf

from zoo.pixel import cached
from zoo.pixel.pixel_cnn_pp_layers import concat_elu


class TapConv:
    """A stride-1 or stride-2 `ShiftedConv2D` at one output pixel, from a cache of its input on a grid.

    Taps at offset (0, 0) from `(stride * p, stride * q)` read the caller's `center` (the input being
    computed at this step); every other tap reads the cache slot given by a constant table (the last slot,
    zeros, outside the grid).

    Args:
        layer: a built `ShiftedConv2D`.
        in_size: `(height, width)` of its input grid.
    """

    def __init__(self, layer, in_size):
        offsets = layer.offsets(in_size)
        stride = layer.strides
        taps = [(offsets[0] + i, offsets[1] + j, i, j) for i in range(layer.taps[0]) for j in range(layer.taps[1])]
        for dr, dc, _, _ in taps:
            if dr > 0 or (dr == 0 and dc > 0):
                raise ValueError(f"Tap {(dr, dc)} of {layer.name} is not causal.")
        self.neighbours = [(dr, dc) for dr, dc, _, _ in taps if (dr, dc) != (0, 0)]
        centre = [(i, j) for dr, dc, i, j in taps if (dr, dc) == (0, 0)]
        rows = [layer.kernel[i, j] for dr, dc, i, j in taps if (dr, dc) != (0, 0)]
        self.use_center = bool(centre)
        rows += [layer.kernel[centre[0]]] if centre else []
        self.kernel = tf.concat(rows, axis=0)
        self.bias = layer.bias
        height, width = in_size
        out_h, out_w = layer.output_size(in_size)
        table = np.full((out_h * out_w, max(len(self.neighbours), 1)), height * width, np.int32)
        for position in range(out_h * out_w):
            p, q = divmod(position, out_w)
            for t, (dr, dc) in enumerate(self.neighbours):
                r, c = stride[0] * p + dr, stride[1] * q + dc
                if 0 <= r < height and 0 <= c < width:
                    table[position, t] = r * width + c
        self.table = tf.constant(table)
        self.neighbour_width = table.shape[1] * int(layer.kernel.shape[2])

    def read(self, cache, position):
        """The cached inputs under the taps at output `position`, `(batch, taps, channels)`."""
        return tf.transpose(cache.gather(self.table[position]), [1, 0, 2])

    def __call__(self, neighbours, center=None):
        # A constant shape: `tf.shape` here ran per layer and pixel when the batch is symbolic (an export).
        parts = [tf.reshape(neighbours, [-1, self.neighbour_width])] + ([center] if self.use_center else [])
        return tf.nn.bias_add(tf.matmul(tf.concat(parts, axis=-1), self.kernel), self.bias)


def _gate(x):
    a, b = tf.split(x, 2, axis=-1)
    return a * tf.sigmoid(b)


def _strip(layer, buffer, row):
    """`layer` on the rows of `buffer` (the rows above) and `row`; returns the output row and the new buffer."""
    strip = tf.concat([buffer, row[:, None]], axis=1)
    return layer.call_on_rows(strip), strip[:, 1:]


class CachedPixelCNNPlusPlus:
    """The per-pixel step of `PixelCNNPlusPlus`'s cached sampler (see the module docstring)."""

    def __init__(self, model, batch_size, labels):
        self.model, self.batch_size = model, batch_size
        height, width, _ = model.image_shape
        self.levels = model.num_hierarchies
        self.sizes = [(height // 2**l, width // 2**l) for l in range(self.levels)]
        self.width = width
        f = model.num_filters
        self.filters = f
        cv = model._class_vector(labels)
        # Level l's down blocks are model.down_blocks[l], its up blocks model.up_blocks[levels - 1 - l].
        self.down = [model.down_blocks[l] for l in range(self.levels)]
        self.up = [model.up_blocks[self.levels - 1 - l] for l in range(self.levels)]
        self.projections = {}
        for blocks in self.down + self.up:
            for pair in blocks:
                for block in pair:
                    if block.class_projection is not None:
                        self.projections[id(block)] = block.class_projection(cv)
        self.h_up_init = TapConv(model.horizontal_up_init, self.sizes[0])
        self.h_left_init = TapConv(model.horizontal_left_init, self.sizes[0])
        self.block_conv = []  # Per level: the TapConvs of every horizontal block, down then up, conv_1, conv_2.
        for l in range(self.levels):
            convs = []
            for pair in self.down[l] + self.up[l]:
                convs += [TapConv(pair[1].conv_1, self.sizes[l]), TapConv(pair[1].conv_2, self.sizes[l])]
            self.block_conv.append(convs)
        self.h_downsample = [TapConv(model.downsamples[l][1], self.sizes[l]) for l in range(self.levels - 1)]
        # The transposed convolution from level l + 1 to level l: kernel tap (p % 2, q % 2) of the value at
        # (p // 2, q // 2) (2 x 2 taps at offset 0 for every receptive field, see `stack_geometry`).
        self.h_upsample = []
        for l in range(self.levels - 1):
            layer = model.upsamples[self.levels - 2 - l][1]
            if layer.taps != (2, 2) or layer.offsets(self.sizes[l + 1]) != (0, 0):
                raise ValueError("The horizontal up-sampling must be 2 x 2 taps at offset 0.")
            kernel = tf.transpose(layer.kernel, [0, 1, 3, 2])  # (2, 2, in, out)
            self.h_upsample.append((tf.reshape(kernel, [4, f, f]), layer.bias))
        # The skip of a horizontal up block reads concat_elu([v, h]) = elu([v, h, -v, -h]): the v rows of its
        # kernel go with the vertical row, the h rows with the pixel.
        self.up_skip_h = [
            [tf.concat([pair[1].skip_dense.kernel[f : 2 * f], pair[1].skip_dense.kernel[3 * f :]], axis=0)
             for pair in self.up[l]]
            for l in range(self.levels)
        ]
        self._memo = None

    # Vertical stack, a row at a time.
    def _vertical_block(self, block, buffers, v, skip=None):
        c, first = _strip(block.conv_1, buffers[0], concat_elu(v))
        if skip is not None:
            c = c + block.skip_dense(concat_elu(skip))
        c, second = _strip(block.conv_2, buffers[1], concat_elu(c))
        if id(block) in self.projections:
            c = c + self.projections[id(block)][:, None]
        return v + _gate(c), [first, second]

    @tf.autograph.experimental.do_not_convert
    def _vertical(self, state, l, row_l):
        """Level `l`'s vertical row `row_l` (down pass, the coarser levels if aligned, up pass); returns the
        new state of levels >= l."""
        model, f = self.model, self.filters
        new = {key: list(value) if isinstance(value, list) else value for key, value in state.items()}
        if l == 0:
            v = model.vertical_init.call_on_rows(state["image_rows"])
        else:
            v = model.downsamples[l - 1][0].call_on_rows(state["v_down_final"][l - 1])
        vs, skips, buffers = [v], [], list(state["v_buffers"][l])
        k = 0
        for pair in self.down[l]:
            v, buffers[k : k + 2] = self._vertical_block(pair[0], buffers[k : k + 2], v)
            k += 2
            vs.append(v)
            skips.append(tf.transpose(pair[1].skip_dense(concat_elu(v)), [1, 0, 2]))
        if l < self.levels - 1:
            new["v_down_final"][l] = tf.concat([state["v_down_final"][l][:, 1:], v[:, None]], axis=1)
            aligned = tf.equal(row_l % 2, 0)
            new = tf.cond(aligned, lambda: self._vertical(new, l + 1, row_l // 2), lambda: new)
            upsample = model.upsamples[self.levels - 2 - l][0]
            rows = upsample(new["v_up_final"][l + 1][:, None])  # (batch, 2, width, filters)
            v = tf.gather(rows, row_l % 2, axis=1)
        else:
            v = vs.pop()
        up_skips = []
        for pair in self.up[l]:
            v, buffers[k : k + 2] = self._vertical_block(pair[0], buffers[k : k + 2], v, skip=vs.pop())
            k += 2
            dense = pair[1].skip_dense
            up_skips.append(tf.transpose(tf.nn.bias_add(
                tf.matmul(concat_elu(v), tf.concat([dense.kernel[:f], dense.kernel[2 * f : 3 * f]], axis=0)),
                dense.bias), [1, 0, 2]))
        new["v_buffers"][l] = buffers
        new["down_skips"][l] = skips
        new["up_skips"][l] = up_skips
        if l > 0:
            new["v_up_final"][l] = v
        return new

    @tf.autograph.experimental.do_not_convert
    def initial_state(self):
        model, f, b = self.model, self.filters, self.batch_size
        rows = model.receptive_field_dims[0]
        num_slots = [h * w for h, w in self.sizes]
        state = {
            "image_rows": tf.zeros([b, rows - 1, self.width, model.color_channels]),
            "v_buffers": [
                [tf.zeros([b, rows - 2, w, 2 * f])] * (2 * (len(self.down[l]) + len(self.up[l])))
                for l, (h, w) in enumerate(self.sizes)
            ],
            "v_down_final": [tf.zeros([b, rows - 1, w, f]) for h, w in self.sizes[:-1]],
            "v_up_final": [tf.zeros([b, w, f]) for h, w in self.sizes],
            "down_skips": [[tf.zeros([w, b, f])] * len(self.down[l]) for l, (h, w) in enumerate(self.sizes)],
            "up_skips": [[tf.zeros([w, b, f])] * len(self.up[l]) for l, (h, w) in enumerate(self.sizes)],
            "image": cached.pixel_cache(b, model.color_channels, num_slots[0]),
            "h_inputs": [
                cached.pixel_cache(b, 2 * f * len(self.block_conv[l]), num_slots[l]) for l in range(self.levels)
            ],
            "h_down_final": [cached.pixel_cache(b, f, num_slots[l]) for l in range(self.levels - 1)],
            "h_up_final": [cached.pixel_cache(b, f, num_slots[l]) for l in range(1, self.levels)],
        }
        return self._vertical(state, 0, tf.constant(0))

    def row_start(self, state, row):
        return ()

    @tf.autograph.experimental.do_not_convert
    def row_end(self, state, row, row_pixels):
        image_rows = tf.concat([state["image_rows"][:, 1:], (2.0 * row_pixels - 1.0)[:, None]], axis=1)
        state = dict(state, image_rows=image_rows)
        height = self.sizes[0][0]
        return tf.cond(row + 1 < height, lambda: self._vertical(state, 0, row + 1), lambda: state)

    # Horizontal stack, a pixel at a time.
    def _horizontal_block(self, l, index, block, neighbours, h, skip):
        width = 2 * self.filters
        convs = self.block_conv[l]
        a = concat_elu(h)
        c = convs[2 * index](neighbours[:, :, 2 * index * width : (2 * index + 1) * width], a) + skip
        b = concat_elu(c)
        c = convs[2 * index + 1](neighbours[:, :, (2 * index + 1) * width : (2 * index + 2) * width], b)
        if id(block) in self.projections:
            c = c + self.projections[id(block)]
        return h + _gate(c), [a, b]

    @tf.autograph.experimental.do_not_convert
    def _horizontal(self, state, l, p, q, h):
        """Level `l`'s horizontal stack at `(p, q)` from its input `h`, and the coarser levels if aligned.

        Returns the final up-pass value and the new caches of levels >= l.
        """
        position = p * self.sizes[l][1] + q
        neighbours = self.block_conv[l][0].read(state["h_inputs"][l], position)
        new = {key: list(state[key]) for key in ("h_inputs", "h_down_final", "h_up_final")}
        hs, inputs = [h], []
        for i, pair in enumerate(self.down[l]):
            h, block_inputs = self._horizontal_block(l, i, pair[1], neighbours, h, state["down_skips"][l][i][q])
            hs.append(h)
            inputs += block_inputs
        if l < self.levels - 1:
            new["h_down_final"][l] = state["h_down_final"][l].write(position, h)
            down = self.h_downsample[l]
            aligned = tf.logical_and(tf.equal(p % 2, 0), tf.equal(q % 2, 0))

            def coarser():
                centre = h
                value = down(down.read(new["h_down_final"][l], (p // 2) * self.sizes[l + 1][1] + q // 2), centre)
                return self._horizontal(dict(state, **new), l + 1, p // 2, q // 2, value)[1]

            new = tf.cond(aligned, coarser, lambda: new)
            kernel, bias = self.h_upsample[l]
            source = new["h_up_final"][l].read((p // 2) * self.sizes[l + 1][1] + q // 2)
            h = tf.nn.bias_add(tf.matmul(source, tf.gather(kernel, (p % 2) * 2 + q % 2)), bias)
        else:
            h = hs.pop()
        offset = len(self.down[l])
        for i, pair in enumerate(self.up[l]):
            skip = state["up_skips"][l][i][q] + tf.matmul(concat_elu(hs.pop()), self.up_skip_h[l][i])
            h, block_inputs = self._horizontal_block(l, offset + i, pair[1], neighbours, h, skip)
            inputs += block_inputs
        new["h_inputs"][l] = new["h_inputs"][l].write(position, tf.concat(inputs, axis=-1))
        if l > 0:
            new["h_up_final"][l - 1] = new["h_up_final"][l - 1].write(position, h)
        return h, new

    @tf.autograph.experimental.do_not_convert
    def pixel(self, state, row_state, position, column, center):
        # The network output at a pixel does not read the pixel: computed once, reused for every channel.
        if self._memo is None or self._memo[0] is not position:
            row = position // self.width
            image = state["image"]
            h = self.h_up_init(self.h_up_init.read(image, position)) + self.h_left_init(
                self.h_left_init.read(image, position)
            )
            h, caches = self._horizontal(state, 0, row, column, h)
            raw = self.model.output_dense(tf.nn.elu(h))
            self._memo = (position, raw, caches)
        _, raw, caches = self._memo
        return self.model._mixture_params(raw[:, None], center[:, None])[:, 0], caches

    @tf.autograph.experimental.do_not_convert
    def pixel_done(self, state, position, pixel, caches):
        return dict(state, image=state["image"].write(position, 2.0 * pixel - 1.0), **caches)
