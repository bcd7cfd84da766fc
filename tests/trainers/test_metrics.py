"""FID, KID and precision/recall on cases with known answers."""

import numpy as np
import pytest

from trainers import metrics


def _random_covariance(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


# FID / Frechet distance.


def test_fid_of_a_set_against_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 64)) * 3.0 + 1.0
    assert metrics.fid(features, features) == pytest.approx(0.0, abs=1e-8)


def test_fid_is_symmetric_and_ignores_example_order():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 8)), rng.normal(1.0, 2.0, size=(200, 8))
    assert metrics.fid(a, b) == pytest.approx(metrics.fid(b, a), rel=1e-9)
    assert metrics.fid(a, b) == pytest.approx(metrics.fid(a[::-1], b), rel=1e-9)


def test_frechet_distance_of_1d_gaussians_is_the_closed_form():
    # W2^2(N(m1, s1^2), N(m2, s2^2)) = (m1 - m2)^2 + (s1 - s2)^2.
    got = metrics.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]]))
    assert got == pytest.approx((1.0 + 2.0) ** 2 + (2.0 - 3.0) ** 2, rel=1e-12)


def test_frechet_distance_of_commuting_covariances_is_the_closed_form():
    # Covariances sharing eigenvectors: d^2 = ||mu1 - mu2||^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(2)
    d = 16
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    eig1, eig2 = rng.uniform(0.1, 5.0, d), rng.uniform(0.1, 5.0, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(eig1) - np.sqrt(eig2)) ** 2)
    got = metrics.frechet_distance(mu1, q @ np.diag(eig1) @ q.T, mu2, q @ np.diag(eig2) @ q.T)
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_general_covariances_matches_the_eigenvalues_of_the_product():
    # tr((S1 S2)^(1/2)) = sum sqrt(eig(S1 S2)): an independent route through the non-symmetric product.
    rng = np.random.default_rng(3)
    d = 10
    s1, s2 = _random_covariance(rng, d), _random_covariance(rng, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    trace_sqrt = np.sum(np.sqrt(np.real(np.linalg.eigvals(s1 @ s2))))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_fid_of_samples_from_two_gaussians_approaches_the_closed_form():
    rng = np.random.default_rng(4)
    d = 4
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    eig1, eig2 = np.array([1.0, 2.0, 0.5, 1.5]), np.array([2.0, 1.0, 1.0, 0.5])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(eig1) - np.sqrt(eig2)) ** 2)
    a = rng.normal(size=(50000, d)) * np.sqrt(eig1) + mu1
    b = rng.normal(size=(50000, d)) * np.sqrt(eig2) + mu2
    assert metrics.fid(a, b) == pytest.approx(expected, rel=0.05)


def test_frechet_distance_handles_singular_covariances():
    # Fewer examples than dimensions: rank-deficient covariances must not give NaN or a negative value.
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(10, 32)), rng.normal(size=(10, 32))
    value = metrics.fid(a, b)
    assert np.isfinite(value) and value > 0
    assert metrics.fid(a, a) == pytest.approx(0.0, abs=1e-8)


def test_feature_statistics_are_mean_and_unbiased_covariance():
    x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    mu, sigma = metrics.feature_statistics(x)
    np.testing.assert_allclose(mu, [2.0, 4.0])
    np.testing.assert_allclose(sigma, np.cov(x.T, ddof=1))


# KID.


def test_kid_is_near_zero_for_the_same_distribution_and_positive_for_a_shifted_one():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    same = metrics.kid(a, b, num_subsets=20, subset_size=500, seed=0)
    shifted = metrics.kid(a, b + 0.5, num_subsets=20, subset_size=500, seed=0)
    assert abs(same.mean) < 3 * same.std / np.sqrt(20) + 1e-3
    assert shifted.mean > 0.05 and shifted.mean > 20 * abs(same.mean)
    assert shifted.std > 0


def test_kid_is_unbiased_against_a_direct_mmd_computation():
    # One subset equal to the whole sets: compare with the estimator written out pair by pair.
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(6, 3)), rng.normal(0.3, 1.0, size=(6, 3))
    k = lambda x, y: (x @ y / 3 + 1.0) ** 3  # noqa: E731
    m = 6
    xx = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a[i], b[j]) for i in range(m) for j in range(m)) / (m * m)
    result = metrics.kid(a, b, num_subsets=3, subset_size=m, seed=0)
    assert result.mean == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    assert result.std == pytest.approx(0.0, abs=1e-12)  # Every subset is the whole set.


