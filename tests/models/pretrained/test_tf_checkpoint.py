"""The pure-Python TensorFlow checkpoint reader, on bundles written in TensorFlow's exact layout by the tests' own
writer, and on the musicnn wheel's real checkpoints where the wheel is installed."""
import os

import numpy as np
import pytest

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models.pretrained.registry import musicnn_package_folder
from gtzan_gpu.models.pretrained.tf_checkpoint import (checkpoint_prefix, crc32c, crc32c_array, read_checkpoint,
                                                      unmask_crc)
from tests.models.pretrained.bundle_writer import mask, write_bundle

TENSORS = {"conv2d/kernel": np.arange(2 * 3 * 1 * 4, dtype=np.float32).reshape(2, 3, 1, 4) / 7,
           "conv2d/bias": np.array([1.5, -2.0, 0.25, 3.0], dtype=np.float32),
           "dense/kernel": np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32),
           "global_step": np.array(1234, dtype=np.int64),
           "batch_normalization/moving_mean": np.zeros(4, dtype=np.float64)}


def test_crc32c_matches_the_standard_check_value_and_the_lane_version_matches_the_bytewise_one():
    assert crc32c(b"123456789") == 0xE3069283  # CRC-32C's published check value
    data = os.urandom(300_001)  # lanes plus a tail
    assert crc32c_array(data) == crc32c(data)
    assert unmask_crc(mask(0x12345678)) == 0x12345678


def test_a_bundle_in_tensorflows_layout_reads_back_exactly(tmp_path):
    write_bundle(tmp_path / "model.ckpt", TENSORS)
    for name in (tmp_path / "model.ckpt", tmp_path / "model.ckpt.index"):
        tensors = read_checkpoint(name)
        assert set(tensors) == set(TENSORS)
        for key, value in TENSORS.items():
            assert tensors[key].dtype == value.dtype and np.array_equal(tensors[key], value)
    assert set(read_checkpoint(tmp_path / "model.ckpt", ["dense/kernel"])) == {"dense/kernel"}


def test_a_folder_with_one_unnamed_bundle_is_read_as_the_musicnn_wheel_lays_it_out(tmp_path):
    folder = tmp_path / "MTT_like"
    folder.mkdir()
    write_bundle(str(folder) + "/", TENSORS)  # ".index" and ".data-00000-of-00001", empty prefix
    assert checkpoint_prefix(folder) == str(folder) + "/"
    assert np.array_equal(read_checkpoint(folder)["conv2d/bias"], TENSORS["conv2d/bias"])


@pytest.mark.parametrize("damage, message", [
    ("compressed", "compressed blocks"),
    ("sliced", "partitioned"),
    ("float16", "is float16"),
    ("shards", "data shards"),
    ("tensor crc", "crc32c mismatch"),
    ("index crc", "a block's crc32c does not match"),
    ("not a table", "not a TensorFlow checkpoint index"),
    ("truncated data", "truncated"),
    ("missing data", "checkpoint data not found"),
    ("missing name", "has no variable"),
])
def test_anything_the_reader_cannot_read_is_one_clear_error(tmp_path, damage, message):
    prefix = tmp_path / "ckpt"
    tensors = dict(TENSORS)
    options = {}
    if damage == "compressed":
        options["compression"] = 1
    elif damage == "sliced":
        options["sliced"] = ("dense/kernel",)
    elif damage == "float16":
        tensors["half"] = np.ones(3, dtype=np.float16)
    elif damage == "shards":
        options["shards"] = 2
    elif damage == "tensor crc":
        options["corrupt_crc"] = ("conv2d/bias",)
    write_bundle(prefix, tensors, **options)
    index, data = tmp_path / "ckpt.index", tmp_path / "ckpt.data-00000-of-00001"
    if damage == "index crc":
        raw = bytearray(index.read_bytes())
        raw[3] ^= 0xFF
        index.write_bytes(bytes(raw))
    elif damage == "not a table":
        index.write_bytes(b"plain text, no footer" * 5)
    elif damage == "truncated data":
        data.write_bytes(data.read_bytes()[:10])
    elif damage == "missing data":
        data.unlink()
    with pytest.raises(GtzanError, match=message):
        read_checkpoint(prefix, ["nope"] if damage == "missing name" else None)


@pytest.mark.skipif(musicnn_package_folder() is None, reason="the musicnn wheel is not installed "
                                                             "(pip install --no-deps musicnn==0.1.0)")
def test_the_musicnn_wheels_checkpoints_read_with_every_crc_checked():
    for name, first_conv in (("MTT_musicnn", (7, 38, 1, 204)), ("MSD_musicnn", (7, 38, 1, 204)),
                             ("MTT_vgg", None)):
        tensors = read_checkpoint(musicnn_package_folder() / name)
        if first_conv:
            assert tensors["conv2d/kernel"].shape == first_conv and tensors["dense_1/kernel"].shape == (200, 50)
        assert all(np.isfinite(t).all() for t in tensors.values() if t.dtype.kind == "f")
