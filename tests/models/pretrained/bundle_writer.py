"""A minimal TensorFlow tensor-bundle writer for tests: the exact on-disk layout ``tf.train.Saver`` writes (a
LevelDB table of BundleEntryProto records with restarts, block trailers with masked crc32c, an index block and the
48-byte footer; the data file holds the raw little-endian tensors), so the reader is tested on files it did not
write itself."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from gtzan_gpu.models.pretrained.tf_checkpoint import TABLE_MAGIC, crc32c

DT = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("int64"): 9,
      np.dtype("float16"): 19}


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, wire: int, payload: bytes | int) -> bytes:
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(payload)
    if wire == 5:
        return key + struct.pack("<I", payload)
    return key + varint(len(payload)) + payload


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def entry_proto(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int, sliced: bool = False) -> bytes:
    dims = b"".join(field(2, 2, field(1, 0, d)) for d in shape)
    message = field(1, 0, dtype) + field(2, 2, dims) + field(4, 0, offset) + field(5, 0, size) + field(6, 5, crc)
    return message + (field(7, 2, b"") if sliced else b"")


def block(records: list[tuple[bytes, bytes]], restart_every: int = 2) -> bytes:
    """Records with LevelDB's prefix compression and a restart point every ``restart_every`` records."""
    body, restarts, previous = bytearray(), [], b""
    for index, (key, value) in enumerate(records):
        shared = 0
        if index % restart_every == 0:
            restarts.append(len(body))
        else:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        body += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
        previous = key
    body += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    return bytes(body)


def write_bundle(prefix: Path | str, tensors: dict[str, np.ndarray], *, compression: int = 0,
                 sliced: tuple[str, ...] = (), shards: int = 1, corrupt_crc: tuple[str, ...] = ()) -> None:
    """Write ``tensors`` as ``PREFIX.index`` + ``PREFIX.data-00000-of-00001`` (two data blocks, so the index
    block has two handles)."""
    prefix = str(prefix)
    data, records = bytearray(), []
    header = field(1, 0, shards) + field(2, 0, 0) + field(3, 2, field(1, 0, 1))
    records.append((b"", header))
    for name in sorted(tensors):
        array = np.asarray(tensors[name])  # (ascontiguousarray would make a scalar 1-d)
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        crc = crc32c(raw) ^ (1 if name in corrupt_crc else 0)
        records.append((name.encode(), entry_proto(DT[array.dtype], array.shape, len(data), len(raw), mask(crc),
                                                   name in sliced)))
        data += raw
    Path(prefix + ".data-00000-of-00001").write_bytes(bytes(data))
    index, handles = bytearray(), []
    half = max(1, len(records) // 2)
    for chunk in (records[:half], records[half:]):
        if not chunk:
            continue
        contents = block(chunk)
        handles.append((chunk[-1][0], varint(len(index)) + varint(len(contents))))
        trailer = bytes([compression])
        index += contents + trailer + struct.pack("<I", mask(crc32c(contents + trailer)))
    index_block = block(handles, restart_every=1)
    index_handle = varint(len(index)) + varint(len(index_block))
    trailer = bytes([0])
    index += index_block + trailer + struct.pack("<I", mask(crc32c(index_block + trailer)))
    metaindex = block([])
    metaindex_handle = varint(len(index)) + varint(len(metaindex))
    index += metaindex + trailer + struct.pack("<I", mask(crc32c(metaindex + trailer)))
    footer = metaindex_handle + index_handle
    footer += b"\0" * (40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC)
    Path(prefix + ".index").write_bytes(bytes(index + footer))
