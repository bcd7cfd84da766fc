"""The patches of Keras internals run only on the Keras version they were written for."""

import keras
import pytest

from trainers import callbacks, keras_internals


def test_the_installed_keras_is_the_version_the_patches_were_written_for(tmp_path):
    keras_internals.check_keras_version("test")  # The pinned Keras: no error.
    callbacks.ResumableBackup(str(tmp_path / "backup"))


@pytest.mark.parametrize("version", ["3.16.0", "3.14.2", "4.0.0", "nightly"])
def test_another_keras_version_fails_with_a_message_naming_both_versions(version):
    with pytest.raises(RuntimeError, match=rf"ResumableBackup patches private internals of Keras 3\.15\.x .*found Keras {version}"):
        keras_internals.check_keras_version("ResumableBackup", version)


def test_the_backup_and_the_multi_worker_reduction_check_the_version(monkeypatch, tmp_path):
    from trainers import distribute

    monkeypatch.setattr(keras, "__version__", "3.99.0")
    with pytest.raises(RuntimeError, match="ResumableBackup patches private internals"):
        callbacks.ResumableBackup(str(tmp_path / "backup"))
    with pytest.raises(RuntimeError, match="multi_worker.*patches private internals"):
        distribute._reduce_scalar_logs_across_workers()
