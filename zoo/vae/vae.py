"""The variational autoencoder."""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import ops
from zoo.presets.mixin import PresetMixin
from zoo.utils.single_optimizer import SingleOptimizerMixin
from zoo.vae import vae_layers

_DECODE_BUDGET = 2**25  # Likelihood parameters (floats) decoded at once by `log_prob_bound`: 128 MB.

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="zoo")
class VAE(SingleOptimizerMixin, PresetMixin, keras.Model):
    """Variational autoencoder with a Gaussian latent and a discrete pixel likelihood.

    A latent `z ~ p(z) = N(0, I)` is decoded into a distribution over images `p_theta(x | z)`. The encoder
    gives a diagonal Gaussian posterior `q_phi(z | x) = N(mu_phi(x), diag(sigma_phi(x)^2))`. Training
    maximises the evidence lower bound

        log p(x) >= ELBO(x) = E_{q_phi(z|x)}[log p_theta(x | z)] - KL(q_phi(z | x) || p(z)),

    with the expectation estimated by one reparameterized sample `z = mu + sigma * eps`, `eps ~ N(0, I)`
    (TFP's Gaussian samples are fully reparameterized, so gradients reach `phi` through `z`) and the KL in
    closed form (`tfd.kl_divergence`). The loss is `-E[log p(x|z)] + beta * KL` (beta-VAE; `beta=1` is the
    ELBO). `log_prob_bound` gives the tighter importance-weighted bound of Burda et al. Under a `tf.distribute`
    strategy the loss is averaged over the global batch and every example draws the noise it would draw on one
    device, so a training step gives the same weights on one device and on several replicas.

    Images are integer levels: `num_levels=2` (binarized) uses independent Bernoulli pixels; more levels use
    an independent categorical over the levels of every sub-pixel, so likelihoods are true discrete
    likelihoods (reported in nats per image and bits per dimension).

    Metrics: `loss` (negative beta-ELBO), `elbo`, `reconstruction` (`-E log p(x|z)`), `kl` — nats per image —
    and `bits_per_dim` (`-ELBO / (H W C ln 2)`).

    Args:
        image_shape: `(height, width, channels)`; height and width divisible by `2 ** len(filters)`.
        num_classes: int for a conditional VAE (labels feed encoder and decoder), or None.
        num_levels: quantisation levels of the images, 2 to 256 (2 = binarized). Default 2.
        latent_dim: size of `z`. Default 16.
        filters: convolution widths of the encoder (mirrored in the decoder). Default (32, 64).
        beta: weight of the KL term. Default 1.0.
        seed: seed of the model's sampling noise (training draws and verbs called without a seed).

    Example:
        >>> model = VAE(image_shape=(28, 28, 1), latent_dim=16)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> model.fit(binarized_images_dataset, epochs=5)
        >>> images = model.sample(16, seed=0)                # int32 levels
        >>> bound = model.log_prob_bound(test_images, num_samples=100)
        >>> pretrained = VAE.from_preset("fashion_mnist")      # shipped weights: zoo.list_presets()

    References:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014. Higgins et al., "beta-VAE", ICLR 2017.
        Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=None,
        num_levels=2,
        latent_dim=16,
        filters=(32, 64),
        beta=1.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        image_shape = ops.check_image_shape(image_shape)
        filters = tuple(int(f) for f in filters)
        factor = 2 ** len(filters)
        if image_shape[0] % factor or image_shape[1] % factor:
            raise ValueError(
                f"`image_shape` height and width must be divisible by {factor} (2 ** len(filters)); got {image_shape}."
            )
        if not isinstance(num_levels, int) or not 2 <= num_levels <= 256:
            raise ValueError(f"`num_levels` must be an int in [2, 256]; got {num_levels!r}.")
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"`latent_dim` must be a positive int; got {latent_dim!r}.")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 2):
            raise ValueError(f"`num_classes` must be None or an int >= 2; got {num_classes!r}.")
        if not beta >= 0:
            raise ValueError(f"`beta` must be >= 0; got {beta!r}.")
        self.encoder = vae_layers.build_encoder(image_shape, latent_dim, filters, num_classes)
        outputs_per_pixel = image_shape[-1] * (1 if num_levels == 2 else num_levels)
        self.decoder = vae_layers.build_decoder(image_shape, latent_dim, filters, outputs_per_pixel, num_classes)
        self.image_shape = image_shape
        self.num_classes = num_classes
        self.num_levels = num_levels
        self.latent_dim = latent_dim
        self.filters = filters
        self.beta = float(beta)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        self.built = True

    @property
    def prior(self):
        """`p(z)`: the standard Gaussian over `latent_dim` dimensions."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros([self.latent_dim]), scale_diag=tf.ones([self.latent_dim]))

    # Encoder and decoder without input checks, for traced code.
    def _posterior(self, images, labels):
        x = tf.cast(images, tf.float32) / float(self.num_levels - 1)
        params = self.encoder([x, labels] if self.num_classes else x)
        loc, raw_scale = tf.split(params, 2, axis=-1)
        # softplus keeps the scale positive with gradients everywhere; the floor avoids log(0) in the KL.
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw_scale) + 1e-5)

    def _likelihood(self, z, labels):
        params = self.decoder([z, labels] if self.num_classes else z)
        return vae_layers.pixel_likelihood(params, self.image_shape, self.num_levels)

    def _check(self, images, labels):
        images = ops.check_images(images, image_shape=self.image_shape, kind="levels", num_levels=self.num_levels)
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=images.shape[0])
        return images, labels

    def encode(self, images, labels=None):
        """`q_phi(z | x)`: a `tfd.MultivariateNormalDiag` with batch shape `(batch,)`.

        Args:
            images: int levels of shape `(batch, H, W, C)` in [0, num_levels - 1].
            labels: int class labels `(batch,)` for a conditional VAE.
        """
        images, labels = self._check(images, labels)
        return self._posterior(images, labels)

    def decode(self, z, labels=None):
        """`p_theta(x | z)`: a TFP distribution over int32 images with event shape `(H, W, C)`.

        Its mean image as floats in [0, 1] is `decode_mean(z)`.
        """
        z = ops.check_latents(z, latent_dim=self.latent_dim)
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=z.shape[0])
        return self._likelihood(z, labels)

    def decode_mean(self, z, labels=None):
        """The mean image of `p_theta(x | z)`, floats in [0, 1] of shape `(batch, H, W, C)`."""
        return vae_layers.likelihood_mean(self.decode(z, labels), self.num_levels)

    def call(self, inputs, training=False):
        """Reconstruction: the mean image decoded from the posterior mean, floats in [0, 1].

        `inputs` is `images`, or `(images, labels)` for a conditional VAE.
        """
        images, labels = (inputs if self.num_classes else (inputs, None))
        z = self._posterior(images, labels).mean()
        return vae_layers.likelihood_mean(self._likelihood(z, labels), self.num_levels)

    def _terms(self, images, labels, seed=None, noise=None):
        """Per-image `-E log p(x|z)` (one sample) and `KL(q || p)`; `z` from `seed`, or `mu + sigma * noise`."""
        posterior = self._posterior(images, labels)
        if noise is None:
            z = posterior.sample(seed=seed)  # Reparameterized: z = mu + sigma * eps.
        else:
            z = posterior.loc + posterior.scale.diag * noise
        reconstruction = -self._likelihood(z, labels).log_prob(images)
        kl = tfd.kl_divergence(posterior, self.prior)
        return reconstruction, kl

    def _step_terms(self, images, labels):
        """`_terms` in `fit` and `evaluate`, with each replica's rows of the global batch's noise.

        With `ops.per_example_noise` a step under `tf.distribute` draws the noise of the same step on one device.
        """
        seed = ops.stateless_seed(None, self.seed_generator)
        noise = ops.per_example_noise(
            lambda n: tf.random.stateless_normal([n, self.latent_dim], seed=seed), tf.shape(images)[0]
        )
        return self._terms(images, labels, noise=noise)

    def _update_metrics(self, reconstruction, kl):
        elbo = -(reconstruction + kl)
        self.loss_tracker.update_state(reconstruction + self.beta * kl)
        self.elbo_tracker.update_state(elbo)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        self.bits_per_dim_tracker.update_state(ops.bits_per_dim(-elbo, self.image_shape))
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.elbo_tracker,
            self.reconstruction_tracker,
            self.kl_tracker,
            self.bits_per_dim_tracker,
        ]

    def _unpack(self, data):
        images, labels = ops.unpack_batch(data, conditional=bool(self.num_classes))
        return tf.cast(images, tf.int32), None if labels is None else tf.cast(labels, tf.int32)

    def train_step(self, data):
        images, labels = self._unpack(data)
        with tf.GradientTape() as tape:
            reconstruction, kl = self._step_terms(images, labels)
            loss = ops.average_over_global_batch(reconstruction + self.beta * kl) + ops.regularization_loss(self.losses)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_metrics(reconstruction, kl)

    def test_step(self, data):
        images, labels = self._unpack(data)
        return self._update_metrics(*self._step_terms(images, labels))

    def elbo(self, images, labels=None, seed=None):
        """One-sample estimate of the ELBO per image, in nats (shape `(batch,)`)."""
        images, labels = self._check(images, labels)
        reconstruction, kl = self._terms(images, labels, ops.stateless_seed(seed, self.seed_generator))
        return -(reconstruction + kl)

    def log_prob_bound(self, images, num_samples=100, labels=None, seed=None, chunk_size=None):
        """The importance-weighted lower bound on `log p(x)`, in nats per image.

            L_k(x) = E[log (1/k) sum_i p(x, z_i) / q(z_i | x)],  z_i ~ q(z | x),

        with `L_1 = ELBO <= L_k <= L_{k+1} <= log p(x)` (Burda et al., 2016). Samples are drawn in chunks of
        `chunk_size` to bound memory: the decoder's output for `batch * chunk_size` latents is held at once,
        which with 256 levels is 0.8 MB per latent for a 28x28 image.

        Args:
            images: int levels `(batch, H, W, C)`.
            num_samples: k, the number of importance samples per image.
            labels: class labels for a conditional VAE.
            seed: int for a reproducible estimate.
            chunk_size: importance samples decoded at once. Default: 50, or fewer when `batch * chunk_size`
                decoded images would exceed about 128 MB of likelihood parameters. The draws depend on the
                chunking, so fix `chunk_size` to compare estimates across batch sizes exactly.

        Returns:
            float32 tensor of shape `(batch,)`.
        """
        images, labels = self._check(images, labels)
        num_samples = ops.check_num_samples(num_samples)
        if chunk_size is None:
            batch = images.shape[0] or 1
            per_image = int(np.prod(self.image_shape)) * (1 if self.num_levels == 2 else self.num_levels)
            chunk_size = max(1, min(50, _DECODE_BUDGET // (batch * per_image)))
        chunk_size = ops.check_num_samples(chunk_size, name="chunk_size")
        posterior = self._posterior(images, labels)
        seed = ops.stateless_seed(seed, self.seed_generator)
        log_weights = []
        for start in range(0, num_samples, chunk_size):
            k = min(chunk_size, num_samples - start)
            chunk_seed = tf.random.experimental.stateless_fold_in(seed, start)
            z = posterior.sample(k, seed=chunk_seed)  # (k, batch, latent_dim)
            flat_z = tf.reshape(z, [-1, self.latent_dim])
            flat_labels = None if labels is None else tf.tile(labels, [k])
            log_px_z = tf.reshape(
                self._likelihood(flat_z, flat_labels).log_prob(tf.tile(images, [k, 1, 1, 1])), [k, -1]
            )
            log_weights.append(log_px_z + self.prior.log_prob(z) - posterior.log_prob(z))
        log_weights = tf.concat(log_weights, axis=0)
        return tf.reduce_logsumexp(log_weights, axis=0) - math.log(num_samples)

    def sample(self, num_samples, seed=None, labels=None, mean=False):
        """Draws images from the model: `z ~ p(z)`, then `x ~ p_theta(x | z)`.

        Args:
            num_samples: number of images.
            seed: int for reproducible samples.
            labels: `(num_samples,)` class labels for a conditional VAE.
            mean: return the decoder's mean images (floats in [0, 1]) instead of sampled levels.

        Returns:
            int32 levels `(num_samples, H, W, C)`, or floats in [0, 1] with `mean=True`.
        """
        num_samples = ops.check_num_samples(num_samples)
        labels = ops.check_labels(labels, num_classes=self.num_classes, batch_size=num_samples)
        seed = ops.stateless_seed(seed, self.seed_generator)
        z_seed, x_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        z = self.prior.sample(num_samples, seed=z_seed)
        likelihood = self._likelihood(z, labels)
        if mean:
            return vae_layers.likelihood_mean(likelihood, self.num_levels)
        return likelihood.sample(seed=x_seed)

    def interpolate(self, image_a, image_b, steps=8, labels=None):
        """Mean images decoded along the straight line between the posterior means of two images.

        Args:
            image_a, image_b: int levels of shape `(H, W, C)` or `(1, H, W, C)`.
            steps: number of images, the end points included (>= 2).
            labels: a class label (int) for a conditional VAE, used along the whole path.

        Returns:
            floats in [0, 1] of shape `(steps, H, W, C)`.
        """
        steps = ops.check_num_samples(steps, name="steps")
        if steps < 2:
            raise ValueError(f"`steps` must be >= 2 to include both end points; got {steps}.")
        pair = tf.concat([self._single(image_a, "image_a"), self._single(image_b, "image_b")], axis=0)
        pair_labels = None if labels is None else tf.fill([2], int(labels))
        z_a, z_b = tf.unstack(self.encode(pair, pair_labels).mean())
        t = tf.linspace(0.0, 1.0, steps)[:, None]
        z = (1.0 - t) * z_a + t * z_b
        return self.decode_mean(z, None if labels is None else tf.fill([steps], int(labels)))

    def traverse(self, image, dim, values, labels=None):
        """Decodes the posterior mean of `image` with latent coordinate `dim` set to each of `values`.

        This is "tuning a feature": one latent direction changed while the others stay put.

        Args:
            image: int levels `(H, W, C)` or `(1, H, W, C)`.
            dim: latent coordinate in [0, latent_dim).
            values: 1-D sequence of values for that coordinate (e.g. `np.linspace(-3, 3, 8)`).
            labels: a class label (int) for a conditional VAE.

        Returns:
            floats in [0, 1] of shape `(len(values), H, W, C)`.
        """
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 0 <= dim < self.latent_dim:
            raise ValueError(f"`dim` must be an int in [0, {self.latent_dim}); got {dim!r}.")
        values = tf.reshape(tf.cast(tf.convert_to_tensor(values), tf.float32), [-1])
        if values.shape[0] == 0:
            raise ValueError("`values` must hold at least one value.")
        image_labels = None if labels is None else tf.fill([1], int(labels))
        z = self.encode(self._single(image, "image"), image_labels).mean()
        z = tf.tile(z, [values.shape[0], 1])
        one_hot = tf.one_hot(dim, self.latent_dim)
        z = z * (1.0 - one_hot) + values[:, None] * one_hot
        return self.decode_mean(z, None if labels is None else tf.fill([values.shape[0]], int(labels)))

    def _single(self, image, name):
        image = tf.convert_to_tensor(image)
        if image.shape.rank == 3:
            image = image[None]
        if image.shape.rank != 4 or image.shape[0] != 1:
            raise ValueError(f"`{name}` must be one image of shape {self.image_shape} or (1, ...); got {image.shape}.")
        return ops.check_images(image, image_shape=self.image_shape, kind="levels", num_levels=self.num_levels, name=name)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "num_classes": self.num_classes,
                "num_levels": self.num_levels,
                "latent_dim": self.latent_dim,
                "filters": self.filters,
                "beta": self.beta,
                "seed": self.seed,
            }
        )
        return config
