"""SavedModels of zoo models for TensorFlow Serving: signatures per family, layout, models.config, warm-up.

`to_saved_model(model, base_dir, name, version)` writes `BASE/NAME/VERSION/` (`saved_model.pb`,
`variables/`, `assets.extra/tf_serving_warmup_requests`) with `keras.export.ExportArchive`, and rewrites
`BASE/models.config`, TF Serving's `model_config_list` over every model exported in BASE.

Every signature is batch-major (dimension 0 is the request row), so TF Serving's REST row format and
server-side batching apply. Per family (`labels` is an extra int32 `(batch,)` input on class-conditional
models, in [0, num_classes)):

| family | signature | inputs | outputs |
|---|---|---|---|
| all | `serving_default` = `sample` | `seed` int64 `(batch,)` | see `sample` |
| GAN | `sample` | `seed` | `images` float32 `(batch, H, W, C)` in [-1, 1], `images_uint8` uint8 0..255 |
| GAN | `generate` | `z` float32 `(batch, latent_dim)` | `images`, `images_uint8` |
| GAN | `interpolate` | `z0`, `z1` float32 `(batch, latent_dim)`, `t` float32 `(batch,)` in [0, 1] | `images`, `images_uint8` |
| VAE | `sample` | `seed` | `levels` int32 `(batch, H, W, C)`, `images` float32 in [0, 1], `images_uint8` |
| VAE | `encode` | `images` int32 levels `(batch, H, W, C)` | `mean`, `scale` float32 `(batch, latent_dim)` |
| VAE | `decode` | `z` float32 `(batch, latent_dim)` | `images` (the decoder's mean, in [0, 1]), `images_uint8` |
| VAE | `log_prob_bound` | `images` int32 levels, `seed` int64 | `log_prob_bound` (nats), `bits_per_dim`, float32 `(batch,)` |
| autoregressive | `sample` | `seed` | `levels`, `images`, `images_uint8` |
| autoregressive | `complete` | `images` int32 levels, `known_mask` bool `(batch, H, W, C)`, `seed` | `levels`, `images`, `images_uint8` |
| autoregressive | `log_prob` | `images` int32 levels | `log_prob` (exact, nats), `bits_per_dim`, float32 `(batch,)` |
| CycleGAN | `serving_default` = `a2b` | `images` float32 `(batch, H, W, C)` in [-1, 1], domain A | `images` (translated to B, [-1, 1]), `images_uint8` |
| CycleGAN | `b2a` | `images` float32 in [-1, 1], domain B | `images` (translated to A), `images_uint8` |

How a per-row seed maps to the Keras model: row `i` with seed `s` (any int64, negative too) answers exactly
what the Keras verb answers for one image with the int seed `s`, i.e. `model.sample(1, seed=s,
labels=[label])[0]`, `model.complete(images[i:i+1], known_mask[i:i+1], seed=s)[0]` and
`model.log_prob_bound(images[i:i+1], num_samples=K, seed=s)[0]`. Both sides turn `s` into the stateless seed
`[s mod (2**31 - 1), 0]` (`zoo.ops.stateless_seed`), and the graph draws each row's noise from its own
seed with the same stateless ops and shapes as a batch of one. Rows are therefore independent of each
other and of the batch they are served in: server-side batching never changes an answer. The networks run
on the whole batch at once; only the noise is drawn row by row (autoregressive models: all of it once,
before the sampling loop, by their public `sample_rows` and `complete_rows`). GAN `interpolate` follows the Keras
`interpolate(z0, z1, steps, method="slerp")` path: its k-th image is the row with `t = k / (steps - 1)`.

Requests are checked inside the graph, so TF Serving answers a bad request with an error and never with a
silently wrong number: a `seed` with no rows, labels out of range or with a different row count, images of
the wrong height, width or channels or outside the model's value range, a `known_mask` not shaped like
`images`, `t` outside [0, 1]. Wrong dtypes and ranks are refused by the signature itself.

Example:
    >>> from export import saved_model
    >>> path = saved_model.to_saved_model(model, "models", "dcgan")      # models/dcgan/1
    >>> serving = tf.saved_model.load(path).signatures["serving_default"]
    >>> serving(seed=tf.constant([0, 1, 2], tf.int64))["images_uint8"].shape
    TensorShape([3, 28, 28, 1])
"""

import os
import re
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf

