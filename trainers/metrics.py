"""Sample-quality metrics on feature embeddings: FID, KID, and k-NN precision and recall.

Every function takes two sets of feature vectors, `(num_examples, feature_dim)` arrays (numpy, or anything
`np.asarray` accepts, such as eager tensors), typically the embeddings of real and generated images by
`zoo.classifier.FeatureClassifier.features` or by the Inception pool3 extractor of
`zoo.classifier.inception_feature_extractor`. All arithmetic is float64 numpy: these are statistics of
thousands of vectors where float32 round-off is visible in the reported digits, and none of it needs a graph.

A score only means something beside its floor: the same metric between two independent sets of *real*
images (e.g. the test split against the train split), which is what a perfect generator would score.

Example:
    >>> real = classifier.features(test_images)        # (10000, 128)
    >>> fake = classifier.features(generated_images)   # (10000, 128)
    >>> fid(real, fake)
    >>> kid(real, fake, num_subsets=100, subset_size=1000, seed=0)     # KID(mean=..., std=...)
    >>> precision_recall(real, fake, k=3)                                # PrecisionRecall(precision=..., recall=...)

References:
    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
    NeurIPS 2017 (FID).
    Binkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs", ICLR 2018 (KID).
    Kynkaanniemi, Karras, Laine, Lehtinen & Aila, "Improved Precision and Recall Metric for Assessing
    Generative Models", NeurIPS 2019 (precision and recall).
"""

from typing import NamedTuple

import numpy as np


class KID(NamedTuple):
    """Kernel Inception Distance: mean and standard deviation of the unbiased MMD^2 over random subsets."""

    mean: float
    std: float


class PrecisionRecall(NamedTuple):
    """Improved precision (fidelity: fake in the real manifold) and recall (coverage: real in the fake one)."""

    precision: float
    recall: float


def _check_features(features, name, min_examples):
    """`features` as a finite float64 `(n, d)` array with `n >= min_examples`, or a ValueError/TypeError."""
    try:
        array = np.asarray(features)
    except Exception as e:  # Ragged lists and the like.
        raise TypeError(f"`{name}` must be a numeric array of shape (num_examples, feature_dim); got {e}.") from None
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(
            f"`{name}` must be a numeric array of shape (num_examples, feature_dim); got dtype {array.dtype}."
        )
    if array.ndim != 2 or array.shape[1] < 1:
        raise ValueError(f"`{name}` must have shape (num_examples, feature_dim); got shape {array.shape}.")
    if array.shape[0] < min_examples:
        raise ValueError(f"`{name}` must hold at least {min_examples} examples; got {array.shape[0]}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ValueError(f"`{name}` must be finite; it holds {bad} NaN or infinite values.")
    return array


def _check_pair(features_a, features_b, names, min_examples):
    a = _check_features(features_a, names[0], min_examples)
    b = _check_features(features_b, names[1], min_examples)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must have the same feature dimension; got {a.shape[1]} and {b.shape[1]}."
        )
    return a, b


