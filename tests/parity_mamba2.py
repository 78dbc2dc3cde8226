"""Mamba-2 parity: `vkml logits` on random mamba2 GGUF files against a float64 PyTorch forward
written the way transformers' Mamba2 `torch_forward` is (in_proj split [z, xBC, dt], F.conv1d
with padding K-1 over xBC, softplus(dt + dt_bias), the SSD recurrence with D skip, the gated
RMSNorm per group, out_proj). The files are written by tools/train/gguf_writer.py as llama.cpp's
converter lays them out (ssm_a = -exp(A_log) [H, 1], ssm_d [H, 1], ssm_norm [G, E/G]).

usage: python3 parity_mamba2.py VKML_BINARY SOURCE_DIR   (exit 1 when a case's NMSE > 1e-9)
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F


def rms(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def random_model(V, D, L, H, P, N, G, K, seed):
    g = torch.Generator().manual_seed(seed)

    def r(*shape, lo=-1.0, hi=1.0):
        return torch.rand(*shape, generator=g, dtype=torch.float64) * (hi - lo) + lo

    E, sd = H * P, 1 / D ** 0.5
    W = {"token_embd.weight": r(V, D), "output_norm.weight": r(D, lo=0.8, hi=1.2),
         "output.weight": r(V, D, lo=-0.2, hi=0.2)}
    for i in range(L):
        b = f"blk.{i}."
        W[b + "attn_norm.weight"] = r(D, lo=0.8, hi=1.2)
        W[b + "ssm_in.weight"] = r(2 * E + 2 * G * N + H, D, lo=-2 * sd, hi=2 * sd)
        W[b + "ssm_conv1d.weight"] = r(E + 2 * G * N, K, lo=-0.5, hi=0.5)
        W[b + "ssm_conv1d.bias"] = r(E + 2 * G * N, lo=-0.1, hi=0.1)
        W[b + "ssm_dt.bias"] = r(H, lo=-3, hi=-1)
        W[b + "ssm_a"] = -torch.exp(r(H, 1, lo=-1, hi=1.3))
        W[b + "ssm_d"] = r(H, 1, lo=0.5, hi=1.5)
        W[b + "ssm_norm.weight"] = r(G, E // G, lo=0.8, hi=1.2)
        W[b + "ssm_out.weight"] = r(D, E, lo=-sd, hi=sd)
    return W


def forward(W, tokens, L, H, P, N, G, K):
    E, T = H * P, len(tokens)
    CD = E + 2 * G * N
    x = W["token_embd.weight"][tokens]
    for i in range(L):
        w = lambda n: W[f"blk.{i}." + n]
        gate, xBC, dt = torch.split(rms(x, w("attn_norm.weight")) @ w("ssm_in.weight").T, [E, CD, H], dim=-1)
        xBC = F.conv1d(xBC.T.unsqueeze(0), w("ssm_conv1d.weight").unsqueeze(1), w("ssm_conv1d.bias"),
                       padding=K - 1, groups=CD)[..., :T]
        xs, B, C = torch.split(F.silu(xBC.squeeze(0).T), [E, G * N, G * N], dim=-1)
        dt = F.softplus(dt + w("ssm_dt.bias"))
        A, Dskip = w("ssm_a").reshape(H), w("ssm_d").reshape(H)
        xs = xs.reshape(T, H, P)
        B = B.reshape(T, G, N).repeat_interleave(H // G, 1)
        C = C.reshape(T, G, N).repeat_interleave(H // G, 1)
        S, ys = torch.zeros(H, P, N, dtype=torch.float64), []
        for t in range(T):
            S = S * torch.exp(dt[t] * A)[:, None, None] + (dt[t][:, None, None] * xs[t][:, :, None]) * B[t][:, None, :]
            ys.append(torch.einsum("hpn,hn->hp", S, C[t]) + Dskip[:, None] * xs[t])
        y = torch.stack(ys).reshape(T, E) * F.silu(gate)
        y = rms(y.reshape(T, G, E // G), w("ssm_norm.weight")).reshape(T, E)
        x = x + y @ w("ssm_out.weight").T
    return rms(x, W["output_norm.weight"]) @ W["output.weight"].T


def main():
    vkml, source = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(source, "tools", "train"))
    from gguf_writer import FLOAT32, STRING, UINT32, GGUFWriter
    from quant import F32

    cases = [dict(V=37, D=32, L=2, H=3, P=8, N=16, G=1, K=4), dict(V=41, D=24, L=3, H=4, P=6, N=8, G=2, K=3)]
    tokens = [1, 2, 3, 36, 0, 11, 17, 5, 5, 9, 30, 4, 4]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n, c in enumerate(cases):
            W = random_model(**c, seed=n + 1)
            w = GGUFWriter()
            w.add("general.architecture", STRING, "mamba2")
            for key, v in [("embedding_length", c["D"]), ("block_count", c["L"]), ("ssm.inner_size", c["H"] * c["P"]),
                           ("ssm.state_size", c["N"]), ("ssm.conv_kernel", c["K"]), ("ssm.time_step_rank", c["H"]),
                           ("ssm.group_count", c["G"])]:
                w.add("mamba2." + key, UINT32, v)
            w.add("mamba2.attention.layer_norm_rms_epsilon", FLOAT32, 1e-5)
            for name, t in W.items():
                w.add_tensor(name, t.float(), F32)
            path, out = os.path.join(tmp, f"m{n}.gguf"), os.path.join(tmp, f"m{n}.bin")
            w.write(path)
            subprocess.run([vkml, "logits", "-m", path, "--tokens", " ".join(map(str, tokens)), "-o", out], check=True,
                           stdout=subprocess.DEVNULL)
            ref = forward({k: v.float().double() for k, v in W.items()}, tokens, c["L"], c["H"], c["P"], c["N"], c["G"],
                          c["K"]).numpy()
            got = np.fromfile(out, dtype="<f4").reshape(ref.shape)
            nmse = float(((ref - got) ** 2).sum() / (ref ** 2).sum())
            ok = nmse <= 1e-9
            failed += not ok
            print(f"mamba2 {c}: NMSE {nmse:.3g} {'ok' if ok else 'FAILED'}")
    print(f"{len(cases) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
