"""Image grids: tile a batch of images into one picture and write it as PNG."""

import math
import os

import numpy as np
from PIL import Image

from zoo.utils import atomic


def make_grid(images, num_cols=None, padding=1, pad_value=1.0):
    """Tiles images into one array.

    Args:
        images: array of shape `(n, height, width, channels)` with floats in [0, 1] (channels 1 or 3).
        num_cols: images per row; default: the smallest square that fits `n`.
        padding: pixels between tiles.
        pad_value: grey level of the padding, in [0, 1].

    Returns:
        uint8 array of shape `(rows * (h + p) + p, cols * (w + p) + p, channels)`.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"`images` must have shape (n, height, width, 1 or 3); got {images.shape}.")
    n, h, w, c = images.shape
    if n == 0:
        raise ValueError("`images` is empty: nothing to put in a grid.")
    num_cols = num_cols or int(math.ceil(math.sqrt(n)))
    num_rows = int(math.ceil(n / num_cols))
    grid = np.full(
        (num_rows * (h + padding) + padding, num_cols * (w + padding) + padding, c), pad_value, np.float32
    )
    for i, image in enumerate(images):
        row, col = divmod(i, num_cols)
        top, left = padding + row * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = image
    return np.round(np.clip(grid, 0.0, 1.0) * 255.0).astype(np.uint8)


def save_grid(path, images, num_cols=None, scale=1):
    """Writes `images` (floats in [0, 1], shape `(n, h, w, c)`) as a PNG grid at `path`; returns `path`.

    `scale` enlarges each pixel to a `scale x scale` block so small images stay readable.
    """
    grid = make_grid(images, num_cols=num_cols)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic.destination(path) as tmp:
        Image.fromarray(grid).save(tmp)
    return path