def test_kid_same_seed_same_result():
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    assert metrics.kid(a, b, 5, 100, seed=3) == metrics.kid(a, b, 5, 100, seed=3)
    assert metrics.kid(a, b, 5, 100, seed=3) != metrics.kid(a, b, 5, 100, seed=4)


# Precision and recall.


def _mixture(rng, centres, n):
    component = rng.integers(len(centres), size=n)
    return centres[component] + 0.3 * rng.normal(size=(n, centres.shape[1]))


def test_mode_dropping_lowers_recall_but_keeps_precision():
    rng = np.random.default_rng(9)
    centres = rng.normal(scale=10.0, size=(10, 8))
    real = _mixture(rng, centres, 2000)
    all_modes = _mixture(rng, centres, 2000)
    three_modes = _mixture(rng, centres[:3], 2000)
    full = metrics.precision_recall(real, all_modes, k=3, batch_size=256)
    dropped = metrics.precision_recall(real, three_modes, k=3, batch_size=256)
    # k=3 balls around 200 points per mode in 8-D miss some of a mode's tail, so even a perfect generator
    # scores below 1; dropping 7 of 10 modes keeps precision there but cuts recall to about 3/10 of it.
    assert full.precision > 0.8 and full.recall > 0.8
    assert dropped.precision > 0.8
    assert dropped.recall < 0.4 * full.recall


def test_off_manifold_samples_lower_precision():
    rng = np.random.default_rng(10)
    centres = rng.normal(scale=10.0, size=(5, 8))
    real = _mixture(rng, centres, 1000)
    junk = rng.normal(scale=10.0, size=(1000, 8))
    assert metrics.precision_recall(real, junk).precision < 0.2


def test_precision_recall_does_not_depend_on_batch_size():
    rng = np.random.default_rng(11)
    real, fake = rng.normal(size=(300, 5)), rng.normal(0.5, 1.0, size=(250, 5))
    assert metrics.precision_recall(real, fake, batch_size=7) == metrics.precision_recall(real, fake, batch_size=1000)


def test_precision_recall_of_a_set_against_itself_is_one():
    x = np.random.default_rng(12).normal(size=(200, 6))
    assert metrics.precision_recall(x, x) == (1.0, 1.0)


# Bad input.


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: metrics.fid(a, b),
        lambda a, b: metrics.kid(a, b, num_subsets=2, subset_size=10),
        lambda a, b: metrics.precision_recall(a, b),
    ],
)
def test_different_feature_dimensions_raise(call):
    with pytest.raises(ValueError, match="same feature dimension; got 4 and 5"):
        call(np.zeros((20, 4)), np.zeros((20, 5)))


def test_too_few_examples_raise():
    with pytest.raises(ValueError, match="`features_b` must hold at least 2 examples; got 1"):
        metrics.fid(np.zeros((5, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="`fake_features` must hold at least 4 examples; got 3"):
        metrics.precision_recall(np.ones((10, 3)), np.ones((3, 3)), k=3)
    with pytest.raises(ValueError, match="`subset_size` must be at most .* \\(50 and 40\\); got 100"):
        metrics.kid(np.zeros((50, 3)), np.zeros((40, 3)), num_subsets=2, subset_size=100)


def test_malformed_input_raises():
    with pytest.raises(ValueError, match=r"`features_a` must have shape \(num_examples, feature_dim\); got shape \(10"):
        metrics.fid(np.zeros(10), np.zeros((10, 1)))
    with pytest.raises(ValueError, match="`features_a` must be finite"):
        metrics.fid(np.full((4, 2), np.nan), np.zeros((4, 2)))
    with pytest.raises(TypeError, match="`real_features` must be a numeric array"):
        metrics.precision_recall(np.array([["a", "b"]] * 5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="`k` must be a positive int; got 0"):
        metrics.precision_recall(np.zeros((5, 2)), np.zeros((5, 2)), k=0)
    with pytest.raises(ValueError, match="`subset_size` must be an int >= 2; got 1"):
        metrics.kid(np.zeros((5, 2)), np.zeros((5, 2)), subset_size=1)
    with pytest.raises(ValueError, match=r"`sigma2` must have shape \(2, 2\)"):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(3))
