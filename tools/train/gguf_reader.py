"""A small GGUF reader: metadata, tensor infos, and tensors dequantized exactly (quant.dequantize)."""

from __future__ import annotations

import struct

import numpy as np
import torch

from quant import dequantize, nbytes

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
           11: "<q", 12: "<d"}


class GGUFReader:
    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            self.buf = f.read()
        self.pos = 0
        if self.buf[:4] != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        self.pos = 4
        self.version, n_tensors, n_kv = self._unpack("<IQQ")
        if self.version != 3:
            raise ValueError(f"{path}: GGUF version {self.version} (expected 3)")
        self.metadata: dict[str, object] = {}
        for _ in range(n_kv):
            key = self._string()
            (vtype,) = self._unpack("<I")
            self.metadata[key] = self._value(vtype)
        self.alignment = int(self.metadata.get("general.alignment", 32))
        self.tensors: dict[str, dict] = {}
        for _ in range(n_tensors):
            name = self._string()
            (nd,) = self._unpack("<I")
            dims = list(self._unpack(f"<{nd}Q"))
            qtype, offset = self._unpack("<IQ")
            self.tensors[name] = {"dims": dims, "type": qtype, "offset": offset}
        self.data_start = (self.pos + self.alignment - 1) // self.alignment * self.alignment
        for name, t in self.tensors.items():
            if t["offset"] % self.alignment:
                raise ValueError(f"{path}: tensor {name} offset not aligned")
            n = int(np.prod(t["dims"]))
            t["n"] = n
            t["nbytes"] = nbytes(t["type"], n)
            if self.data_start + t["offset"] + t["nbytes"] > len(self.buf):
                raise ValueError(f"{path}: tensor {name} runs past the end of the file")

    def _unpack(self, fmt: str):
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def _string(self) -> str:
        (n,) = self._unpack("<Q")
        s = self.buf[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def _value(self, vtype: int):
        if vtype == 8:
            return self._string()
        if vtype == 9:
            elem, n = self._unpack("<IQ")
            return [self._value(elem) for _ in range(n)]
        (v,) = self._unpack(_SCALAR[vtype])
        return v

    def raw(self, name: str) -> bytes:
        t = self.tensors[name]
        start = self.data_start + t["offset"]
        return self.buf[start:start + t["nbytes"]]

    def tensor(self, name: str) -> torch.Tensor:
        """float32 tensor in PyTorch layout (GGUF dims reversed)."""
        t = self.tensors[name]
        vals = dequantize(self.raw(name), t["type"], t["n"])
        return torch.from_numpy(vals.copy()).reshape(list(reversed(t["dims"])))
