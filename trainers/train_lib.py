"""`train_and_evaluate(config)`: the one training routine behind the CLI, the tests and the benchmarks.

A run lives in a work directory:

    WORKDIR/config.json          the resolved configuration (defaults filled in from the registry)
    WORKDIR/backup/              weights + optimizer state + epoch, for resuming after a kill
    WORKDIR/checkpoints/         epoch_NNNN.keras, complete models after each epoch (the newest 3)
    WORKDIR/samples/             epoch_NNNN.png and latest.png sample grids
    WORKDIR/tensorboard/         scalars (train/validation) and sample images
    WORKDIR/model.keras          the final model
    WORKDIR/history.csv          one row of metrics per completed epoch
    WORKDIR/metrics.json         final train and test metrics, speed and wall time

Running the same configuration again in the same work directory resumes from the last completed epoch. With
`strategy="multi_worker"` every worker runs the same call with the same workdir (a shared file system) and only
the chief writes these files.

Example:
    >>> from trainers import train_lib
    >>> cfg = train_lib.TrainConfig(model="vae", workdir="/tmp/vae", epochs=1, steps_per_epoch=20)
    >>> metrics = train_lib.train_and_evaluate(cfg)
"""

import dataclasses
import json
import os
import time
from typing import Any, Dict, Optional, Tuple

import keras
import numpy as np

from trainers import callbacks as zoo_callbacks
from trainers import data, distribute, registry
from zoo.classifier import pretrained
from zoo.gan import losses
from zoo import ops
from zoo.gan.gan import GAN
from zoo.utils import atomic

STRATEGIES = distribute.STRATEGIES


