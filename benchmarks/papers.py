"""The papers' test likelihoods that the zoo's equal-epoch rankings are set beside.

No paper reports Fashion-MNIST, so the numbers are there for their ranking, not to be matched: binarized MNIST in
nats per image for our 2-level runs, CIFAR-10 in bits/dim for our 256-level runs.

- van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", 2016: table 4 (binarized MNIST)
  and table 5 (CIFAR-10).
- van den Oord et al., "Conditional Image Generation with PixelCNN Decoders", 2016: table 1 (CIFAR-10).
- Salimans et al., "PixelCNN++", 2017: table 1 (CIFAR-10).

Example:

    >>> paper_value("row_lstm", num_levels=2)
    '80.54'
"""

#: Binarized MNIST, test NLL in nats per image.
BINARIZED_MNIST_NATS = {
    "pixel_cnn": "81.30",
    "gated_pixel_cnn": "about PixelCNN's",  # The Gated PixelCNN paper reports CIFAR-10 and ImageNet only.
    "row_lstm": "80.54",
    "diagonal_bilstm": "79.20",
}

#: CIFAR-10 (256 levels per channel), test NLL in bits/dim.
CIFAR10_BITS_PER_DIM = {
    "pixel_cnn": "3.14",
    "row_lstm": "3.07",
    "gated_pixel_cnn": "3.03",
    "diagonal_bilstm": "3.00",
    "pixel_cnn_pp": "2.92",
}

#: `num_levels` -> (the table, what its numbers are), for the headings of the rankings.
BY_LEVELS = {
    2: (BINARIZED_MNIST_NATS, "binarized MNIST, nats"),
    256: (CIFAR10_BITS_PER_DIM, "CIFAR-10, bits/dim"),
}


def paper_value(model, num_levels):
    """The papers' number for a registered `model` trained on `num_levels` grey levels, or None.

    Args:
        model: registered model name (`trainers.registry`), e.g. "diagonal_bilstm".
        num_levels: grey levels of the run's data: 2 (binarized) or 256.

    Returns:
        The number as the paper prints it (a string), or None when no paper table covers the model at that depth.
    """
    table, _ = BY_LEVELS.get(num_levels, ({}, None))
    return table.get(model)
