"""Adversarial losses against hand-computed values, and the saturation property of the lecture."""

import math

import numpy as np
import pytest
import tensorflow as tf

from zoo.gan import losses


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_discriminator_loss_by_hand():
    real, fake = tf.constant([2.0, -1.0]), tf.constant([0.5, -3.0])
    expected = [-math.log(_sigmoid(2.0)) - math.log(1 - _sigmoid(0.5)),
                -math.log(_sigmoid(-1.0)) - math.log(1 - _sigmoid(-3.0))]
    np.testing.assert_allclose(losses.discriminator_loss(real, fake).numpy(), expected, rtol=1e-6)


def test_generator_losses_by_hand():
    fake = tf.constant([0.5, -3.0])
    np.testing.assert_allclose(losses.minimax_generator_loss(fake).numpy(),
                               [math.log(1 - _sigmoid(0.5)), math.log(1 - _sigmoid(-3.0))], rtol=1e-6)
    np.testing.assert_allclose(losses.non_saturating_generator_loss(fake).numpy(),
                               [-math.log(_sigmoid(0.5)), -math.log(_sigmoid(-3.0))], rtol=1e-6)


def test_wasserstein_and_least_squares_by_hand():
    real, fake = tf.constant([[1.5], [0.0]]), tf.constant([[-0.5], [2.0]])
    np.testing.assert_allclose(losses.wasserstein_critic_loss(real, fake).numpy(), [-2.0, 2.0])
    np.testing.assert_allclose(losses.wasserstein_generator_loss(fake).numpy(), [0.5, -2.0])
    np.testing.assert_allclose(losses.least_squares_discriminator_loss(real, fake).numpy(),
                               [0.5 * (0.25 + 0.25), 0.5 * (1.0 + 4.0)])
    np.testing.assert_allclose(losses.least_squares_generator_loss(fake).numpy(), [0.5 * 2.25, 0.5 * 1.0])


def test_losses_stay_finite_for_extreme_logits():
    logits = tf.constant([-1e4, 1e4])
    for value in (losses.discriminator_loss(logits, logits), losses.minimax_generator_loss(logits),
                  losses.non_saturating_generator_loss(logits)):
        assert np.isfinite(value.numpy()).all()


def test_minimax_saturates_where_the_non_saturating_loss_does_not():
    # D confidently rejects the fakes: D(G(z)) = sigmoid(-10), about 4.5e-5.
    logit = tf.Variable([-10.0])
    with tf.GradientTape(persistent=True) as tape:
        minimax = losses.minimax_generator_loss(logit)
        non_saturating = losses.non_saturating_generator_loss(logit)
    g_minimax = float(tape.gradient(minimax, logit)[0])
    g_non_saturating = float(tape.gradient(non_saturating, logit)[0])
    assert g_minimax == pytest.approx(-_sigmoid(-10.0), rel=1e-5)  # -D(G(z)): almost no signal.
    assert g_non_saturating == pytest.approx(-(1 - _sigmoid(-10.0)), rel=1e-5)  # About -1: a strong one.
    assert abs(g_non_saturating) / abs(g_minimax) > 2e4
    # Where D is fooled (D(G(z)) near 1) the roles swap: the minimax gradient is the large one.
    logit.assign([10.0])
    with tf.GradientTape(persistent=True) as tape:
        minimax = losses.minimax_generator_loss(logit)
        non_saturating = losses.non_saturating_generator_loss(logit)
    assert abs(float(tape.gradient(minimax, logit)[0])) > 0.99
    assert abs(float(tape.gradient(non_saturating, logit)[0])) < 1e-4


def test_gradient_penalty_of_a_linear_critic_is_exact():
    # f(x) = <w, x> has gradient w everywhere, so the penalty is (||w|| - 1)^2 for every example.
    w = tf.random.stateless_normal([1, 4, 4, 1], seed=[1, 2])
    critic = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])
    real = tf.random.stateless_uniform([3, 4, 4, 1], seed=[3, 4])
    penalty = losses.gradient_penalty(critic, real, -real, seed=tf.constant([5, 6]))
    np.testing.assert_allclose(penalty.numpy(), [(float(tf.norm(w)) - 1.0) ** 2] * 3, rtol=1e-5)


def test_every_game_is_registered_with_its_pieces():
    assert set(losses.GAMES) == {"minimax", "non_saturating", "wasserstein", "least_squares"}
    assert losses.GAMES["non_saturating"][1] is losses.non_saturating_generator_loss


def test_one_sided_label_smoothing_by_hand():
    real, fake = np.array([-2.0, 0.5, 3.0], "float32"), np.array([1.0, -1.0, 0.0], "float32")
    s = 0.1
    d_real, d_fake = 1 / (1 + np.exp(-real)), 1 / (1 + np.exp(-fake))
    expected = -(1 - s) * np.log(d_real) - s * np.log(1 - d_real) - np.log(1 - d_fake)
    np.testing.assert_allclose(losses.discriminator_loss(real, fake, label_smoothing=s).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(losses.discriminator_loss(real, fake, label_smoothing=0.0).numpy(),
                               losses.discriminator_loss(real, fake).numpy())
