"""Adversarial family: GAN, DCGAN (and WGAN-GP through the loss), CycleGAN, with losses as pure functions."""

from zoo.gan.cyclegan import CycleGAN
from zoo.gan.dcgan import DCGAN
from zoo.gan.gan import GAN
from zoo.gan.minibatch_stddev import MinibatchStddev

__all__ = ["CycleGAN", "DCGAN", "GAN", "MinibatchStddev"]
