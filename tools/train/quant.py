"""Block quantizers shared by QAT (fake quantization) and GGUF export.

One torch implementation computes, for a weight [out, in] (blocks along `in`), the integer codes and
the scales exactly as the GGUF file stores them; QAT uses its dequantized value with a
straight-through gradient, and export packs the same codes into bytes. So the QAT model's forward
uses exactly the weights that the exported file holds.

Formats (following ggml's reference quantizers):
- Q8_0 (INT8): blocks of 32, d = amax/127 (stored f16), q = round-half-away(x * (1/d)) in [-127, 127].
- Q4_0 (INT4): blocks of 32, max = the signed value of largest |x| (first one on ties),
  d = max/-8 (stored f16), q = min(15, trunc(x * (1/d) + 8.5)) - 8 in [-8, 7].
  (The INT4 range [-8, 7] of PAPERS.md; the largest magnitude maps onto -8.)
- Q6_K (INT6): super-blocks of 256 = 16 sub-blocks of 16. Per sub-block the simple absmax scale
  s_j = max_j/-32 (ggml's make_qx_quants without its refinement search); the super-block scale
  d = -max_s/128 (f16, max_s the s_j of largest |s_j|), sc_j = min(127, round(s_j * (-128/max_s)))
  (int8), q = clamp(round(x / (f16(d) * sc_j)), -32, 31). round = half to even (ggml nearest_int).
"""

from __future__ import annotations

import numpy as np
import torch

QK = 32
QK_K = 256

# ggml type ids
F32, F16, Q4_0, Q8_0, Q6_K = 0, 1, 2, 8, 14
TYPE_NAMES = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q8_0: "Q8_0", Q6_K: "Q6_K"}
BLOCK = {Q4_0: (32, 18), Q8_0: (32, 34), Q6_K: (256, 210)}  # (weights, bytes) per block
BITS_TO_TYPE = {16: F16, 8: Q8_0, 6: Q6_K, 4: Q4_0}


def _signed_absmax(x: torch.Tensor) -> torch.Tensor:
    """Per row of x [..., n]: the value whose |.| is largest (first one on ties), keepdim."""
    idx = x.abs().argmax(dim=-1, keepdim=True)  # argmax returns the first maximal index
    return torch.gather(x, -1, idx)


def _round_half_away(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def _f16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float16).to(torch.float32)


