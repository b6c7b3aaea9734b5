"""Read a TensorFlow checkpoint (a "tensor bundle") in pure Python and numpy: no TensorFlow needed.

A bundle is two files sharing a prefix: ``PREFIX.index`` and ``PREFIX.data-00000-of-00001``. The index is a
LevelDB-style sorted table: data blocks of prefix-compressed ``(key, value)`` records, an index block pointing at
them, and a 48-byte footer (two block handles, padding, a magic number). Each key is a variable name; its value is
a ``BundleEntryProto`` (dtype, shape, shard, byte offset and size in the data file, crc32c of the bytes). The key
``""`` holds a ``BundleHeaderProto`` (number of shards, endianness, format version).

We read what the musicnn wheel's checkpoints (and any TF1/TF2 ``tf.train.Saver`` checkpoint of float tensors in
one shard) hold, and refuse anything else in one line: compressed blocks, several shards, big-endian bundles,
partitioned (sliced) variables, and dtypes other than float32 / int32 / int64 / float64. Every block's and every
tensor's crc32c is checked.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gtzan_gpu.errors import GtzanError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
BLOCK_TRAILER_BYTES = 5  # compression type (1 byte) + masked crc32c (4 bytes)
DTYPES = {1: np.dtype("<f4"), 2: np.dtype("<f8"), 3: np.dtype("<i4"), 9: np.dtype("<i8")}  # TF DataType enum
DTYPE_NAMES = {1: "float32", 2: "float64", 3: "int32", 9: "int64", 10: "bool", 7: "string", 19: "float16"}


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as LevelDB and TensorFlow compute it (small inputs: the index's blocks)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_array(data: bytes) -> int:
    """CRC-32C of a large buffer (a tensor's bytes: megabytes), vectorised over 4 KiB lanes with numpy.

    The CRC register's update is linear over GF(2), so the buffer is cut into equal lanes whose registers (from
    zero) advance in lock-step, one byte column at a time across all lanes; the lanes are then chained by carrying
    the register over one lane's worth of zero bytes (:func:`_zero_bytes_operator`, zlib's crc32_combine idea)
    before adding the next lane's. Equals :func:`crc32c` of the whole buffer."""
    lane = 1 << 12
    if len(data) < 16 * lane:
        return crc32c(data)
    table = np.asarray(_CRC_TABLE, dtype=np.uint32)
    whole = len(data) // lane * lane
    lanes = np.frombuffer(data, dtype=np.uint8, count=whole).reshape(-1, lane)
    registers = np.zeros(lanes.shape[0], dtype=np.uint32)
    for column in range(lane):
        registers = table[(registers ^ lanes[:, column]) & 0xFF] ^ (registers >> 8)
    carry = _zero_bytes_operator(lane)
    register = 0xFFFFFFFF
    for value in registers.tolist():
        register = _gf2_times(carry, register) ^ value
    for byte in data[whole:]:
        register = _CRC_TABLE[(register ^ byte) & 0xFF] ^ (register >> 8)
    return register ^ 0xFFFFFFFF


def _gf2_times(matrix: list[int], vector: int) -> int:
    """A 32 x 32 GF(2) matrix (one int per column) times a 32-bit vector."""
    total, index = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[index]
        vector >>= 1
        index += 1
    return total


def _zero_bytes_operator(length: int) -> list[int]:
    """The matrix that carries a CRC-32C register over ``length`` zero bytes."""
    one_bit = [0x82F63B78] + [1 << bit for bit in range(31)]
    operator = [1 << bit for bit in range(32)]  # identity
    power = one_bit
    for _ in range(3):  # one zero byte = eight zero bits
        power = [_gf2_times(power, column) for column in power]
    while length:
        if length & 1:
            operator = [_gf2_times(power, column) for column in operator]
        power = [_gf2_times(power, column) for column in power]
        length >>= 1
    return operator


def unmask_crc(masked: int) -> int:
    """LevelDB stores ``rotate_right(crc, 15) + 0xa282ead8``; undo it."""
    rotated = (masked - 0xA282EAD8) & 0xFFFFFFFF
    return ((rotated >> 17) | (rotated << 15)) & 0xFFFFFFFF


