"""A small GGUF v3 writer (little-endian, alignment 32), following data/specs/gguf.md.

Metadata values carry an explicit GGUF type. Tensors are given with their PyTorch shape
([out, in] for a linear weight) and written with GGUF dims innermost first ([in, out]).
"""

from __future__ import annotations

import struct

import torch

from quant import BLOCK, F16, F32, TYPE_NAMES, nbytes, pack

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# metadata value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
           FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(vtype: int, value) -> bytes:
    if vtype == STRING:
        return _string(value)
    if vtype in _SCALAR:
        return struct.pack(_SCALAR[vtype], value)
    raise ValueError(f"gguf: bad scalar type {vtype}")


class GGUFWriter:
    def __init__(self) -> None:
        self._kv: list[tuple[str, int, object, int | None]] = []
        self._tensors: list[tuple[str, list[int], int, bytes]] = []

    # -- metadata
    def add(self, key: str, vtype: int, value) -> None:
        if any(k == key for k, *_ in self._kv):
            raise ValueError(f"gguf: duplicate key {key}")
        self._kv.append((key, vtype, value, None))

    def add_array(self, key: str, elem_type: int, values: list) -> None:
        self._kv.append((key, ARRAY, list(values), elem_type))

    # -- tensors
    def add_tensor(self, name: str, w: torch.Tensor, qtype: int) -> None:
        """w: float tensor in PyTorch layout; quantized types need a 2-D w with in-dim % block == 0."""
        if len(name.encode()) > 64:
            raise ValueError(f"gguf: tensor name too long: {name}")
        shape = list(w.shape)
        if qtype in BLOCK and (len(shape) != 2 or shape[1] % BLOCK[qtype][0]):
            raise ValueError(f"gguf: {name} {shape} cannot be stored as {TYPE_NAMES[qtype]}")
        if qtype not in (F32, F16) and qtype not in BLOCK:
            raise ValueError(f"gguf: unsupported tensor type {qtype}")
        data = pack(w, qtype)
        n = 1
        for d in shape:
            n *= d
        assert len(data) == nbytes(qtype, n)
        self._tensors.append((name, list(reversed(shape)), qtype, data))

    def tobytes(self) -> bytes:
        out = bytearray()
        out += GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self._tensors), len(self._kv))
        for key, vtype, value, elem in self._kv:
            out += _string(key) + struct.pack("<I", vtype)
            if vtype == ARRAY:
                out += struct.pack("<IQ", elem, len(value))
                for v in value:
                    out += _value(elem, v)
            else:
                out += _value(vtype, value)
        offset = 0
        offsets = []
        for name, dims, qtype, data in self._tensors:
            offsets.append(offset)
            out += _string(name) + struct.pack("<I", len(dims))
            out += struct.pack(f"<{len(dims)}Q", *dims)
            out += struct.pack("<IQ", qtype, offset)
            offset += (len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        out += b"\0" * ((-len(out)) % ALIGNMENT)
        for (name, dims, qtype, data), off in zip(self._tensors, offsets):
            out += data
            out += b"\0" * ((-len(out)) % ALIGNMENT)
        return bytes(out)

    def write(self, path: str) -> int:
        b = self.tobytes()
        with open(path, "wb") as f:
            f.write(b)
        return len(b)