from zoo import ops
from zoo.gan.cyclegan import CycleGAN
from zoo.gan.gan import GAN
from zoo.pixel.autoregressive import AutoregressiveModel
from zoo.utils import atomic
from zoo.vae.vae import VAE

#: The signatures of each family, in the order they are registered (`sample` is also `serving_default`).
SIGNATURES = {
    "gan": ("sample", "generate", "interpolate"),
    "vae": ("sample", "encode", "decode", "log_prob_bound"),
    "autoregressive": ("sample", "complete", "log_prob"),
    "cyclegan": ("a2b", "b2a"),
}

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MODELS_CONFIG = "models.config"
_MAX_SEED = 2**31 - 1  # zoo.ops.stateless_seed reduces an int seed modulo this.


def signature_family(model):
    """Which signatures `model` is exported with: "gan", "vae", "autoregressive" or "cyclegan" (see `SIGNATURES`).

    Raises:
        TypeError: `model` is not a zoo generative model.
    """
    if isinstance(model, GAN):
        return "gan"
    if isinstance(model, VAE):
        return "vae"
    if isinstance(model, AutoregressiveModel):
        return "autoregressive"
    if isinstance(model, CycleGAN):
        return "cyclegan"
    raise TypeError(
        f"`model` must be a zoo GAN, VAE, autoregressive model (PixelCNN, GatedPixelCNN, RowLSTM, "
        f"DiagonalBiLSTM) or CycleGAN; got {type(model).__name__}."
    )


def _row_seeds(seed):
    """`(batch,)` int64 seeds to the `(batch, 2)` int32 stateless seeds of `zoo.ops.stateless_seed`."""
    checks = [tf.debugging.assert_positive(tf.size(seed), message="`seed` must have at least one row")]
    with tf.control_dependencies(checks):
        return tf.stack([tf.cast(tf.math.floormod(seed, _MAX_SEED), tf.int32), tf.zeros_like(seed, tf.int32)], -1)


