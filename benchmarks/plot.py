"""Line plots as PNG with PIL alone (learning curves for `RESULTS.md`), so the benchmarks need no matplotlib."""

import math
import os

from PIL import Image, ImageDraw, ImageFont

from zoo.utils import atomic

_LEGEND_WIDTH = 190  # Pixels right of the plot area in a `size`-wide image.

# Tableau's ten: series past the tenth reuse them.
_COLORS = (
    (31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75), (23, 190, 207),
    (127, 127, 127), (188, 189, 34), (227, 119, 194),
)


def _ticks(low, high, count=5):
    """About `count` round tick values covering [low, high]."""
    if high <= low:
        high = low + 1.0
    step = 10 ** math.floor(math.log10((high - low) / count))
    for multiple in (1, 2, 5, 10):
        if (high - low) / (step * multiple) <= count:
            step *= multiple
            break
    first = math.floor(low / step) * step
    return [first + i * step for i in range(int(math.ceil((high - first) / step)) + 1)]


def line_plot(path, series, title, xlabel, ylabel, size=(720, 440)):
    """Writes a line plot of `series` to `path` and returns `path`.

    Args:
        path: the PNG to write.
        series: `{label: [(x, y), ...]}`; each series is a coloured line with dots, named in the legend.
        title, xlabel, ylabel: text of the plot.
        size: `(width, height)` in pixels; wider by what a legend label longer than about 25 characters needs.
    """
    points = [p for values in series.values() for p in values if p[1] is not None and math.isfinite(p[1])]
    if not points:
        raise ValueError("`series` holds no finite points to plot.")
    font = ImageFont.load_default()
    # The legend's column is as wide as its longest label, so that no name is cut off at the image's edge.
    right = max(_LEGEND_WIDTH, math.ceil(max(font.getlength(str(label)) for label in series)) + 46)
    left, top, bottom = 70, 36, 50
    width, height = size[0] + right - _LEGEND_WIDTH, size[1]
    x_ticks = _ticks(min(p[0] for p in points), max(p[0] for p in points))
    y_ticks = _ticks(min(p[1] for p in points), max(p[1] for p in points))
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def to_pixel(x, y):
        return (left + (x - x0) / (x1 - x0) * (width - left - right),
                height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom))

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 10), title, fill="black", font=font)
    for x in x_ticks:
        px, _ = to_pixel(x, y0)
        draw.line([(px, top), (px, height - bottom)], fill=(230, 230, 230))
        draw.text((px - 8, height - bottom + 6), f"{x:g}", fill="black", font=font)
    for y in y_ticks:
        _, py = to_pixel(x0, y)
        draw.line([(left, py), (width - right, py)], fill=(230, 230, 230))
        draw.text((6, py - 6), f"{y:g}", fill="black", font=font)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    draw.text(((left + width - right) // 2 - 20, height - 22), xlabel, fill="black", font=font)
    draw.text((6, top - 20), ylabel, fill="black", font=font)
    for i, (label, values) in enumerate(series.items()):
        color = _COLORS[i % len(_COLORS)]
        pixels = [to_pixel(x, y) for x, y in values if y is not None and math.isfinite(y)]
        if len(pixels) > 1:
            draw.line(pixels, fill=color, width=2)
        for px, py in pixels:
            draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=color)
        ly = top + 14 * i
        draw.line([(width - right + 10, ly + 6), (width - right + 30, ly + 6)], fill=color, width=3)
        draw.text((width - right + 36, ly), label, fill="black", font=font)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic.destination(path) as tmp:
        image.save(tmp)
    return path
