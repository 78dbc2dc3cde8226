"""The two tiny architectures, written as llama.cpp computes them (`llama` and `mamba` archs).

Parameters live in a flat dict keyed by the GGUF tensor names with PyTorch shapes ([out, in] for a
linear weight; GGUF lists the dims reversed). The same forward serves training (with fake-quantized
linear weights), evaluation and parity checks of exported files (with dequantized weights).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from quant import fake_quant


@dataclass
class LlamaConfig:
    n_vocab: int = 258
    dim: int = 256
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 2
    ffn: int = 512
    context: int = 128
    eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads


@dataclass
class MambaConfig:
    n_vocab: int = 258
    dim: int = 256
    d_inner: int = 512
    d_state: int = 16
    dt_rank: int = 16
    d_conv: int = 4
    n_layers: int = 2
    context: int = 128
    eps: float = 1e-5


def config_dict(cfg) -> dict:
    return asdict(cfg)


def linear_names(cfg) -> list[str]:
    """The weights that are quantized (fake-quantized in QAT, block formats in the files)."""
    if isinstance(cfg, LlamaConfig):
        per = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
    else:
        per = ["ssm_in", "ssm_x", "ssm_out"]  # ssm_dt's input dim (dt_rank) is too small to block
    return [f"blk.{i}.{p}.weight" for i in range(cfg.n_layers) for p in per] + ["output.weight"]


def init_params(cfg, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def normal(*shape, std):
        return torch.randn(*shape, generator=g) * std

    p: dict[str, torch.Tensor] = {}
    d = cfg.dim
    std = 0.02
    resid_std = std / math.sqrt(2 * cfg.n_layers)
    p["token_embd.weight"] = normal(cfg.n_vocab, d, std=1.0 / math.sqrt(d) * 4)
    if isinstance(cfg, LlamaConfig):
        hd = cfg.head_dim
        for i in range(cfg.n_layers):
            b = f"blk.{i}."
            p[b + "attn_norm.weight"] = torch.ones(d)
            p[b + "attn_q.weight"] = normal(cfg.n_heads * hd, d, std=std)
            p[b + "attn_k.weight"] = normal(cfg.n_kv_heads * hd, d, std=std)
            p[b + "attn_v.weight"] = normal(cfg.n_kv_heads * hd, d, std=std)
            p[b + "attn_output.weight"] = normal(d, cfg.n_heads * hd, std=resid_std)
            p[b + "ffn_norm.weight"] = torch.ones(d)
            p[b + "ffn_gate.weight"] = normal(cfg.ffn, d, std=std)
            p[b + "ffn_up.weight"] = normal(cfg.ffn, d, std=std)
            p[b + "ffn_down.weight"] = normal(d, cfg.ffn, std=resid_std)
    else:
        e, n, r = cfg.d_inner, cfg.d_state, cfg.dt_rank
        for i in range(cfg.n_layers):
            b = f"blk.{i}."
            p[b + "attn_norm.weight"] = torch.ones(d)
            p[b + "ssm_in.weight"] = normal(2 * e, d, std=std)
            p[b + "ssm_conv1d.weight"] = (torch.rand(e, cfg.d_conv, generator=g) * 2 - 1) / math.sqrt(cfg.d_conv)
            p[b + "ssm_conv1d.bias"] = torch.zeros(e)
            p[b + "ssm_x.weight"] = normal(r + 2 * n, e, std=std)
            p[b + "ssm_dt.weight"] = (torch.rand(e, r, generator=g) * 2 - 1) * r ** -0.5
            # dt initialised in [1e-3, 1e-1] (log-uniform) through the inverse softplus, as Mamba does
            dt = torch.exp(torch.rand(e, generator=g) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            p[b + "ssm_dt.bias"] = dt + torch.log(-torch.expm1(-dt))
            # A_log = log(1..N) per channel; the file stores ssm_a = -exp(A_log)
            p[b + "ssm_a_log"] = torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(e, 1)
            p[b + "ssm_d"] = torch.ones(e)
            p[b + "ssm_out.weight"] = normal(d, e, std=resid_std)
    p["output_norm.weight"] = torch.ones(d)
    p["output.weight"] = normal(cfg.n_vocab, d, std=std)
    return p


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_normal(x: torch.Tensor, pos: torch.Tensor, theta: float) -> torch.Tensor:
    """llama.cpp's "normal" RoPE: rotate adjacent pairs (x[2i], x[2i+1]) by pos * theta^(-2i/hd).

    x: [B, T, H, hd], pos: [T]."""
    hd = x.shape[-1]
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)  # [hd/2]
    ang = pos.to(torch.float32)[:, None] * inv[None, :]  # [T, hd/2]
    cos = torch.cos(ang)[None, :, None, :]
    sin = torch.sin(ang)[None, :, None, :]
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.flatten(-2)


def llama_forward(p: dict, cfg: LlamaConfig, tokens: torch.Tensor, qtype: int | None = None) -> torch.Tensor:
    """tokens [B, T] -> logits [B, T, n_vocab]. qtype: fake-quantize the linear weights."""
    fq = (lambda w: fake_quant(w, qtype)) if qtype is not None else (lambda w: w)
    B, T = tokens.shape
    H, KV, hd = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
    x = p["token_embd.weight"][tokens]
    pos = torch.arange(T)
    mask = torch.full((T, T), float("-inf")).triu(1)
    for i in range(cfg.n_layers):
        b = f"blk.{i}."
        h = rms_norm(x, p[b + "attn_norm.weight"], cfg.eps)
        q = (h @ fq(p[b + "attn_q.weight"]).t()).view(B, T, H, hd)
        k = (h @ fq(p[b + "attn_k.weight"]).t()).view(B, T, KV, hd)
        v = (h @ fq(p[b + "attn_v.weight"]).t()).view(B, T, KV, hd)
        q = rope_normal(q, pos, cfg.rope_theta)
        k = rope_normal(k, pos, cfg.rope_theta)
        # query head j uses kv head j // (H / KV), as ggml's broadcast does
        k = k.repeat_interleave(H // KV, dim=2)
        v = v.repeat_interleave(H // KV, dim=2)
        att = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(hd) + mask
        att = torch.softmax(att, dim=-1)
        o = torch.einsum("bhts,bshd->bthd", att, v).reshape(B, T, H * hd)
        x = x + o @ fq(p[b + "attn_output.weight"]).t()
        h = rms_norm(x, p[b + "ffn_norm.weight"], cfg.eps)
        g = h @ fq(p[b + "ffn_gate.weight"]).t()
        u = h @ fq(p[b + "ffn_up.weight"]).t()
        x = x + (F.silu(g) * u) @ fq(p[b + "ffn_down.weight"]).t()
    x = rms_norm(x, p["output_norm.weight"], cfg.eps)
    return x @ fq(p["output.weight"]).t()


def _softplus(v: torch.Tensor) -> torch.Tensor:
    return torch.where(v > 20.0, v, torch.log1p(torch.exp(torch.clamp(v, max=20.0))))


def ssm_a(p: dict, b: str) -> torch.Tensor:
    """A = -exp(A_log) [E, N]; exported files hold it directly as blk.N.ssm_a."""
    if b + "ssm_a" in p:
        return p[b + "ssm_a"]
    return -torch.exp(p[b + "ssm_a_log"])


class LinearScan(torch.autograd.Function):
    """h_t = a_t * h_{t-1} + b_t along dim 0, h_{-1} = 0; a sequential loop in both directions
    (autograd through per-step slices would be quadratic in T)."""

    @staticmethod
    def forward(ctx, a, b):
        h = torch.empty_like(b)
        prev = torch.zeros_like(b[0])
        for t in range(b.shape[0]):
            prev = torch.addcmul(b[t], a[t], prev, out=h[t])
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, gh):
        a, h = ctx.saved_tensors
        T = gh.shape[0]
        g = torch.empty_like(gh)
        g[T - 1].copy_(gh[T - 1])
        for t in range(T - 2, -1, -1):
            torch.addcmul(gh[t], a[t + 1], g[t + 1], out=g[t])
        ga = torch.zeros_like(a)
        ga[1:] = g[1:] * h[:-1]
        return ga, g


def mamba_forward(p: dict, cfg: MambaConfig, tokens: torch.Tensor, qtype: int | None = None) -> torch.Tensor:
    """tokens [B, T] -> logits [B, T, n_vocab]; the selective scan runs sequentially over time."""
    fq = (lambda w: fake_quant(w, qtype)) if qtype is not None else (lambda w: w)
    B, T = tokens.shape
    E, N, R, K = cfg.d_inner, cfg.d_state, cfg.dt_rank, cfg.d_conv
    x = p["token_embd.weight"][tokens]
    for i in range(cfg.n_layers):
        b = f"blk.{i}."
        h = rms_norm(x, p[b + "attn_norm.weight"], cfg.eps)
        xz = h @ fq(p[b + "ssm_in.weight"]).t()
        xs, z = xz[..., :E], xz[..., E:]
        # causal depthwise conv: x'_t = bias + sum_k w[e,k] x_{t-K+1+k}
        xp = F.pad(xs.transpose(1, 2), (K - 1, 0))  # [B, E, T+K-1]
        conv = F.conv1d(xp, p[b + "ssm_conv1d.weight"].unsqueeze(1), p[b + "ssm_conv1d.bias"], groups=E)
        u = F.silu(conv.transpose(1, 2))  # [B, T, E]
        dbc = u @ fq(p[b + "ssm_x.weight"]).t()
        dt, Bm, Cm = dbc[..., :R], dbc[..., R:R + N], dbc[..., R + N:]
        delta = _softplus(dt @ p[b + "ssm_dt.weight"].t() + p[b + "ssm_dt.bias"])  # [B, T, E]
        A = ssm_a(p, b)  # [E, N]
        # time-major [T, B, E, N]: h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t
        dA = torch.exp(delta.transpose(0, 1).unsqueeze(-1) * A)
        dBu = (delta * u).transpose(0, 1).unsqueeze(-1) * Bm.transpose(0, 1).unsqueeze(2)
        hs = LinearScan.apply(dA.contiguous(), dBu.contiguous())
        y = (hs @ Cm.transpose(0, 1).unsqueeze(-1)).squeeze(-1).transpose(0, 1)  # [B, T, E]
        y = y + p[b + "ssm_d"] * u
        y = y * F.silu(z)
        x = x + y @ fq(p[b + "ssm_out.weight"]).t()
    x = rms_norm(x, p["output_norm.weight"], cfg.eps)
    return x @ fq(p["output.weight"]).t()


def forward(p: dict, cfg, tokens: torch.Tensor, qtype: int | None = None) -> torch.Tensor:
    if isinstance(cfg, LlamaConfig):
        return llama_forward(p, cfg, tokens, qtype)
    return mamba_forward(p, cfg, tokens, qtype)


def n_params(p: dict) -> int:
    return sum(v.numel() for v in p.values())
