"""VAE: reparameterization by gradients, closed-form KL, IWAE bound ordering, seeds, saving, bad input."""

import itertools
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.vae import VAE, vae_layers

tfd = tfp.distributions
SHAPE = (8, 8, 1)


def _tiny(**kwargs):
    return VAE(image_shape=kwargs.pop("image_shape", SHAPE), latent_dim=kwargs.pop("latent_dim", 3),
               filters=(4, 8), seed=0, **kwargs)


def _images(n=16, levels=2, shape=SHAPE, seed=0):
    return np.random.default_rng(seed).integers(0, levels, size=(n,) + shape).astype("int32")


def _striped(n, seed=0):
    """A learnable toy distribution: each image is one of two stripe patterns with a few flipped pixels."""
    rng = np.random.default_rng(seed)
    base = np.zeros((2,) + SHAPE, "int32")
    base[0, ::2], base[1, :, ::2] = 1, 1
    images = base[rng.integers(0, 2, n)]
    flips = rng.random(images.shape) < 0.05
    return np.where(flips, 1 - images, images).astype("int32")


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    model = _tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(_striped(512), batch_size=64, epochs=8, verbose=0)
    return model


def test_gradients_reach_the_encoder_through_the_sampled_z_only_with_reparameterization():
    model, x = _tiny(), _images()
    seed = tf.constant([1, 2])

    def reconstruction_gradients(stop):
        with tf.GradientTape() as tape:
            z = model._posterior(x, None).sample(seed=seed)
            z = tf.stop_gradient(z) if stop else z
            loss = -tf.reduce_sum(model._likelihood(z, None).log_prob(x))
        return tape.gradient(loss, model.encoder.trainable_variables)

    with_trick = reconstruction_gradients(stop=False)
    assert all(g is not None for g in with_trick)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in with_trick) > 0
    # Without the trick (a sample treated as a constant), the reconstruction term gives phi nothing.
    assert all(g is None for g in reconstruction_gradients(stop=True))


def test_closed_form_kl_matches_a_monte_carlo_estimate():
    posterior = _tiny()._posterior(_images(4), None)
    prior = _tiny().prior
    closed = tfd.kl_divergence(posterior, prior).numpy()
    z = posterior.sample(20000, seed=[3, 4])
    log_ratio = (posterior.log_prob(z) - prior.log_prob(z)).numpy()
    stderr = log_ratio.std(axis=0) / math.sqrt(20000)
    np.testing.assert_array_less(np.abs(log_ratio.mean(axis=0) - closed), 4 * stderr + 1e-3)


def test_likelihoods_are_normalised_over_a_tiny_image_space():
    for levels in (2, 3):
        shape = (1, 2, 1)
        params = tf.random.stateless_normal((1, 1, 2, 1 if levels == 2 else levels), seed=[0, 1])
        dist = vae_layers.pixel_likelihood(params, shape, levels)
        images = np.array(list(itertools.product(range(levels), repeat=2)), "int32").reshape(-1, *shape)
        total = float(tf.reduce_sum(tf.exp(dist.log_prob(images))))
        assert abs(total - 1.0) < 1e-5


def test_iwae_with_one_sample_is_the_elbo_in_expectation():
    # 400 independent draws per image, batched: row r of the tiled batch is image r % 8.
    model, x = _tiny(), np.tile(_images(8), (400, 1, 1, 1))
    bounds = model.log_prob_bound(x, num_samples=1, seed=1).numpy().reshape(400, 8)
    elbos = model.elbo(x, seed=2).numpy().reshape(400, 8)
    stderr = np.sqrt(bounds.var(axis=0) / 400 + elbos.var(axis=0) / 400)
    np.testing.assert_array_less(np.abs(bounds.mean(axis=0) - elbos.mean(axis=0)), 4 * stderr + 1e-3)


def test_iwae_tightens_with_more_samples_on_trained_weights(trained):
    x = _striped(64, seed=1)
    draws = trained.elbo(np.tile(x, (200, 1, 1, 1)), seed=0).numpy().reshape(200, 64)
    elbo, elbo_stderr = draws.mean(axis=0), draws.std(axis=0) / np.sqrt(200)
    k8 = trained.log_prob_bound(x, num_samples=8, seed=0).numpy()
    k128 = trained.log_prob_bound(x, num_samples=128, seed=0, chunk_size=32).numpy()
    assert k128.shape == (64,) and np.isfinite(k128).all()
    assert elbo.mean() < k8.mean() and elbo.mean() < k128.mean()
    assert k128.mean() > k8.mean() - 0.05  # Monotone in k, up to Monte Carlo noise once q is close to p(z|x).
    # Per image too, up to the Monte Carlo noise of both estimates (about 0.05 nats here).
    assert (k128 >= elbo - 3 * elbo_stderr).mean() >= 0.9
    assert k128.mean() < 0  # A log-probability of discrete data.


def test_training_reports_consistent_metrics(trained):
    logs = trained.evaluate(_striped(128, seed=2), batch_size=64, verbose=0, return_dict=True)
    assert logs["elbo"] == pytest.approx(-(logs["reconstruction"] + logs["kl"]), rel=1e-4)
    assert logs["loss"] == pytest.approx(-logs["elbo"], rel=1e-4)  # beta = 1.
    assert logs["bits_per_dim"] == pytest.approx(-logs["elbo"] / (64 * math.log(2)), rel=1e-4)
    # Learned: a uniform model is 1 bit/dim; the data's entropy is about 0.3.
    assert logs["bits_per_dim"] < 0.75


