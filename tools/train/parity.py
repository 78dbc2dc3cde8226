#!/usr/bin/python3
"""Compare logits from another implementation (vkml) with the PyTorch forward of a GGUF tiny model.

  /usr/bin/python3 tools/train/parity.py MODEL.gguf LOGITS.f32 (--text "..." [--bos] | --ids 256,73,110)
  /usr/bin/python3 tools/train/parity.py MODEL.gguf --write LOGITS.f32 --text "..." --bos
  /usr/bin/python3 tools/train/parity.py MODEL.gguf --self-test

LOGITS.f32: little-endian float32, n_tokens x n_vocab, row-major (as `vkml logits -o FILE` writes).
The model is read with tools/train/gguf_reader.py; quantized tensors are dequantized exactly as
ggml does, and the forward is the training code's own (tools/train/model.py).
Prints NMSE = sum((x - ref)^2) / sum(ref^2); exit status 0 when NMSE <= --max-nmse (default 1e-4),
1 when above, 2 on bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import data  # noqa: E402
from export import load_gguf_model, logits_for  # noqa: E402


def nmse(x: np.ndarray, ref: np.ndarray) -> float:
    x = x.astype(np.float64)
    ref = ref.astype(np.float64)
    den = float(np.sum(ref * ref))
    return float(np.sum((x - ref) ** 2)) / (den if den > 0 else 1.0)


def token_ids(args) -> list[int]:
    if args.ids:
        return [int(t) for t in args.ids.split(",") if t.strip()]
    ids = data.encode(args.text)
    return ([data.BOS] if args.bos else []) + ids


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("logits", nargs="?", help="float32 logits file to check")
    ap.add_argument("--text", default="In the beginning God created")
    ap.add_argument("--bos", action="store_true", help="prepend BOS (256) to the text's bytes")
    ap.add_argument("--ids", help="comma-separated token ids (instead of --text)")
    ap.add_argument("--max-nmse", type=float, default=1e-4)
    ap.add_argument("--write", metavar="FILE", help="write PyTorch's logits to FILE and exit")
    ap.add_argument("--self-test", action="store_true", help="round trip: write, read back, compare")
    args = ap.parse_args()
    torch.set_num_threads(1)

    cfg, params, _ = load_gguf_model(args.model)
    ids = token_ids(args)
    if not ids or max(ids) >= cfg.n_vocab or min(ids) < 0:
        print(f"parity: bad token ids {ids[:8]}...", file=sys.stderr)
        return 2
    ref = logits_for(cfg, params, ids).numpy().astype(np.float32)

    if args.write:
        ref.astype("<f4").tofile(args.write)
        print(f"wrote {ref.shape[0]} x {ref.shape[1]} logits to {args.write}")
        return 0
    path = args.logits
    tmp = None
    if args.self_test:
        fd, tmp = tempfile.mkstemp(suffix=".f32")
        os.close(fd)
        ref.astype("<f4").tofile(tmp)
        path = tmp
    if path is None:
        print("parity: give a logits file, --write or --self-test", file=sys.stderr)
        return 2
    try:
        got = np.fromfile(path, dtype="<f4")
    finally:
        if tmp:
            os.remove(tmp)
    if got.size != ref.size:
        print(f"parity: {path} holds {got.size} floats, expected {ref.shape[0]} tokens x {ref.shape[1]} "
              f"vocab = {ref.size}", file=sys.stderr)
        return 2
    got = got.reshape(ref.shape)
    if not np.all(np.isfinite(got)):
        print("parity: logits contain NaN/inf", file=sys.stderr)
        return 1
    e = nmse(got, ref)
    agree = float(np.mean(np.argmax(got, 1) == np.argmax(ref, 1)))
    print(f"{os.path.basename(args.model)}: {ref.shape[0]} tokens, NMSE {e:.3e} (max {args.max_nmse:g}), "
          f"argmax agreement {agree:.3f}")
    return 0 if e <= args.max_nmse else 1


if __name__ == "__main__":
    sys.exit(main())