def read_varint(buffer: bytes, position: int) -> tuple[int, int]:
    """One base-128 varint at ``position``: ``(value, next position)``."""
    value, shift = 0, 0
    while True:
        if position >= len(buffer) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def protobuf_fields(message: bytes) -> list[tuple[int, int, int | bytes]]:
    """A protobuf message's ``(field number, wire type, value)`` triples, in order (varints as ints, fixed32 and
    fixed64 as ints, length-delimited as bytes)."""
    fields, position = [], 0
    while position < len(message):
        key, position = read_varint(message, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = read_varint(message, position)
        elif wire == 1:
            value, position = struct.unpack_from("<Q", message, position)[0], position + 8
        elif wire == 2:
            length, position = read_varint(message, position)
            value, position = message[position:position + length], position + length
            if position > len(message):
                raise ValueError("truncated length-delimited field")
        elif wire == 5:
            value, position = struct.unpack_from("<I", message, position)[0], position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.append((number, wire, value))
    return fields


@dataclass(frozen=True)
class BundleEntry:
    """One tensor's ``BundleEntryProto``: where its bytes are and what they are."""

    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc32c: int | None
    sliced: bool

    @classmethod
    def parse(cls, name: str, message: bytes) -> "BundleEntry":
        dtype, shape, shard, offset, size, crc, sliced = 0, [], 0, 0, 0, None, False
        for number, _, value in protobuf_fields(message):
            if number == 1:
                dtype = value
            elif number == 2:
                shape = [dict((n, v) for n, _, v in protobuf_fields(dim)).get(1, 0)
                         for n, _, dim in protobuf_fields(value) if n == 2]
            elif number == 3:
                shard = value
            elif number == 4:
                offset = value
            elif number == 5:
                size = value
            elif number == 6:
                crc = value
            elif number == 7:
                sliced = True
        return cls(name, dtype, tuple(int(d) for d in shape), shard, offset, size, crc, sliced)


def _block(index: bytes, offset: int, size: int, path: Path) -> bytes:
    contents = index[offset:offset + size]
    trailer = index[offset + size:offset + size + BLOCK_TRAILER_BYTES]
    if len(contents) != size or len(trailer) != BLOCK_TRAILER_BYTES:
        raise GtzanError(f"TensorFlow checkpoint index {path} is truncated")
    if trailer[0] != 0:
        raise GtzanError(f"TensorFlow checkpoint index {path} has compressed blocks (type {trailer[0]}); only "
                         f"uncompressed tensor bundles are read")
    if unmask_crc(struct.unpack("<I", trailer[1:])[0]) != crc32c(contents + trailer[:1]):
        raise GtzanError(f"TensorFlow checkpoint index {path} is corrupt (a block's crc32c does not match)")
    return contents


def _block_records(block: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(key, value)`` records of one table block (keys are prefix-compressed against the previous one)."""
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    records, position, key = [], 0, b""
    while position < end:
        shared, position = read_varint(block, position)
        unshared, position = read_varint(block, position)
        length, position = read_varint(block, position)
        key = key[:shared] + block[position:position + unshared]
        position += unshared
        records.append((key, block[position:position + length]))
        position += length
    return records


def _handle(value: bytes, position: int = 0) -> tuple[int, int, int]:
    offset, position = read_varint(value, position)
    size, position = read_varint(value, position)
    return offset, size, position


def read_index(index_path: Path) -> dict[str, BundleEntry]:
    """Every tensor's entry in a bundle's ``.index`` file, by name (the header checked and left out)."""
    try:
        index = index_path.read_bytes()
    except OSError as error:
        raise GtzanError(f"cannot read TensorFlow checkpoint index {index_path}: {error.strerror}") from None
    if len(index) < FOOTER_BYTES or struct.unpack("<Q", index[-8:])[0] != TABLE_MAGIC:
        raise GtzanError(f"{index_path} is not a TensorFlow checkpoint index (no table footer)")
    try:
        footer = index[-FOOTER_BYTES:]
        _, _, position = _handle(footer)  # the metaindex block: empty in a tensor bundle
        index_offset, index_size, _ = _handle(footer, position)
        entries: dict[str, BundleEntry] = {}
        for _, handle in _block_records(_block(index, index_offset, index_size, index_path)):
            offset, size, _ = _handle(handle)
            for key, value in _block_records(_block(index, offset, size, index_path)):
                if key == b"":
                    _check_header(value, index_path)
                else:
                    entry = BundleEntry.parse(key.decode("utf-8"), value)
                    entries[entry.name] = entry
    except (ValueError, struct.error, UnicodeDecodeError) as error:
        raise GtzanError(f"TensorFlow checkpoint index {index_path} is corrupt ({error})") from None
    return entries


def _check_header(message: bytes, path: Path) -> None:
    header = {number: value for number, _, value in protobuf_fields(message)}
    if header.get(1, 1) != 1:
        raise GtzanError(f"TensorFlow checkpoint {path} has {header[1]} data shards; only one is read")
    if header.get(2, 0) != 0:
        raise GtzanError(f"TensorFlow checkpoint {path} is big-endian; only little-endian bundles are read")


def checkpoint_prefix(path: Path) -> str:
    """The bundle prefix a user may name several ways: the prefix itself, its ``.index`` file, or a folder that
    holds one bundle (the musicnn wheel's folders hold ``.index`` and ``.data-...`` with an empty file prefix)."""
    path = Path(path)
    if path.name.endswith(".index"):
        return str(path)[: -len(".index")]
    if path.is_dir():
        indexes = sorted(path.glob("*.index"))
        if len(indexes) != 1:
            found = "no" if not indexes else f"{len(indexes)}"
            raise GtzanError(f"{path} holds {found} TensorFlow checkpoint (.index) files; name one")
        return str(indexes[0])[: -len(".index")]
    return str(path)


def read_checkpoint(path: Path, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The tensors of a TensorFlow checkpoint as numpy arrays, by variable name; ``names`` restricts which (all by
    default). Each tensor's crc32c is verified. Raises :class:`GtzanError` naming the file for anything it cannot
    read."""
    prefix = checkpoint_prefix(path)
    index_path, data_path = Path(prefix + ".index"), Path(prefix + ".data-00000-of-00001")
    if not index_path.is_file():
        raise GtzanError(f"TensorFlow checkpoint index not found: {index_path}")
    if not data_path.is_file():
        raise GtzanError(f"TensorFlow checkpoint data not found: {data_path}")
    entries = read_index(index_path)
    wanted = list(entries) if names is None else names
    missing = [name for name in wanted if name not in entries]
    if missing:
        raise GtzanError(f"TensorFlow checkpoint {prefix} has no variable(s) {', '.join(missing[:5])}")
    tensors = {}
    with open(data_path, "rb") as data:
        for name in wanted:
            tensors[name] = _read_tensor(entries[name], data, data_path)
    return tensors


def _read_tensor(entry: BundleEntry, data, data_path: Path) -> np.ndarray:
    if entry.sliced:
        raise GtzanError(f"TensorFlow checkpoint variable {entry.name} is partitioned (sliced); not supported")
    if entry.dtype not in DTYPES:
        kind = DTYPE_NAMES.get(entry.dtype, f"DataType {entry.dtype}")
        raise GtzanError(f"TensorFlow checkpoint variable {entry.name} is {kind}; only float32, float64, int32 and "
                         f"int64 tensors are read")
    dtype = DTYPES[entry.dtype]
    count = int(np.prod(entry.shape, dtype=np.int64)) if entry.shape else 1
    if count * dtype.itemsize != entry.size:
        raise GtzanError(f"TensorFlow checkpoint variable {entry.name}: {entry.size} bytes for shape {entry.shape}")
    data.seek(entry.offset)
    raw = data.read(entry.size)
    if len(raw) != entry.size:
        raise GtzanError(f"TensorFlow checkpoint data {data_path} is truncated (variable {entry.name})")
    if entry.crc32c is not None and unmask_crc(entry.crc32c) != crc32c_array(raw):
        raise GtzanError(f"TensorFlow checkpoint data {data_path} is corrupt (variable {entry.name}: crc32c "
                         f"mismatch)")
    return np.frombuffer(raw, dtype=dtype).reshape(entry.shape).copy()