def test_beta_weights_the_kl_in_the_loss():
    model = _tiny(beta=4.0)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = model.evaluate(_images(32), batch_size=32, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["reconstruction"] + 4.0 * logs["kl"], rel=1e-4)


def test_same_seed_same_sample_and_other_seeds_differ():
    model = _tiny()
    a, b, c = (model.sample(6, seed=s).numpy() for s in (5, 5, 6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.int32 and set(np.unique(a)) <= {0, 1}
    mean = model.sample(6, seed=5, mean=True).numpy()
    assert mean.dtype == np.float32 and 0.0 <= mean.min() and mean.max() <= 1.0


def test_keras_save_and_reload_give_identical_outputs(tmp_path, trained):
    path = str(tmp_path / "vae.keras")
    trained.save(path)
    restored = keras.models.load_model(path)
    x = _striped(8, seed=3)
    np.testing.assert_array_equal(restored.sample(4, seed=1).numpy(), trained.sample(4, seed=1).numpy())
    np.testing.assert_array_equal(np.asarray(restored(x)), np.asarray(trained(x)))
    np.testing.assert_array_equal(
        restored.log_prob_bound(x, 16, seed=2).numpy(), trained.log_prob_bound(x, 16, seed=2).numpy()
    )
    assert int(restored.optimizer.iterations) == int(trained.optimizer.iterations)


def test_get_config_round_trip():
    model = _tiny(num_classes=3, num_levels=4, beta=0.5)
    clone = VAE.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.sample(2, seed=0, labels=[0, 2]).numpy(),
                                  model.sample(2, seed=0, labels=[0, 2]).numpy())


def test_conditional_vae_uses_its_labels():
    model = _tiny(num_classes=3, num_levels=4)
    model.compile(optimizer="adam")
    model.fit(_images(32, levels=4), np.arange(32) % 3, batch_size=16, epochs=1, verbose=0)
    z = tf.zeros((2, 3))
    means = model.decode_mean(z, labels=[0, 1]).numpy()
    assert not np.allclose(means[0], means[1])
    with pytest.raises(ValueError, match="conditional"):
        model.sample(2)


def test_interpolation_and_traversal():
    model, x = _tiny(), _images(2)
    path = model.interpolate(x[0], x[1], steps=5).numpy()
    ends = model.decode_mean(model.encode(x).mean()).numpy()
    assert path.shape == (5,) + SHAPE
    np.testing.assert_allclose(path[[0, -1]], ends, atol=1e-6)
    row = model.traverse(x[0], dim=1, values=np.linspace(-3, 3, 4)).numpy()
    assert row.shape == (4,) + SHAPE and not np.allclose(row[0], row[-1])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: m.encode(np.zeros((2, 8, 8), "int32")), ValueError, "rank 4"),
        (lambda m: m.encode(np.zeros((2, 8, 8, 3), "int32")), ValueError, "shape"),
        (lambda m: m.encode(np.zeros((2, 8, 8, 1), "float32")), TypeError, "integer"),
        (lambda m: m.encode(np.full((2, 8, 8, 1), 2, "int32")), ValueError, r"\[0, 1\]"),
        (lambda m: m.encode(np.zeros((2, 8, 8, 1), "int32"), labels=[0, 1]), ValueError, "unconditional"),
        (lambda m: m.decode(np.zeros((2, 5), "float32")), ValueError, r"\(batch, 3\)"),
        (lambda m: m.sample(0), ValueError, "num_samples"),
        (lambda m: m.sample(2, seed="x"), TypeError, "seed"),
        (lambda m: m.traverse(np.zeros((8, 8, 1), "int32"), dim=3, values=[0.0]), ValueError, "dim"),
        (lambda m: m.interpolate(np.zeros((8, 8, 1), "int32"), np.zeros((8, 8, 1), "int32"), 1), ValueError, "steps"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call(_tiny())


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible"):
        VAE(image_shape=(10, 10, 1), filters=(4, 8))
    with pytest.raises(ValueError, match="num_levels"):
        VAE(image_shape=SHAPE, num_levels=1)
    with pytest.raises(ValueError, match="image_shape"):
        VAE(image_shape=(8, 8))


def test_importance_sampling_chunks_shrink_for_large_decoded_batches(monkeypatch):
    from zoo.vae import vae as vae_module

    model = _tiny(num_levels=256)
    images = _images(8, levels=256)
    explicit = model.log_prob_bound(images, num_samples=6, seed=1, chunk_size=2).numpy()
    # A budget of two decoded batches per chunk makes the default chunking the explicit one.
    monkeypatch.setattr(vae_module, "_DECODE_BUDGET", 2 * 8 * int(np.prod(model.image_shape)) * 256)
    np.testing.assert_allclose(model.log_prob_bound(images, num_samples=6, seed=1).numpy(), explicit, rtol=1e-6)
    with pytest.raises(ValueError, match="chunk_size"):
        model.log_prob_bound(images, num_samples=6, chunk_size=0)
