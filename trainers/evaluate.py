r"""Evaluates a trained zoo model: `python -m trainers.evaluate --workdir=DIR [flags]`.

Flags only; the logic is `trainers.eval_lib.evaluate`. Prints the result as one JSON line and writes it to
`WORKDIR/eval.json`: likelihoods (NLL, or ELBO and the importance-weighted bound) in nats and bits/dim, and
FID, KID and precision/recall of generated samples beside their real-against-real floor.

Example:
    python -m trainers.evaluate --workdir=runs/vae --iwae_k=1000
    python -m trainers.evaluate --workdir=runs/dcgan --num_samples=10000
    python -m trainers.evaluate --workdir=runs/pixel_cnn --num_samples=1000 --take=2000
"""


from absl import app, flags

from trainers import cli, data, eval_lib

_WORKDIR = flags.DEFINE_string("workdir", None, "Training work directory to evaluate.", required=True)
_SPLIT = flags.DEFINE_string("split", "test", "Split the model is scored on.")
_REFERENCE = flags.DEFINE_string("reference_split", "train", "Split of the real-against-real floor.")
_TAKE = flags.DEFINE_integer("take", None, "Score likelihoods on the first N images of --split only.")
_IWAE_K = flags.DEFINE_integer("iwae_k", 100, "Importance samples of the VAE bound.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 10000, "Generated images for FID/KID/precision/recall (0 = skip).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 250, "Images per batch.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of likelihood estimates, samples and KID subsets.")
_INCEPTION = flags.DEFINE_string("inception_weights", None, "InceptionV3 no-top weights (.h5) for the standard FID.")
_CLASSIFIER_DIR = flags.DEFINE_string("classifier_dir", None, "Feature classifier weights directory (default: shipped).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")


def main(argv):
    del argv
    config = eval_lib.EvalConfig(
        workdir=_WORKDIR.value,
        split=_SPLIT.value,
        reference_split=_REFERENCE.value,
        take=_TAKE.value,
        iwae_k=_IWAE_K.value,
        num_samples=_NUM_SAMPLES.value,
        batch_size=_BATCH_SIZE.value,
        seed=_SEED.value,
        inception_weights=_INCEPTION.value,
        classifier_dir=_CLASSIFIER_DIR.value,
        data_dir=_DATA_DIR.value,
    )
    cli.run_and_report(eval_lib.evaluate, config, (ValueError, FileNotFoundError, data.DataUnavailableError))


if __name__ == "__main__":
    app.run(main)