class TrainingDivergedError(RuntimeError):
    """A loss or metric became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass
class TrainConfig:
    """Everything one training run depends on. `None` fields take the model's registry default.

    Args:
        model: registered model name (see `trainers.registry.MODELS`).
        workdir: directory for checkpoints, samples, logs and metrics; rerunning resumes there.
        dataset: TFDS image dataset name.
        epochs: number of epochs.
        batch_size: global batch size (split across replicas under a strategy).
        learning_rate: learning rate of every optimizer.
        seed: seeds weights, data order and training noise.
        steps_per_epoch: batches per epoch; None = the whole training split.
        num_levels: quantisation levels for "levels" models (2 = binarized).
        binarize: "fixed" or "stochastic" binarization when num_levels is 2.
        model_kwargs: constructor hyperparameters overriding the registry's.
        train_take: use only the first N training examples.
        eval_take: evaluate on only the first N test examples.
        eval_split: split used for the final evaluation.
        num_grid_samples: images in each per-epoch sample grid (0 disables the grids).
        strategy: "default" (one device), "mirrored" (`tf.distribute.MirroredStrategy` over the local devices),
            "multi_worker" (`MultiWorkerMirroredStrategy` over the machines of the `TF_CONFIG` environment variable)
            or "tpu" (`TPUStrategy`); see `trainers.distribute`. `batch_size` stays the global batch.
        tpu: for strategy="tpu": the TPU's name or grpc:// address; None = `TPU_NAME`, else the local TPU of a
            Cloud TPU VM.
        data_dir: TFDS data directory.
        verbose: Keras progress output (1 = progress bar, 2 = one line per epoch, 0 = silent).
        domains: unpaired models only (cyclegan): the classes of domains A and B, as indices or names; None
            takes the dataset's default (fashion_mnist: 7, 9 = sneaker -> ankle boot). Must be None for
            `cycle_gan/*` datasets, whose splits are the domains.
        image_size: unpaired models only: resize images to `image_size x image_size` (needed for `cycle_gan/*`,
            whose images vary in size).
        validate_every_epoch: score the whole eval split after every epoch (Keras validation: `val_*` columns
            in `history.csv`, e.g. the test NLL per epoch of a likelihood model: its learning curve).
        quality_samples: for generators, FID and precision/recall of this many samples against as many eval-split
            images after every epoch (`fid`, `precision`, `recall` columns; `trainers.callbacks.SampleQuality`),
            in the shipped classifier's feature space. 0 (default) = off.
        loss: GANs only: the game passed to `compile` ("non_saturating", "minimax", "wasserstein" or
            "least_squares"); None (default) = the registry's.
        ema_momentum: models trained by one optimizer (not the GANs or CycleGAN): keep exponential moving
            averages of the weights with this momentum (Polyak averaging; `keras.optimizers.Adam(use_ema=True)`),
            e.g. 0.9995 as in PixelCNN++ (averages over about 1 / (1 - momentum) steps). The per-epoch
            validation, the final evaluation and `model.keras` use the averages; the backups, epoch
            checkpoints and per-epoch sample grids keep the raw weights, so a run resumes exactly. None
            (default) = off. A work directory keeps the setting it started with.
    """

    model: str = "vae"
    workdir: str = "runs/vae"
    dataset: str = "fashion_mnist"
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    learning_rate: Optional[float] = None
    seed: int = 0
    steps_per_epoch: Optional[int] = None
    num_levels: Optional[int] = None
    binarize: str = "fixed"
    model_kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)
    train_take: Optional[int] = None
    eval_take: Optional[int] = None
    eval_split: str = "test"
    num_grid_samples: int = 64
    strategy: str = "default"
    tpu: Optional[str] = None
    data_dir: Optional[str] = None
    verbose: int = 1
    domains: Optional[Tuple[Any, Any]] = None
    image_size: Optional[int] = None
    validate_every_epoch: bool = False
    quality_samples: int = 0
    loss: Optional[str] = None
    ema_momentum: Optional[float] = None

    def resolved(self):
        """A copy with the registry defaults filled in and every field validated."""
        spec = registry.get_spec(self.model)
        cfg = dataclasses.replace(
            self,
            epochs=spec.epochs if self.epochs is None else self.epochs,
            batch_size=spec.batch_size if self.batch_size is None else self.batch_size,
            learning_rate=spec.learning_rate if self.learning_rate is None else self.learning_rate,
            steps_per_epoch=spec.steps_per_epoch if self.steps_per_epoch is None else self.steps_per_epoch,
            num_levels=(spec.num_levels if self.num_levels is None else self.num_levels)
            if spec.preprocessing == "levels"
            else None,
            model_kwargs={**spec.model_kwargs, **dict(self.model_kwargs)},
        )
        if not spec.unpaired and (cfg.domains is not None or cfg.image_size is not None):
            raise ValueError(f"`domains` and `image_size` apply to unpaired translation models (cyclegan), not {cfg.model!r}.")
        if spec.unpaired and cfg.domains is None:
            cfg.domains = data.DEFAULT_DOMAINS.get(cfg.dataset)
        if cfg.domains is not None:
            cfg.domains = tuple(cfg.domains)
        for name in ("epochs", "batch_size"):
            value = getattr(cfg, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
        if cfg.steps_per_epoch is not None and (not isinstance(cfg.steps_per_epoch, int) or cfg.steps_per_epoch < 1):
            raise ValueError(f"`steps_per_epoch` must be a positive int or None; got {cfg.steps_per_epoch!r}.")
        if not cfg.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be > 0; got {cfg.learning_rate!r}.")
        if cfg.strategy not in STRATEGIES:
            raise ValueError(f"`strategy` must be one of {STRATEGIES}; got {cfg.strategy!r}.")
        if not cfg.workdir:
            raise ValueError("`workdir` must be a directory path.")
        if isinstance(cfg.quality_samples, bool) or not isinstance(cfg.quality_samples, int) or cfg.quality_samples < 0:
            raise ValueError(f"`quality_samples` must be an int >= 0; got {cfg.quality_samples!r}.")
        if cfg.quality_samples and spec.unpaired:
            raise ValueError("`quality_samples` scores samples; unpaired translation models draw none.")
        if cfg.loss is not None:
            if not issubclass(spec.model_class(), GAN):
                gans = sorted(name for name, s in registry.MODELS.items() if issubclass(s.model_class(), GAN))
                raise ValueError(f"`loss` applies to the GANs ({', '.join(gans)}), not {cfg.model!r}.")
            if cfg.loss not in losses.GAMES:
                raise ValueError(f"`loss` must be None or one of {sorted(losses.GAMES)}; got {cfg.loss!r}.")
        if cfg.ema_momentum is not None:
            if isinstance(cfg.ema_momentum, bool) or not isinstance(cfg.ema_momentum, (int, float)) or not (
                0 < cfg.ema_momentum < 1
            ):
                raise ValueError(f"`ema_momentum` must be None or a float in (0, 1); got {cfg.ema_momentum!r}.")
            if spec.optimizers != ("optimizer",):
                raise ValueError(
                    f"`ema_momentum` applies to models trained by one optimizer; {cfg.model!r} has "
                    f"{len(spec.optimizers)} ({', '.join(spec.optimizers)})."
                )
        cfg.preprocessing()  # Validates num_levels and binarize.
        return cfg

    @property
    def spec(self):
        return registry.get_spec(self.model)

    def preprocessing(self):
        spec = self.spec
        if spec.preprocessing == "levels":
            return data.Preprocessing("levels", num_levels=self.num_levels, binarize=self.binarize)
        if self.binarize != "fixed":
            raise ValueError(f"`binarize` applies to models on binarized levels; {self.model!r} uses {spec.preprocessing!r}.")
        return data.Preprocessing(spec.preprocessing)


def build_model(config, image_shape, num_classes):
    """Builds and compiles the registered model in the current strategy scope."""
    spec = config.spec
    kwargs = dict(config.model_kwargs)
    if spec.preprocessing == "levels":
        kwargs["num_levels"] = config.num_levels
    model = spec.model_class()(image_shape=image_shape, num_classes=num_classes if spec.conditional else None, **kwargs)
    ema = {} if config.ema_momentum is None else {"use_ema": True, "ema_momentum": config.ema_momentum}
    optimizers = {
        name: keras.optimizers.Adam(learning_rate=config.learning_rate, **spec.adam_kwargs, **ema)
        for name in spec.optimizers
    }
    compile_kwargs = dict(spec.compile_kwargs, **({"loss": config.loss} if config.loss else {}))
    model.compile(**optimizers, **compile_kwargs)
    return model


def _grid_labels(num_samples, num_classes):
    return np.arange(num_samples, dtype=np.int32) % num_classes


def _sample_quality(cfg, prep, classes):
    """The `SampleQuality` callback of `cfg.quality_samples` samples against the first as many eval-split images."""
    classifier = pretrained.load_feature_classifier(cfg.dataset)

    def features(images):
        return classifier.features(images).numpy()

    real = features(data.unit_images(cfg.dataset, cfg.eval_split, prep, cfg.quality_samples, cfg.data_dir))
    return zoo_callbacks.SampleQuality(
        real, features, prep.to_unit, cfg.quality_samples, seed=cfg.seed + 4321,
        labels_fn=(lambda n: _grid_labels(n, classes)) if classes else None,
    )


def _check_workdir(cfg, write=True):
    """Refuses to resume a work directory that holds a run of another model or dataset; writes config.json."""
    path = os.path.join(cfg.workdir, "config.json")
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        # A run keeps its Polyak averaging setting: switched on or off, its optimizer state would not match.
        for key in ("model", "dataset", "num_levels", "domains", "image_size", "ema_momentum"):
            if previous.get(key) != json.loads(json.dumps(getattr(cfg, key))):  # Tuples come back as lists.
                raise ValueError(
                    f"{cfg.workdir} holds a run with {key}={previous.get(key)!r}, not {getattr(cfg, key)!r}: "
                    "use another --workdir, or delete this one to start over."
                )
    if not write:
        return
    os.makedirs(cfg.workdir, exist_ok=True)
    atomic.write_json(path, dataclasses.asdict(cfg), indent=2, sort_keys=True)


def _datasets(cfg, prep, group=1):
    """`(train_ds, test_ds, image_shape, num_classes, steps_per_epoch)` of a resolved config.

    `num_classes` is None for an unconditional model; unpaired models get `(images_a, images_b)` batches. The
    training batches are one seeded stream over all epochs (repeated), so that a resumed run can replay it to
    where it stopped; `steps_per_epoch` is None when the length is unknown (then epoch by epoch).
    """
    spec = cfg.spec
    shape = data.image_shape(cfg.dataset, cfg.data_dir)
    classes = data.num_classes(cfg.dataset, cfg.data_dir) if spec.conditional else None
    if spec.unpaired:
        unpaired = _unpaired_kwargs(cfg, prep)
        train_ds = data.load_unpaired(cfg.dataset, "train", batch_size=cfg.batch_size, seed=cfg.seed, take=cfg.train_take, **unpaired)
        test_ds = data.load_unpaired(cfg.dataset, cfg.eval_split, batch_size=cfg.batch_size, shuffle=False, take=cfg.eval_take, **unpaired)
        shape = tuple(train_ds.element_spec[0].shape[1:])
    else:
        load = dict(preprocessing=prep, batch_size=cfg.batch_size, with_labels=spec.conditional, data_dir=cfg.data_dir)
        train_ds = data.load(cfg.dataset, "train", seed=cfg.seed, take=cfg.train_take, group=group, **load)
        # TPUs compile for static shapes: there the evaluation drops the last partial batch.
        test_ds = data.load(cfg.dataset, cfg.eval_split, shuffle=False, take=cfg.eval_take,
                            drop_remainder=True if cfg.strategy == "tpu" else None, **load)
    steps_per_epoch = cfg.steps_per_epoch or int(train_ds.cardinality())
    if steps_per_epoch > 0:
        train_ds = train_ds.repeat()
    else:  # An unknown length (an unpaired dataset whose classes could not be counted): epoch by epoch.
        steps_per_epoch = None
    return train_ds, test_ds, shape, classes, steps_per_epoch


def _model_and_datasets(cfg, prep, strategy):
    """`(model, train_ds, test_ds, num_classes, steps_per_epoch)`, the model built in `strategy`'s scope.

    The model comes first, because a GAN whose k discriminator steps each take a fresh real minibatch reads
    k images per example (`real_images_per_example`); an unpaired model's image shape comes from its data.
    """
    if cfg.spec.unpaired:
        train_ds, test_ds, shape, classes, steps_per_epoch = _datasets(cfg, prep)
        with strategy.scope():
            model = build_model(cfg, shape, classes)
        return model, train_ds, test_ds, classes, steps_per_epoch
    shape = data.image_shape(cfg.dataset, cfg.data_dir)
    classes = data.num_classes(cfg.dataset, cfg.data_dir) if cfg.spec.conditional else None
    with strategy.scope():
        model = build_model(cfg, shape, classes)
    group = getattr(model, "real_images_per_example", 1)
    train_ds, test_ds, _, _, steps_per_epoch = _datasets(cfg, prep, group=group)
    return model, train_ds, test_ds, classes, steps_per_epoch


def _unpaired_kwargs(cfg, prep):
    return dict(preprocessing=prep, domains=cfg.domains, image_size=cfg.image_size, data_dir=cfg.data_dir)


@dataclasses.dataclass
class _RunCallbacks:
    """The callbacks of a run, with the ones `train_and_evaluate` reads after `fit` by name."""

    all: list
    nan_guard: zoo_callbacks.StopOnNaN
    backup: zoo_callbacks.ResumableBackup
    throughput: zoo_callbacks.Throughput
    grid: Optional[zoo_callbacks.SampleGrid]


def _backup(cfg, chief):
    return zoo_callbacks.ResumableBackup(
        os.path.join(cfg.workdir, "backup"),
        history_path=os.path.join(cfg.workdir, "history.csv"),  # Rewritten from the backup: no epoch twice.
        fallback_dir=os.path.join(cfg.workdir, "checkpoints"),
        chief=chief,
    )


def _callbacks(cfg, prep, classes, chief, backup):
    """Epoch time, NaN guard, sample quality (`--quality_samples`), `backup`, epoch checkpoints, speed, and on
    the chief TensorBoard and a sample grid."""
    run = _RunCallbacks([], zoo_callbacks.StopOnNaN(), backup, zoo_callbacks.Throughput(cfg.batch_size), None)
    run.all = [zoo_callbacks.EpochSeconds(), run.nan_guard]
    if cfg.ema_momentum is not None:
        run.all.append(zoo_callbacks.EvaluateAveragedWeights())
    if cfg.quality_samples:
        run.all.append(_sample_quality(cfg, prep, classes))  # Before the callbacks that record the logs.
    run.all += [
        backup,
        zoo_callbacks.EpochCheckpoint(os.path.join(cfg.workdir, "checkpoints"), chief=chief),
        run.throughput,
    ]
    if chief:
        run.all.append(keras.callbacks.TensorBoard(os.path.join(cfg.workdir, "tensorboard"), write_graph=False))
    if chief and cfg.num_grid_samples:
        run.grid = _grid(cfg, prep, classes)
        run.all.append(run.grid)
    return run


def _grid(cfg, prep, classes):
    """The per-epoch picture: translations of fixed images for unpaired models, else a sample grid."""
    directory, log_dir = os.path.join(cfg.workdir, "samples"), os.path.join(cfg.workdir, "tensorboard")
    if cfg.spec.unpaired:
        # Six rows (inputs, translations, reconstructions of each domain) of about num_grid_samples / 6 images.
        per_domain = max(1, cfg.num_grid_samples // 6)
        images_a, images_b = next(iter(data.load_unpaired(
            cfg.dataset, cfg.eval_split, batch_size=per_domain, shuffle=False, take=per_domain,
            **_unpaired_kwargs(cfg, prep)
        )))
        return zoo_callbacks.TranslationGrid(directory, to_unit=prep.to_unit, images_a=images_a, images_b=images_b,
                                             log_dir=log_dir)
    return zoo_callbacks.SampleGrid(
        directory,
        to_unit=prep.to_unit,
        num_samples=cfg.num_grid_samples,
        seed=cfg.seed + 1234,
        labels=_grid_labels(cfg.num_grid_samples, classes) if classes else None,
        log_dir=log_dir,
    )


def _fit(model, train_ds, test_ds, cfg, run, steps_per_epoch):
    """`(history, seconds)` of `model.fit` (validated on `test_ds` each epoch with `--validate_every_epoch`);
    raises `TrainingDivergedError` if the NaN guard stopped it."""
    start = time.perf_counter()
    history = model.fit(
        train_ds,
        epochs=cfg.epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=run.all,
        shuffle=False,  # The tf.data pipeline shuffles with the seed.
        verbose=cfg.verbose,
        validation_data=test_ds if cfg.validate_every_epoch else None,
    )
    train_seconds = time.perf_counter() - start
    diverged = run.nan_guard.diverged_at
    if diverged is not None:
        raise TrainingDivergedError(
            f"Training diverged at epoch {diverged['epoch']}, batch {diverged['batch']}: "
            f"{diverged['logs']}. The last good state is in {run.backup.backup_dir} and "
            f"{os.path.join(cfg.workdir, 'checkpoints')}; try a lower --learning_rate."
        )
    return history, train_seconds


def _metrics(cfg, model, strategy, run, results):
    """The run's metrics dict; `results` holds `history`, `test` (evaluate's dict) and `train_seconds`."""
    backup = run.backup
    return {
        "model": cfg.model,
        "dataset": cfg.dataset,
        "epochs": cfg.epochs,
        "resumed_from_epoch": backup.restored_epoch,
        "resumed_from": backup.restored_from,
        "checkpoint_problems": backup.problems,
        "strategy": cfg.strategy,
        "num_replicas": strategy.num_replicas_in_sync,
        "train": {k: float(v[-1]) for k, v in results["history"].history.items()},
        cfg.eval_split: {k: float(v) for k, v in results["test"].items()},
        "train_images_per_second": run.throughput.median,
        "train_seconds": results["train_seconds"],
        "parameters": int(model.count_params()),
        "workdir": os.path.abspath(cfg.workdir),
        "samples_png": os.path.abspath(os.path.join(cfg.workdir, "samples", "latest.png")) if run.grid else None,
    }


def train_and_evaluate(config: TrainConfig):
    """Trains `config.model` on `config.dataset`, evaluates it, and writes the run's files to the workdir.

    In order: the model in the strategy's scope and the datasets (`_model_and_datasets`), the model's data-dependent
    initialisation if it has one (PixelCNN++ with weight normalisation), the restored backup (and the batches of
    the restored epochs skipped), callbacks (`_callbacks`), `fit` (`_fit`), evaluation, then the final model, the
    last sample grid and `metrics.json`.

    Args:
        config: a `TrainConfig`.

    Returns:
        The metrics dict also written to `WORKDIR/metrics.json`.

    Raises:
        ValueError: a bad configuration (unknown model, bad sizes, a workdir of another run).
        trainers.data.DataUnavailableError: the dataset cannot be found or downloaded.
        TrainingDivergedError: a metric became non-finite; the last good epoch's checkpoint is kept.
        trainers.distribute.StrategyUnavailableError: strategy="tpu" found no TPU.
    """
    cfg = config.resolved()
    # Before anything runs a TensorFlow op: MultiWorkerMirroredStrategy sets up collective ops at creation.
    strategy = distribute.make_strategy(cfg.strategy, cfg.tpu)
    distribute.check_batch_size(cfg.batch_size, strategy)
    chief = distribute.is_chief(strategy)
    _check_workdir(cfg, write=chief)
    keras.utils.set_random_seed(cfg.seed)
    prep = cfg.preprocessing()
    model, train_ds, test_ds, classes, steps_per_epoch = _model_and_datasets(cfg, prep, strategy)
    if getattr(model, "data_dependent_init", False):
        # Also when resuming (the restore then overwrites it), so that a resumed run reads the training data as
        # many times as the run it resumes and its replayed shuffles stay the same.
        model.initialize_from_data(*ops.unpack_batch(next(iter(train_ds)), conditional=bool(classes)))
    backup = _backup(cfg, chief)
    start_epoch = backup.restore(model)
    if steps_per_epoch:
        # Replays the batches of the restored epochs (their shuffles and stochastic binarizations), so that with the
        # restored weights, optimizers and noise streams the run goes on exactly as if never interrupted. Costs one
        # pass of the pipeline per restored epoch, no training step.
        train_ds = train_ds.skip(start_epoch * steps_per_epoch)
    train_ds, test_ds = distribute.shard_by_data(train_ds), distribute.shard_by_data(test_ds)
    run = _callbacks(cfg, prep, classes, chief, backup)
    history, train_seconds = _fit(model, train_ds, test_ds, cfg, run, steps_per_epoch)
    test_metrics = model.evaluate(test_ds, verbose=0, return_dict=True)
    if chief:
        with atomic.destination(os.path.join(cfg.workdir, "model.keras")) as tmp:
            model.save(tmp)
    if run.grid is not None and run.grid.last_path is None:
        run.grid.set_model(model)
        run.grid.write(cfg.epochs)
    metrics = _metrics(cfg, model, strategy, run, {"history": history, "test": test_metrics, "train_seconds": train_seconds})
    if chief:
        atomic.write_json(os.path.join(cfg.workdir, "metrics.json"), metrics, indent=2, sort_keys=True)
    return metrics
