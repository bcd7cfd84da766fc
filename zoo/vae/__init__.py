"""Latent-variable family: the variational autoencoder."""

from zoo.vae.vae import VAE

__all__ = ["VAE"]