def _psd_sqrt(matrix):
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition.

    Round-off can make the smallest eigenvalues of a PSD matrix slightly negative; they are clipped to 0.
    """
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def feature_statistics(features, name="features"):
    """Mean and covariance of a set of feature vectors, the Gaussian FID fits to it.

    Args:
        features: `(num_examples, feature_dim)` array, at least 2 examples.
        name: argument name used in error messages.

    Returns:
        `(mu, sigma)`: float64 arrays of shapes `(feature_dim,)` and `(feature_dim, feature_dim)`; `sigma` is the
        unbiased sample covariance (divides by `num_examples - 1`), as in the reference FID implementation.
    """
    x = _check_features(features, name, min_examples=2)
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet (2-Wasserstein) distance squared between two Gaussians `N(mu1, sigma1)` and `N(mu2, sigma2)`.

        d^2 = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2)).

    The trace term is computed without the non-symmetric product `sigma1 sigma2` (whose general matrix square
    root is what makes the usual `scipy.linalg.sqrtm` route fragile and complex-valued): with `s = sigma1^(1/2)`,
    `sigma1 sigma2 = s (s sigma2 s) s^(-1)` is similar to the symmetric PSD matrix `s sigma2 s`, so both have the
    same eigenvalues and `tr((sigma1 sigma2)^(1/2)) = sum_i sqrt(lambda_i(s sigma2 s))`. Two symmetric
    eigendecompositions (`np.linalg.eigh`, always real and stable) give it; eigenvalues that round-off makes
    slightly negative are clipped to 0, which also makes singular covariances (fewer examples than
    dimensions, dead features) work.

    Args:
        mu1, mu2: means, float arrays of shape `(d,)`.
        sigma1, sigma2: covariances, symmetric positive semi-definite float arrays of shape `(d, d)`.

    Returns:
        The squared distance as a Python float, >= 0 (FID is this value, not its square root).

    Raises:
        ValueError: mismatched or wrong shapes, non-finite values.

    References:
        Dowson & Landau, "The Frechet distance between multivariate normal distributions", J. Multivariate
        Analysis 1982. Heusel et al., NeurIPS 2017, equation (6).
    """
    mu1, mu2 = (np.asarray(m, dtype=np.float64) for m in (mu1, mu2))
    sigma1, sigma2 = (np.asarray(s, dtype=np.float64) for s in (sigma1, sigma2))
    if mu1.ndim != 1 or mu2.shape != mu1.shape:
        raise ValueError(f"`mu1` and `mu2` must be vectors of the same length; got shapes {mu1.shape} and {mu2.shape}.")
    d = mu1.shape[0]
    for name, sigma in (("sigma1", sigma1), ("sigma2", sigma2)):
        if sigma.shape != (d, d):
            raise ValueError(f"`{name}` must have shape ({d}, {d}) to match the means; got {sigma.shape}.")
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(value)):
            raise ValueError(f"`{name}` must be finite.")
    sqrt_sigma1 = _psd_sqrt(sigma1)
    middle = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    # Identical inputs give -1e-13 or so; a distance is never negative.
    return float(max(distance, 0.0))


def fid(features_a, features_b):
    """Frechet Inception Distance between two sets of feature vectors.

    Fits a Gaussian (mean and covariance) to each set and returns their `frechet_distance`. Lower is better;
    0 only when the two sets have the same mean and covariance. FID is biased upwards for small sets, so only
    compare scores computed with the same numbers of examples (10,000 against 10,000 is the convention).

    Args:
        features_a, features_b: `(num_examples, feature_dim)` arrays with the same `feature_dim`, at least 2
            examples each.

    Returns:
        FID as a Python float.

    Raises:
        ValueError: different feature dimensions, fewer than 2 examples, non-finite values, wrong rank.

    References:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
        NeurIPS 2017.
    """
    a, b = _check_pair(features_a, features_b, ("features_a", "features_b"), min_examples=2)
    return frechet_distance(*feature_statistics(a, "features_a"), *feature_statistics(b, "features_b"))


