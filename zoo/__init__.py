"""The generative model zoo for Keras: autoregressive, latent-variable and adversarial image models."""
