#!/usr/bin/python3
"""Train the tiny models (FP16 baseline and INT8/INT6/INT4 QAT), export GGUF files and the card.

  /usr/bin/python3 tools/train/train.py --all            # everything (train, export, card)
  /usr/bin/python3 tools/train/train.py --train llama 4  # one run -> checkpoint
  /usr/bin/python3 tools/train/train.py --export         # checkpoints -> models/tiny/*

Debian's python3-torch works only with /usr/bin/python3. One CPU thread per process.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import data  # noqa: E402
from model import LlamaConfig, MambaConfig, forward, init_params, linear_names, n_params  # noqa: E402
from quant import BITS_TO_TYPE  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "models", "tiny")
CKPT_DIR = os.environ.get("VKML_TRAIN_CKPT", "/tmp/vkml_tiny_ckpt")
SEED = 1234
BITS = [16, 8, 6, 4]

# One schedule for every bit-width (the seed paper's recommendation): AdamW, linear warmup,
# constant, linear warmdown to zero over the last third of the steps.
HP = {
    "llama": {"steps": 300, "batch": 16, "lr": 2e-3, "warmup": 30, "weight_decay": 0.1,
              "betas": (0.9, 0.95), "clip": 1.0},
    "mamba": {"steps": 200, "batch": 16, "lr": 2e-3, "warmup": 20, "weight_decay": 0.1,
              "betas": (0.9, 0.95), "clip": 1.0},
}


def make_config(kind: str):
    if kind == "llama":
        return LlamaConfig(dim=256, n_layers=2, n_heads=4, n_kv_heads=2, ffn=256, context=64)
    return MambaConfig(dim=256, d_inner=256, d_state=16, dt_rank=16, d_conv=4, n_layers=2, context=64)


def lr_at(step: int, hp: dict) -> float:
    total, warm = hp["steps"], hp["warmup"]
    down_start = total - total // 3
    if step < warm:
        return hp["lr"] * (step + 1) / warm
    if step < down_start:
        return hp["lr"]
    return hp["lr"] * (total - step) / (total - down_start)


def train_one(kind: str, bits: int) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    cfg = make_config(kind)
    hp = HP[kind]
    qtype = None if bits == 16 else BITS_TO_TYPE[bits]
    train_bytes, _, _ = data.load_split()
    corpus = torch.tensor(list(train_bytes), dtype=torch.int64)
    params = init_params(cfg, SEED)
    for v in params.values():
        v.requires_grad_(True)
    decay = [params[n] for n in params if params[n].dim() == 2 and n != "token_embd.weight"]
    no_decay = [params[n] for n in params if not (params[n].dim() == 2 and n != "token_embd.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=hp["lr"], betas=hp["betas"])
    gen = torch.Generator().manual_seed(SEED)  # same batches for every bit-width
    T = cfg.context
    losses = []
    t0 = time.time()
    for step in range(hp["steps"]):
        off = torch.randint(0, len(corpus) - T, (hp["batch"],), generator=gen)
        win = torch.stack([corpus[o:o + T] for o in off.tolist()])  # [B, T] targets
        inp = torch.cat([torch.full((hp["batch"], 1), data.BOS), win[:, :-1]], dim=1)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, hp)
        logits = forward(params, cfg, inp, qtype)
        loss = F.cross_entropy(logits.reshape(-1, cfg.n_vocab), win.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), hp["clip"])
        opt.step()
        losses.append(loss.item())
        if step % 25 == 0 or step == hp["steps"] - 1:
            print(f"[{kind} {bits}] step {step} loss {loss.item():.4f} lr {lr_at(step, hp):.2e} "
                  f"{time.time() - t0:.0f}s", flush=True)
    wall = time.time() - t0
    ck = {"kind": kind, "bits": bits, "config": cfg.__dict__, "hp": hp, "seed": SEED,
          "params": {k: v.detach().clone() for k, v in params.items()}, "wall_s": wall,
          "losses": losses, "n_params": n_params(params)}
    os.makedirs(CKPT_DIR, exist_ok=True)
    torch.save(ck, os.path.join(CKPT_DIR, f"{kind}-{bits}.pt"))
    return ck


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--all", action="store_true", help="train every model, then export")
    ap.add_argument("--train", nargs=2, metavar=("KIND", "BITS"), help="one run: llama|mamba 16|8|6|4")
    ap.add_argument("--export", action="store_true", help="checkpoints -> models/tiny")
    args = ap.parse_args()
    if args.train:
        train_one(args.train[0], int(args.train[1]))
    if args.all:
        for kind in ("llama", "mamba"):
            for bits in BITS:
                train_one(kind, bits)
    if args.all or args.export:
        import export
        export.export_all(CKPT_DIR, OUT_DIR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