def _polynomial_kernel(x, y):
    """The KID kernel `k(x, y) = (x.y / d + 1)^3`."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid(features_a, features_b, num_subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: the unbiased squared MMD with a cubic polynomial kernel, over random subsets.

    With `k(x, y) = (x.y / d + 1)^3` and subsets `X` of `features_a` and `Y` of `features_b`, both of `m`
    examples drawn without replacement, each subset gives the unbiased estimator

        MMD^2_u = sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
                  - 2 sum_{i, j} k(x_i, y_j) / m^2,

    and KID is its mean over `num_subsets` subsets. Being unbiased, its expectation is 0 when both sets come
    from the same distribution (a single estimate can be slightly negative), and it does not depend on the
    number of examples, unlike FID.

    Args:
        features_a, features_b: `(num_examples, feature_dim)` arrays with the same `feature_dim`.
        num_subsets: number of random subset pairs. Default 100.
        subset_size: examples per subset, at least 2 and at most the size of the smaller set. Default 1000.
        seed: int seed of the subset draws; the same seed gives the same result.

    Returns:
        `KID(mean, std)`: mean and standard deviation of MMD^2_u over the subsets (Python floats).

    Raises:
        ValueError: different feature dimensions, `subset_size` larger than a set, bad counts.

    References:
        Binkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs", ICLR 2018, appendix on KID.
    """
    for name, value, low in (("num_subsets", num_subsets, 1), ("subset_size", subset_size, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"`{name}` must be an int >= {low}; got {value!r}.")
    a, b = _check_pair(features_a, features_b, ("features_a", "features_b"), min_examples=2)
    if subset_size > min(len(a), len(b)):
        raise ValueError(
            f"`subset_size` must be at most the number of examples of each set ({len(a)} and {len(b)}); "
            f"got {subset_size}. Pass more features or a smaller `subset_size`."
        )
    rng = np.random.default_rng(seed)
    m = int(subset_size)
    estimates = np.empty(int(num_subsets))
    for s in range(int(num_subsets)):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        estimates[s] = within - 2.0 * k_xy.sum() / (m * m)
    return KID(mean=float(estimates.mean()), std=float(estimates.std()))


def _pairwise_sq_distances(x, y, y_sq_norms):
    """`||x_i - y_j||^2` for a block of rows `x`; clipped at 0 against cancellation in the expansion."""
    d = np.sum(x * x, axis=1)[:, None] + y_sq_norms[None, :] - 2.0 * (x @ y.T)
    return np.maximum(d, 0.0)


def _knn_radii(features, k, batch_size):
    """Squared distance of every vector to its k-th nearest neighbour in the same set (itself excluded)."""
    sq_norms = np.sum(features * features, axis=1)
    radii = np.empty(len(features))
    for start in range(0, len(features), batch_size):
        d = _pairwise_sq_distances(features[start : start + batch_size], features, sq_norms)
        # Column k of the partition: index 0 is the point itself (distance 0), so this is the k-th neighbour.
        radii[start : start + batch_size] = np.partition(d, k, axis=1)[:, k]
    return radii


def _fraction_inside(queries, manifold, radii, batch_size):
    """Fraction of `queries` inside at least one ball `||q - manifold_j||^2 <= radii_j`."""
    sq_norms = np.sum(manifold * manifold, axis=1)
    inside = 0
    for start in range(0, len(queries), batch_size):
        d = _pairwise_sq_distances(queries[start : start + batch_size], manifold, sq_norms)
        inside += int(np.sum(np.any(d <= radii[None, :], axis=1)))
    return inside / len(queries)


def precision_recall(real_features, fake_features, k=3, batch_size=1000):
    """Improved precision and recall of generated samples, with k-nearest-neighbour manifolds.

    Each set's manifold is the union of balls centred on its vectors, each ball reaching that vector's `k`-th
    nearest neighbour within the set. Then

        precision = fraction of fake vectors inside the real manifold   (fidelity: samples look real),
        recall    = fraction of real vectors inside the fake manifold   (coverage: no dropped modes).

    A generator that drops modes keeps a high precision but loses recall; one that produces junk loses
    precision. Distances are computed in blocks of `batch_size` rows, so memory is `O(batch_size * n)` and
    10,000 x 10,000 sets need about 80 MB per block.

    Args:
        real_features: `(num_real, feature_dim)` array, more than `k` examples.
        fake_features: `(num_fake, feature_dim)` array, more than `k` examples.
        k: neighbourhood size of the manifold estimate. Default 3, the paper's choice.
        batch_size: rows per block of distance computations. Default 1000.

    Returns:
        `PrecisionRecall(precision, recall)`, Python floats in [0, 1].

    Raises:
        ValueError: different feature dimensions, too few examples for `k`, bad `k` or `batch_size`.

    References:
        Kynkaanniemi, Karras, Laine, Lehtinen & Aila, "Improved Precision and Recall Metric for Assessing
        Generative Models", NeurIPS 2019, equations (1)-(3).
    """
    for name, value in (("k", k), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
    real, fake = _check_pair(real_features, fake_features, ("real_features", "fake_features"), min_examples=k + 1)
    real_radii = _knn_radii(real, k, batch_size)
    fake_radii = _knn_radii(fake, k, batch_size)
    return PrecisionRecall(
        precision=_fraction_inside(fake, real, real_radii, batch_size),
        recall=_fraction_inside(real, fake, fake_radii, batch_size),
    )