def _check_labels(model, labels, rows):
    if not model.num_classes:
        return None
    checks = [
        tf.debugging.assert_equal(tf.size(labels), rows, message="`labels` must have one entry per row"),
        tf.debugging.assert_non_negative(labels, message=f"`labels` must lie in [0, {model.num_classes - 1}]"),
        tf.debugging.assert_less(labels, model.num_classes, message=f"`labels` must lie in [0, {model.num_classes - 1}]"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(labels)


def _check_images(model, images, low, high):
    """Checks shape and range in the graph: a fed tensor's static shape is not enforced by TF Serving."""
    expected = tf.constant(model.image_shape, tf.int32)
    checks = [
        tf.debugging.assert_equal(
            tf.shape(images)[1:], expected, message=f"`images` must have shape (batch, {', '.join(map(str, model.image_shape))})"
        ),
        tf.debugging.assert_greater_equal(images, tf.cast(low, images.dtype), message=f"`images` must lie in [{low}, {high}]"),
        tf.debugging.assert_less_equal(images, tf.cast(high, images.dtype), message=f"`images` must lie in [{low}, {high}]"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(images)


def _to_uint8(unit_images):
    return tf.cast(tf.round(tf.clip_by_value(unit_images, 0.0, 1.0) * 255.0), tf.uint8)


def _levels_outputs(model, levels):
    images = tf.cast(levels, tf.float32) / float(model.num_levels - 1)
    return {"levels": levels, "images": images, "images_uint8": _to_uint8(images)}


def _symmetric_outputs(images):
    return {"images": images, "images_uint8": _to_uint8((images + 1.0) / 2.0)}


def _spec(shape, dtype, name):
    return tf.TensorSpec(shape, dtype, name=name)


def _with_labels(model, specs):
    return specs + [_spec((None,), tf.int32, "labels")] if model.num_classes else specs


# GAN.
def _gan_endpoints(model):
    d = model.latent_dim

    def sample(seed, labels=None):
        seeds = _row_seeds(seed)
        # One `latents(1, seed=s)` per row: stateless_normal of shape (1, d) from the row's own seed.
        z = tf.map_fn(lambda s: model.latents(1, seed=s)[0], seeds, fn_output_signature=tf.float32)
        return _symmetric_outputs(model.generate(z, _check_labels(model, labels, tf.size(seed))))

    def generate(z, labels=None):
        # `GAN.generate` asserts in the graph that `z` is finite and latent_dim wide.
        return _symmetric_outputs(model.generate(z, _check_labels(model, labels, tf.shape(z)[0])))

    def interpolate(z0, z1, t, labels=None):
        z0 = ops.check_latents(z0, latent_dim=model.latent_dim, name="z0")
        z1 = ops.check_latents(z1, latent_dim=model.latent_dim, name="z1")
        rows = tf.shape(z0)[0]
        checks = [
            tf.debugging.assert_equal(tf.shape(z1)[0], rows, message="`z1` must have as many rows as `z0`"),
            tf.debugging.assert_equal(tf.size(t), rows, message="`t` must have one entry per row"),
            tf.debugging.assert_greater_equal(t, 0.0, message="`t` must lie in [0, 1]"),
            tf.debugging.assert_less_equal(t, 1.0, message="`t` must lie in [0, 1]"),
        ]
        with tf.control_dependencies(checks):
            t = tf.reshape(t, [-1, 1])
        # The slerp of `GAN.interpolate`, one pair of end points per row, through the model's call (the
        # generator) rather than `generate`: zero end points (the warm-up requests) make a NaN path, which
        # `generate`'s finite-latent assertion would turn into an error.
        path = ops.slerp(z0, z1, t)
        labels = _check_labels(model, labels, rows)
        return _symmetric_outputs(model((path, labels) if model.num_classes else path, training=False))

    z_spec = _spec((None, d), tf.float32, "z")
    return [
        ("sample", sample, _with_labels(model, [_spec((None,), tf.int64, "seed")])),
        ("generate", generate, _with_labels(model, [z_spec])),
        (
            "interpolate",
            interpolate,
            _with_labels(
                model, [_spec((None, d), tf.float32, "z0"), _spec((None, d), tf.float32, "z1"), _spec((None,), tf.float32, "t")]
            ),
        ),
    ]


# VAE.
def _vae_endpoints(model, num_importance_samples):
    from zoo.vae import vae_layers

    levels_spec = _spec((None,) + model.image_shape, tf.int32, "images")
    top = model.num_levels - 1

    def sample(seed, labels=None):
        seeds = _row_seeds(seed)
        labels = _check_labels(model, labels, tf.size(seed))
        # `VAE.sample` splits its seed into a latent seed and a pixel seed; here every row splits its own.
        split = tf.map_fn(tf.random.experimental.stateless_split, seeds, fn_output_signature=tf.TensorSpec((2, 2), tf.int32))
        z = tf.map_fn(lambda s: model.prior.sample(1, seed=s)[0], split[:, 0], fn_output_signature=tf.float32)
        params = model.decoder([z, labels] if model.num_classes else z)
        levels = tf.map_fn(
            lambda a: vae_layers.pixel_likelihood(a[0][None], model.image_shape, model.num_levels).sample(seed=a[1])[0],
            (params, split[:, 1]),
            fn_output_signature=tf.int32,
        )
        return _levels_outputs(model, levels)

    def encode(images, labels=None):
        images = _check_images(model, images, 0, top)
        posterior = model.encode(images, _check_labels(model, labels, tf.shape(images)[0]))
        return {"mean": posterior.mean(), "scale": posterior.stddev()}

    def decode(z, labels=None):
        # `VAE.decode` asserts in the graph that `z` is finite and latent_dim wide.
        images = model.decode_mean(z, _check_labels(model, labels, tf.shape(z)[0]))
        return {"images": images, "images_uint8": _to_uint8(images)}

    def log_prob_bound(images, seed, labels=None):
        images = _check_images(model, images, 0, top)
        rows = tf.shape(images)[0]
        checks = [tf.debugging.assert_equal(tf.size(seed), rows, message="`seed` must have one entry per row of `images`")]
        with tf.control_dependencies(checks):
            seeds = _row_seeds(seed)
        labels = _check_labels(model, labels, rows)
        row_labels = tf.zeros([rows], tf.int32) if labels is None else labels

        def one_row(args):
            image, s, label = args
            return model.log_prob_bound(
                image[None], num_samples=num_importance_samples, labels=label[None] if model.num_classes else None, seed=s
            )[0]

        bound = tf.map_fn(one_row, (images, seeds, row_labels), fn_output_signature=tf.float32)
        return {"log_prob_bound": bound, "bits_per_dim": ops.bits_per_dim(-bound, model.image_shape)}

    z_spec = _spec((None, model.latent_dim), tf.float32, "z")
    seed_spec = _spec((None,), tf.int64, "seed")
    return [
        ("sample", sample, _with_labels(model, [seed_spec])),
        ("encode", encode, _with_labels(model, [levels_spec])),
        ("decode", decode, _with_labels(model, [z_spec])),
        ("log_prob_bound", log_prob_bound, _with_labels(model, [levels_spec, seed_spec])),
    ]


# Autoregressive models.
def _autoregressive_endpoints(model):
    """`sample_rows`, `complete_rows` and `log_prob` of the model: its public per-row verbs, with in-graph checks."""
    levels_spec = _spec((None,) + model.image_shape, tf.int32, "images")
    top = model.num_levels - 1

    def sample(seed, labels=None):
        checks = [tf.debugging.assert_positive(tf.size(seed), message="`seed` must have at least one row")]
        with tf.control_dependencies(checks):
            seed = tf.identity(seed)
        labels = _check_labels(model, labels, tf.size(seed))
        return _levels_outputs(model, model.sample_rows(seed, labels=labels))

    def complete(images, known_mask, seed, labels=None):
        images = _check_images(model, images, 0, top)
        rows = tf.shape(images)[0]
        checks = [
            tf.debugging.assert_equal(tf.shape(known_mask), tf.shape(images), message="`known_mask` must have the shape of `images`"),
            tf.debugging.assert_equal(tf.size(seed), rows, message="`seed` must have one entry per row of `images`"),
        ]
        with tf.control_dependencies(checks):
            seed = tf.identity(seed)
        labels = _check_labels(model, labels, rows)
        return _levels_outputs(model, model.complete_rows(images, known_mask, seed, labels=labels))

    def log_prob(images, labels=None):
        images = _check_images(model, images, 0, top)
        nats = model.log_prob(images, labels=_check_labels(model, labels, tf.shape(images)[0]))
        return {"log_prob": nats, "bits_per_dim": ops.bits_per_dim(-nats, model.image_shape)}

    seed_spec = _spec((None,), tf.int64, "seed")
    mask_spec = _spec((None,) + model.image_shape, tf.bool, "known_mask")
    return [
        ("sample", sample, _with_labels(model, [seed_spec])),
        ("complete", complete, _with_labels(model, [levels_spec, mask_spec, seed_spec])),
        ("log_prob", log_prob, _with_labels(model, [levels_spec])),
    ]


# CycleGAN.
def _cyclegan_endpoints(model):
    images_spec = _spec((None,) + model.image_shape, tf.float32, "images")

    def translator(direction):
        def translate(images):
            return _symmetric_outputs(model.translate(_check_images(model, images, -1.0, 1.0), direction))

        return translate

    return [("a2b", translator("a2b"), [images_spec]), ("b2a", translator("b2a"), [images_spec])]


def endpoints(model, num_importance_samples=100):
    """The serving functions of `model`: a list of `(signature_name, fn, input_signature)`.

    `fn` takes the signature's inputs as tensors and returns a dict of output tensors; the first entry is
    `sample` (`a2b` for CycleGAN), which `ExportArchive` also registers as `serving_default`.

    Args:
        model: a zoo GAN, VAE, autoregressive model or CycleGAN.
        num_importance_samples: K of the VAE's `log_prob_bound` signature (fixed in the graph). Default 100.
    """
    kind = signature_family(model)
    if kind == "gan":
        return _gan_endpoints(model)
    if kind == "vae":
        if isinstance(num_importance_samples, bool) or not isinstance(num_importance_samples, int) or num_importance_samples < 1:
            raise ValueError(f"`num_importance_samples` must be a positive int; got {num_importance_samples!r}.")
        return _vae_endpoints(model, num_importance_samples)
    if kind == "cyclegan":
        return _cyclegan_endpoints(model)
    return _autoregressive_endpoints(model)


def next_version(model_dir):
    """1 + the largest numeric version directory in `model_dir` (1 if there is none)."""
    versions = [int(d) for d in os.listdir(model_dir) if d.isdigit()] if os.path.isdir(model_dir) else []
    return max(versions, default=0) + 1


def example_inputs(input_signature, rows=1):
    """Valid inputs for a signature, `rows` rows: seeds 0, 1, ..., zero images, latents and labels, t = 0.5."""
    inputs = {}
    for spec in input_signature:
        shape = (rows,) + tuple(spec.shape[1:])
        if spec.name == "seed":
            inputs[spec.name] = np.arange(rows, dtype=np.int64)
        elif spec.name == "t":
            inputs[spec.name] = np.full(shape, 0.5, np.float32)
        else:
            inputs[spec.name] = np.zeros(shape, spec.dtype.as_numpy_dtype)
    return inputs


def write_warmup_requests(export_dir, name, model_endpoints):
    """Writes `assets.extra/tf_serving_warmup_requests`: one `PredictionLog` per signature, one row each.

    TF Serving replays these records when it loads the version, so the first real request does not pay for
    graph initialisation. `serving_default` gets its own record (it is what most clients call). The protos
    come from `tensorflow-serving-api==2.21.0`, the release made for TensorFlow 2.21; it requires only
    `tensorflow>=2.21,<3`, `grpcio` and `protobuf`, so installing it changes no pinned version.

    Returns:
        The path of the file.
    """
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = os.path.join(export_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    named = [("serving_default", model_endpoints[0][2])] + [(n, specs) for n, _, specs in model_endpoints]
    with tf.io.TFRecordWriter(path) as writer:
        for signature, specs in named:
            request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=name, signature_name=signature))
            for key, value in example_inputs(specs).items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def write_models_config(base_dir, serving_base_path=None):
    """Writes `BASE/models.config`, TF Serving's `model_config_list` over every model exported in BASE.

    A model is a directory of BASE holding at least one numeric version with a `saved_model.pb`.

    Args:
        base_dir: the export base directory.
        serving_base_path: the path of BASE as the server sees it (e.g. "/models" inside the serving
            container); default: the absolute local path of BASE.

    Returns:
        The path of the file.
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    root = serving_base_path or os.path.abspath(base_dir)
    config = model_server_config_pb2.ModelServerConfig()
    for name in sorted(os.listdir(base_dir)):
        model_dir = os.path.join(base_dir, name)
        if not os.path.isdir(model_dir):
            continue
        if any(v.isdigit() and os.path.exists(os.path.join(model_dir, v, "saved_model.pb")) for v in os.listdir(model_dir)):
            entry = config.model_config_list.config.add()
            entry.name, entry.base_path, entry.model_platform = name, f"{root.rstrip('/')}/{name}", "tensorflow"
    path = os.path.join(base_dir, MODELS_CONFIG)
    atomic.write_text(path, text_format.MessageToString(config))
    return path


def to_saved_model(model, base_dir, name, version=None, num_importance_samples=100, serving_base_path=None):
    """Exports `model` for TF Serving as `base_dir/name/version/` and updates `base_dir/models.config`.

    The version is written to a temporary directory beside it and renamed into place, so a server watching
    BASE never loads half a model.

    Args:
        model: a built zoo GAN, VAE or autoregressive model (e.g. `keras.models.load_model("model.keras")`).
        base_dir: the export base directory (TF Serving's `--model_base_path` is `base_dir/name`).
        name: the model's serving name; letters, digits, `_`, `-` and `.`.
        version: positive int; default: one more than the newest version in `base_dir/name`.
        num_importance_samples: K of the VAE `log_prob_bound` signature. Default 100.
        serving_base_path: BASE as the server will see it, written into models.config (default: local path).

    Returns:
        The SavedModel directory `base_dir/name/version`.

    Example:
        >>> to_saved_model(keras.models.load_model("runs/dcgan/model.keras"), "models", "dcgan")
        'models/dcgan/1'

    Raises:
        TypeError: `model` is not a zoo generative model.
        ValueError: bad `name` or `version`, or the version already exists.
    """
    signature_family(model)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name) or name in (".", ".."):
        raise ValueError(f"`name` must be a non-empty string of letters, digits, '_', '-' and '.'; got {name!r}.")
    model_dir = os.path.join(base_dir, name)
    if version is None:
        version = next_version(model_dir)
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"`version` must be a positive int; got {version!r}.")
    export_dir = os.path.join(model_dir, str(int(version)))
    if os.path.exists(export_dir):
        raise ValueError(f"`version` {version} of {name!r} already exists at {export_dir}; pick another version.")
    model_endpoints = endpoints(model, num_importance_samples)

    archive = keras.export.ExportArchive()
    archive.track(model)
    for signature, fn, specs in model_endpoints:
        archive.add_endpoint(signature, fn, specs)
    os.makedirs(model_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir)  # Not numeric: TF Serving skips it.
    try:
        archive.write_out(staging, verbose=False)
        write_warmup_requests(staging, name, model_endpoints)
        os.rename(staging, export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_models_config(base_dir, serving_base_path)
    return export_dir
