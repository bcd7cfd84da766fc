"""Adversarial family: GAN, DCGAN (and WGAN-GP through the loss), with losses as pure functions."""

from zoo.gan.dcgan import DCGAN
from zoo.gan.gan import GAN

__all__ = ["DCGAN", "GAN"]