def quantize(w: torch.Tensor, qtype: int) -> dict[str, torch.Tensor]:
    """Codes and scales of a float32 weight [rows, k] (k a multiple of the block).

    Returns {"q": int codes (signed, same shape as w), "dq": dequantized float32 weight, ...}."""
    w = w.detach().to(torch.float32) if not w.requires_grad else w.to(torch.float32)
    rows, k = w.shape
    if qtype == Q8_0:
        b = w.reshape(rows, k // QK, QK)
        d = b.abs().amax(dim=-1, keepdim=True) / 127.0
        inv = torch.where(d != 0, 1.0 / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(d))
        q = _round_half_away(b * inv)
        d16 = _f16(d)
        return {"q": q.reshape(rows, k), "d": d16.squeeze(-1), "dq": (q * d16).reshape(rows, k)}
    if qtype == Q4_0:
        b = w.reshape(rows, k // QK, QK)
        mx = _signed_absmax(b)
        d = mx / -8.0
        inv = torch.where(d != 0, 1.0 / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(d))
        q = torch.clamp(torch.trunc(b * inv + 8.5), max=15.0) - 8.0
        d16 = _f16(d)
        return {"q": q.reshape(rows, k), "d": d16.squeeze(-1), "dq": (q * d16).reshape(rows, k)}
    if qtype == Q6_K:
        b = w.reshape(rows, k // QK_K, 16, 16)
        mx = _signed_absmax(b)  # [rows, nsb, 16, 1]
        nonzero = mx.abs() >= 1e-15
        s = torch.where(nonzero, 1.0 / (-32.0 / torch.where(nonzero, mx, torch.ones_like(mx))),
                        torch.zeros_like(mx))
        s = s.squeeze(-1)  # [rows, nsb, 16]
        max_s = _signed_absmax(s)  # [rows, nsb, 1]
        live = max_s.abs() >= 1e-15
        iscale = torch.where(live, -128.0 / torch.where(live, max_s, torch.ones_like(max_s)),
                             torch.zeros_like(max_s))
        d = torch.where(live, 1.0 / torch.where(live, iscale, torch.ones_like(iscale)),
                        torch.zeros_like(iscale))
        d16 = _f16(d)
        sc = torch.clamp(torch.round(iscale * s), max=127.0)  # [rows, nsb, 16]
        dd = (d16 * sc).unsqueeze(-1)  # [rows, nsb, 16, 1]
        ok = dd != 0
        q = torch.where(ok, torch.clamp(torch.round(b / torch.where(ok, dd, torch.ones_like(dd))),
                                        -32.0, 31.0), torch.zeros_like(b))
        return {"q": q.reshape(rows, k), "d": d16.reshape(rows, k // QK_K), "sc": sc,
                "dq": (q * dd).reshape(rows, k)}
    raise ValueError(f"quantize: unsupported type {qtype}")


def fake_quant(w: torch.Tensor, qtype: int) -> torch.Tensor:
    """QAT: the exported (dequantized) weight in the forward, identity gradient (STE)."""
    if qtype in (F32,):
        return w
    if qtype == F16:
        dq = _f16(w.detach())
    else:
        dq = quantize(w.detach(), qtype)["dq"]
    return w + (dq - w).detach()


# ---------------------------------------------------------------- packing into GGUF bytes

def pack(w: torch.Tensor, qtype: int) -> bytes:
    """The GGUF tensor data of a 2-D float weight [rows, k] (or any shape for F32/F16)."""
    if qtype == F32:
        return w.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
    if qtype == F16:
        return w.detach().to(torch.float32).contiguous().numpy().astype("<f2").tobytes()
    r = quantize(w.detach(), qtype)
    rows, k = w.shape
    q = r["q"].numpy().astype(np.int32)
    if qtype == Q8_0:
        nb = k // QK
        out = np.zeros((rows, nb, 34), dtype=np.uint8)
        out[:, :, 0:2] = r["d"].numpy().astype("<f2").reshape(rows, nb, 1).view(np.uint8)
        out[:, :, 2:] = q.reshape(rows, nb, QK).astype(np.int8).view(np.uint8)
        return out.tobytes()
    if qtype == Q4_0:
        nb = k // QK
        u = (q + 8).reshape(rows, nb, QK).astype(np.uint8)
        out = np.zeros((rows, nb, 18), dtype=np.uint8)
        out[:, :, 0:2] = r["d"].numpy().astype("<f2").reshape(rows, nb, 1).view(np.uint8)
        out[:, :, 2:] = u[:, :, :16] | (u[:, :, 16:] << 4)
        return out.tobytes()
    if qtype == Q6_K:
        nb = k // QK_K
        L = (q + 32).reshape(rows, nb, 2, 128).astype(np.uint8)  # two halves of 128
        ql = np.zeros((rows, nb, 2, 64), dtype=np.uint8)
        qh = np.zeros((rows, nb, 2, 32), dtype=np.uint8)
        l0, l1, l2, l3 = L[..., 0:32], L[..., 32:64], L[..., 64:96], L[..., 96:128]
        ql[..., 0:32] = (l0 & 0xF) | ((l2 & 0xF) << 4)
        ql[..., 32:64] = (l1 & 0xF) | ((l3 & 0xF) << 4)
        qh[...] = (l0 >> 4) | ((l1 >> 4) << 2) | ((l2 >> 4) << 4) | ((l3 >> 4) << 6)
        out = np.zeros((rows, nb, 210), dtype=np.uint8)
        out[:, :, 0:128] = ql.reshape(rows, nb, 128)
        out[:, :, 128:192] = qh.reshape(rows, nb, 64)
        out[:, :, 192:208] = r["sc"].numpy().astype(np.int8).reshape(rows, nb, 16).view(np.uint8)
        out[:, :, 208:210] = r["d"].numpy().astype("<f2").reshape(rows, nb, 1).view(np.uint8)
        return out.tobytes()
    raise ValueError(f"pack: unsupported type {qtype}")


# ---------------------------------------------------------------- dequantizing GGUF bytes

def dequantize(data: bytes, qtype: int, n: int) -> np.ndarray:
    """n float32 values from GGUF tensor data, following ggml's dequantize_row_* exactly."""
    if qtype == F32:
        return np.frombuffer(data, dtype="<f4", count=n).astype(np.float32)
    if qtype == F16:
        return np.frombuffer(data, dtype="<f2", count=n).astype(np.float32)
    if qtype not in BLOCK:
        raise ValueError(f"dequantize: unsupported type {qtype}")
    bw, bb = BLOCK[qtype]
    if n % bw:
        raise ValueError(f"dequantize: {n} values is not a multiple of the block {bw}")
    nb = n // bw
    raw = np.frombuffer(data, dtype=np.uint8, count=nb * bb).reshape(nb, bb)
    if qtype == Q8_0:
        d = raw[:, 0:2].copy().view("<f2").astype(np.float32)
        q = raw[:, 2:].copy().view(np.int8).astype(np.float32)
        return (q * d).reshape(n)
    if qtype == Q4_0:
        d = raw[:, 0:2].copy().view("<f2").astype(np.float32)
        qs = raw[:, 2:]
        lo = (qs & 0xF).astype(np.int32) - 8
        hi = (qs >> 4).astype(np.int32) - 8
        return (np.concatenate([lo, hi], axis=1).astype(np.float32) * d).reshape(n)
    # Q6_K
    ql = raw[:, 0:128].reshape(nb, 2, 64).astype(np.int32)
    qh = raw[:, 128:192].reshape(nb, 2, 32).astype(np.int32)
    sc = raw[:, 192:208].copy().view(np.int8).astype(np.float32).reshape(nb, 2, 8)
    d = raw[:, 208:210].copy().view("<f2").astype(np.float32).reshape(nb, 1, 1)
    y = np.zeros((nb, 2, 128), dtype=np.float32)
    for l in range(32):
        is_ = l // 16
        q1 = ((ql[:, :, l] & 0xF) | (((qh[:, :, l] >> 0) & 3) << 4)) - 32
        q2 = ((ql[:, :, l + 32] & 0xF) | (((qh[:, :, l] >> 2) & 3) << 4)) - 32
        q3 = ((ql[:, :, l] >> 4) | (((qh[:, :, l] >> 4) & 3) << 4)) - 32
        q4 = ((ql[:, :, l + 32] >> 4) | (((qh[:, :, l] >> 6) & 3) << 4)) - 32
        q1, q2, q3, q4 = (v.astype(np.float32) for v in (q1, q2, q3, q4))
        y[:, :, l + 0] = d[:, :, 0] * sc[:, :, is_ + 0] * q1
        y[:, :, l + 32] = d[:, :, 0] * sc[:, :, is_ + 2] * q2
        y[:, :, l + 64] = d[:, :, 0] * sc[:, :, is_ + 4] * q3
        y[:, :, l + 96] = d[:, :, 0] * sc[:, :, is_ + 6] * q4
    return y.reshape(n)


def nbytes(qtype: int, n: int) -> int:
    if qtype == F32:
        return 4 * n
    if qtype == F16:
        return 2 * n
    bw, bb = BLOCK[qtype]
    return n // bw * bb
