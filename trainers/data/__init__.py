"""Input pipelines: any TFDS image dataset as batched `tf.data`, preprocessed the way each family needs.

Example:
    >>> from trainers import data
    >>> prep = data.Preprocessing(kind="levels", num_levels=2)  # binarized, for a VAE or a PixelCNN
    >>> ds = data.load("fashion_mnist", "train", prep, batch_size=64, seed=0)
    >>> images = next(iter(ds))  # int32, shape (64, 28, 28, 1), values in {0, 1}

Offline, `fashion_mnist` is prepared once from Debian's `dataset-fashion-mnist` files (see
`trainers.local_fashion_mnist`) into the ordinary TFDS data directory; every other dataset, or any dataset
already prepared, goes through plain `tfds`.

One module per job: `preprocessing` (uint8 images to model inputs), `sources` (TFDS preparation, offline
first), `records` (the fast TFRecord reader and the decoded split kept for later pipelines), `paired` (`load`:
images, or images and labels) and `unpaired` (`load_unpaired`: two domains for image translation). Everything
public is importable from `trainers.data` itself.
"""

from trainers.data.paired import example_batch, load, split_size, unit_images
from trainers.data.preprocessing import Preprocessing
from trainers.data.sources import DataUnavailableError, builder, image_shape, num_classes
from trainers.data.unpaired import DEFAULT_DOMAINS, load_unpaired, resolve_domains

__all__ = [
    "DEFAULT_DOMAINS",
    "DataUnavailableError",
    "Preprocessing",
    "builder",
    "example_batch",
    "image_shape",
    "load",
    "load_unpaired",
    "num_classes",
    "resolve_domains",
    "split_size",
    "unit_images",
]
