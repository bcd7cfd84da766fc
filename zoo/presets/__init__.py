"""Pretrained presets: zoo models trained on this machine, shipped as verified weights files that load by name.

    >>> import zoo
    >>> zoo.list_presets()                                # name, data, training command, metrics, size
    >>> dcgan = zoo.load("dcgan_fashion_mnist")
    >>> vae = VAE.from_preset("fashion_mnist")            # the same, from the class

Each preset is a Keras `.weights.h5` file and a JSON manifest with its SHA-256, constructor config, metrics
and provenance (`zoo/presets/weights/`; the evaluation classifier's pair stays in `zoo/classifier/weights/`).
Gallery figures are in `zoo/presets/figures/`; `python -m trainers.make_presets` rebuilds all of it from
trained work directories, and `python -m zoo.presets` prints the table of presets.
"""

from zoo.presets.errors import PresetError, WeightsChecksumError
from zoo.presets.mixin import PresetMixin
from zoo.presets.preset import Preset, sha256_of_file
from zoo.presets.registry import (
    PRESETS_DIR,
    SEARCH_DIRS,
    available_presets,
    get_preset,
    list_presets,
    load,
    presets_table,
)

__all__ = [
    "PRESETS_DIR",
    "SEARCH_DIRS",
    "Preset",
    "PresetError",
    "PresetMixin",
    "WeightsChecksumError",
    "available_presets",
    "get_preset",
    "list_presets",
    "load",
    "presets_table",
    "sha256_of_file",
]
