"""The generative model zoo for Keras: autoregressive, latent-variable and adversarial image models.

Pretrained models load by name, offline: `zoo.load("dcgan_fashion_mnist")`; `zoo.list_presets()` lists them.
"""

from zoo.presets import list_presets, load

__all__ = ["list_presets", "load"]
