"""Checkpoints -> models/tiny/*.gguf, reference.json, heldout_eval.txt and MODEL_CARD.md.

Every figure is computed from the exported files (read back and dequantized by gguf_reader), so
it is what an exact implementation of the llama / mamba graphs computes from those files.
"""

from __future__ import annotations

import datetime
import glob
import json
import math
import os

import torch
import torch.nn.functional as F

import data
from gguf_reader import GGUFReader
from gguf_writer import ARRAY, FLOAT32, INT32, STRING, UINT32, GGUFWriter  # noqa: F401
from model import LlamaConfig, MambaConfig, forward, linear_names
from quant import BITS_TO_TYPE, F16, F32, TYPE_NAMES

PROMPT = "In the beginning God created"
FILE_TYPE = {F16: 1, 8: 7, 2: 2, 14: 18}  # llama.cpp LLAMA_FTYPE_MOSTLY_*
REF_POSITIONS = 3


def size_label(n: int) -> str:
    return f"{n / 1e6:.1f}M"


def file_name(kind: str, n: int, qtype: int) -> str:
    return f"tiny-{kind}-{size_label(n)}-{TYPE_NAMES[qtype]}.gguf"


def _file_params(ck: dict) -> dict[str, torch.Tensor]:
    """Checkpoint params -> the tensors as the file stores them (mamba: ssm_a = -exp(A_log))."""
    out = {}
    for k, v in ck["params"].items():
        if k.endswith("ssm_a_log"):
            out[k[:-len("_log")]] = -torch.exp(v)
        else:
            out[k] = v
    return out


def tensor_type(name: str, shape: list[int], qtype: int, quantized: set[str]) -> int:
    if name in quantized:
        return qtype
    if len(shape) == 2 and not name.endswith("ssm_conv1d.weight"):
        return F16  # token_embd, ssm_dt: f16 in every file
    return F32  # norms, biases, ssm_a, ssm_d, conv weights


def write_gguf(ck: dict, path: str) -> int:
    kind, bits = ck["kind"], ck["bits"]
    qtype = BITS_TO_TYPE[bits]
    cfg = (LlamaConfig if kind == "llama" else MambaConfig)(**ck["config"])
    w = GGUFWriter()
    arch = kind
    w.add("general.architecture", STRING, arch)
    w.add("general.name", STRING, f"vkml tiny {kind} {size_label(ck['n_params'])} "
          f"{'FP16' if bits == 16 else f'INT{bits} QAT'}")
    w.add("general.file_type", UINT32, FILE_TYPE[qtype])
    w.add("general.quantization_version", UINT32, 2)
    w.add("general.alignment", UINT32, 32)
    w.add("general.license", STRING, "weights: the vkml project's licence; training text: King James Bible (public domain)")
    w.add(f"{arch}.context_length", UINT32, cfg.context)
    w.add(f"{arch}.embedding_length", UINT32, cfg.dim)
    w.add(f"{arch}.block_count", UINT32, cfg.n_layers)
    if kind == "llama":
        w.add("llama.feed_forward_length", UINT32, cfg.ffn)
        w.add("llama.attention.head_count", UINT32, cfg.n_heads)
        w.add("llama.attention.head_count_kv", UINT32, cfg.n_kv_heads)
        w.add("llama.rope.dimension_count", UINT32, cfg.head_dim)
        w.add("llama.attention.layer_norm_rms_epsilon", FLOAT32, cfg.eps)
        w.add("llama.rope.freq_base", FLOAT32, cfg.rope_theta)
        w.add("llama.vocab_size", UINT32, cfg.n_vocab)
    else:
        w.add("mamba.ssm.conv_kernel", UINT32, cfg.d_conv)
        w.add("mamba.ssm.inner_size", UINT32, cfg.d_inner)
        w.add("mamba.ssm.state_size", UINT32, cfg.d_state)
        w.add("mamba.ssm.time_step_rank", UINT32, cfg.dt_rank)
        w.add("mamba.attention.layer_norm_rms_epsilon", FLOAT32, cfg.eps)
        w.add("mamba.vocab_size", UINT32, cfg.n_vocab)
    voc = data.gguf_vocab()
    w.add("tokenizer.ggml.model", STRING, "gpt2")
    w.add_array("tokenizer.ggml.tokens", STRING, voc["tokens"])
    w.add_array("tokenizer.ggml.token_type", INT32, voc["token_type"])
    w.add_array("tokenizer.ggml.merges", STRING, [])
    w.add("tokenizer.ggml.bos_token_id", UINT32, voc["bos"])
    w.add("tokenizer.ggml.eos_token_id", UINT32, voc["eos"])
    w.add("tokenizer.ggml.add_bos_token", 7, True)
    quantized = set(linear_names(cfg)) if bits != 16 else set()
    params = _file_params(ck)
    for name, t in params.items():
        tt = tensor_type(name, list(t.shape), qtype, quantized)
        w.add_tensor(name, t.detach().float(), tt)
    return w.write(path)


def load_gguf_model(path: str):
    """(config, params as float32 tensors keyed by GGUF name, reader) from a tiny-model file."""
    r = GGUFReader(path)
    md = r.metadata
    arch = md["general.architecture"]
    n_vocab = r.tensors["output.weight"]["dims"][1]
    if arch == "llama":
        cfg = LlamaConfig(n_vocab=n_vocab, dim=md["llama.embedding_length"], n_layers=md["llama.block_count"],
                          n_heads=md["llama.attention.head_count"],
                          n_kv_heads=md.get("llama.attention.head_count_kv", md["llama.attention.head_count"]),
                          ffn=md["llama.feed_forward_length"], context=md["llama.context_length"],
                          eps=md["llama.attention.layer_norm_rms_epsilon"],
                          rope_theta=md.get("llama.rope.freq_base", 10000.0))
    elif arch == "mamba":
        cfg = MambaConfig(n_vocab=n_vocab, dim=md["mamba.embedding_length"], d_inner=md["mamba.ssm.inner_size"],
                          d_state=md["mamba.ssm.state_size"], dt_rank=md["mamba.ssm.time_step_rank"],
                          d_conv=md["mamba.ssm.conv_kernel"], n_layers=md["mamba.block_count"],
                          context=md["mamba.context_length"], eps=md["mamba.attention.layer_norm_rms_epsilon"])
    else:
        raise ValueError(f"{path}: unsupported architecture {arch}")
    params = {name: r.tensor(name) for name in r.tensors}
    return cfg, params, r


@torch.no_grad()
def perplexity(cfg, params, heldout: bytes, batch: int = 32) -> tuple[float, int]:
    """Per-byte perplexity over data.eval_windows (context = the model's context length)."""
    win = torch.from_numpy(data.eval_windows(heldout, cfg.context))
    inp = win.clone()
    inp[inp < 0] = 0
    # position j predicts byte j+1 of the row (row[0] = BOS); the last position predicts nothing
    tgt = torch.cat([win[:, 1:], torch.full((win.shape[0], 1), -1)], dim=1)
    nll, n = 0.0, 0
    for i in range(0, win.shape[0], batch):
        lg = forward(params, cfg, inp[i:i + batch])
        t = tgt[i:i + batch]
        loss = F.cross_entropy(lg.reshape(-1, cfg.n_vocab).double(), t.reshape(-1), ignore_index=-1,
                               reduction="sum")
        nll += loss.item()
        n += int((t >= 0).sum())
    return math.exp(nll / n), n


def prompt_tokens() -> list[int]:
    return [data.BOS] + data.encode(PROMPT)


@torch.no_grad()
def logits_for(cfg, params, tokens: list[int]) -> torch.Tensor:
    return forward(params, cfg, torch.tensor([tokens]))[0]


def export_all(ckpt_dir: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    _, heldout, held_books = data.load_split()
    eval_bytes = heldout[:data.EVAL_BYTES]
    with open(os.path.join(out_dir, "heldout_eval.txt"), "wb") as f:
        f.write(eval_bytes)
    for old in glob.glob(os.path.join(out_dir, "tiny-*.gguf")):
        os.remove(old)
    results = []
    ref = {"prompt": PROMPT, "tokens": prompt_tokens(), "positions": REF_POSITIONS,
           "eval_text": "heldout_eval.txt", "models": {}}
    for kind in ("llama", "mamba"):
        for bits in (16, 8, 6, 4):
            p = os.path.join(ckpt_dir, f"{kind}-{bits}.pt")
            if not os.path.exists(p):
                print(f"missing checkpoint {p}; skipped")
                continue
            ck = torch.load(p)
            name = file_name(kind, ck["n_params"], BITS_TO_TYPE[bits])
            path = os.path.join(out_dir, name)
            size = write_gguf(ck, path)
            cfg, params, _ = load_gguf_model(path)
            ppl, n = perplexity(cfg, params, heldout)
            lg = logits_for(cfg, params, ref["tokens"])
            print(f"{name}: {size} bytes, held-out ppl {ppl:.4f} over {n} bytes", flush=True)
            ref["models"][name] = {"kind": kind, "bits": bits, "perplexity": ppl, "eval_bytes": n,
                                   "logits": [[float(x) for x in row] for row in lg[:REF_POSITIONS]]}
            results.append({"file": name, "kind": kind, "bits": bits, "size": size, "ppl": ppl,
                            "n_params": ck["n_params"], "wall_s": ck["wall_s"], "config": ck["config"],
                            "hp": ck["hp"], "final_loss": sum(ck["losses"][-20:]) / 20})
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    write_card(out_dir, results, held_books, len(heldout))


def write_card(out_dir: str, results: list[dict], held_books: list[str], held_len: int) -> None:
    train_len = None
    tr, _, _ = data.load_split()
    train_len = len(tr)
    lines = []
    a = lines.append
    a("# vkml tiny models: model card")
    a("")
    a("Small byte-level language models trained by the project itself (tools/train/), at tiny scale")
    a("reproducing the setting of the seed paper \"Mapping the Schedule x Bit-Width Boundary in")
    a("Sub-100M Quantisation-Aware Training\": FP16 and INT8/INT6/INT4 quantisation-aware training with")
    a("one learning-rate schedule. They exist so that vkml can run real trained models of both of its")
    a("architectures (llama, mamba) without a model hub. They are tiny and under-trained (minutes on a")
    a("shared CPU): expect KJV-flavoured babble, not sense.")
    a("")
    a("Generated by `tools/train/export.py` on " + datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC") + ".")
    a("")
    a("## Corpus and split")
    a("")
    a("- King James Bible (1611 Authorized Version), Debian package `bible-kjv-text`, read with the")
    a("  `bible` program (`bible-kjv`). One verse per line, verse references removed, ASCII.")
    a(f"- Held out: the last whole books holding >= 5% of the bytes ({held_books[0]} .. {held_books[-1]},")
    a(f"  {held_len} bytes); training text: everything before ({train_len} bytes).")
    a(f"- Perplexity: per byte on the first {data.EVAL_BYTES} held-out bytes (shipped as")
    a("  `heldout_eval.txt`), cut into windows of (context - 1) bytes, each fed as BOS + window; every")
    a("  byte is predicted once (by the position before it). exp(mean negative log-likelihood).")
    a("- Vocabulary: 258 tokens = the 256 byte values (id = byte) + BOS (256) + EOS (257), stored as a")
    a("  `gpt2` byte-level BPE without merges (token strings = GPT-2's byte-to-unicode map).")
    a("")
    a("## Models")
    a("")
    seen = set()
    for r in results:
        if r["kind"] in seen:
            continue
        seen.add(r["kind"])
        c = r["config"]
        if r["kind"] == "llama":
            a(f"- **llama** ({r['n_params']:,} parameters): dim {c['dim']}, {c['n_layers']} layers, "
              f"{c['n_heads']} heads (head dim {c['dim'] // c['n_heads']}), {c['n_kv_heads']} KV heads, "
              f"SwiGLU FFN {c['ffn']}, RMSNorm eps {c['eps']}, RoPE theta {c['rope_theta']:g} (llama.cpp "
              f"normal mode: adjacent pairs), context {c['context']}, untied output.")
        else:
            a(f"- **mamba** ({r['n_params']:,} parameters): d_model {c['dim']}, d_inner {c['d_inner']}, "
              f"state N {c['d_state']}, dt rank {c['dt_rank']}, conv K {c['d_conv']}, {c['n_layers']} "
              f"layers, RMSNorm eps {c['eps']}, context {c['context']} (trained length), untied output.")
    a("")
    a("Quantized files (QAT at the matching bit-width): every linear weight (attention, FFN, ssm_in,")
    a("ssm_x, ssm_out, output) in the file's block format; token embedding and ssm_dt (in-dim 16) in")
    a("F16; norms, biases, conv weights, ssm_a, ssm_d in F32. FP16 files: all matrices F16.")
    a("QAT fake-quantizes with exactly the exported format's quantizer (straight-through estimator):")
    a("INT8 = Q8_0 (32-blocks, absmax/127), INT4 = Q4_0 (32-blocks, signed absmax/-8, range [-8,7]),")
    a("INT6 = Q6_K (16-blocks with absmax/-32 scales quantized to int8 per 256-super-block); scales")
    a("rounded to f16 as stored, so the trained forward equals the file's dequantized weights.")
    a("")
    hp = results[0]["hp"] if results else {}
    a("## Training")
    a("")
    a("One command, fixed seed (1234), CPU, one thread per process:")
    a("")
    a("    /usr/bin/python3 tools/train/train.py --all")
    a("")
    a("(the shipped files were trained with the same code as 8 separate `--train KIND BITS` runs, two to four")
    a("at a time in parallel processes, then `--export`; each run seeds itself, so the runs are independent.)")
    for kind in ("llama", "mamba"):
        rr = [r for r in results if r["kind"] == kind]
        if rr:
            h = rr[0]["hp"]
            a(f"- {kind}: AdamW (betas {tuple(h['betas'])}, weight decay {h['weight_decay']} on matrices), "
              f"peak LR {h['lr']}, {h['warmup']} warmup steps, constant, linear warmdown to 0 over the last "
              f"third; {h['steps']} steps of {h['batch']} x {rr[0]['config']['context']} bytes; grad clip "
              f"{h['clip']}. Same schedule and batches for every bit-width.")
    a("- The schedule was not swept (no CPU time for it); it was fixed before the FP16 run and reused")
    a("  unchanged for INT8/INT6/INT4, as the paper recommends.")
    a("")
    a("## Results (PyTorch, from the exported files)")
    a("")
    a("| file | bits | size (bytes) | train wall time (s) | final train loss | held-out ppl / byte |")
    a("|---|---|---|---|---|---|")
    for r in results:
        a(f"| {r['file']} | {'FP16' if r['bits'] == 16 else 'INT' + str(r['bits'])} | {r['size']:,} | "
          f"{r['wall_s']:.0f} | {r['final_loss']:.3f} | {r['ppl']:.3f} |")
    total = sum(r["size"] for r in results)
    a("")
    a(f"Total size of the .gguf files: {total:,} bytes. Wall times were measured on a 2-core machine")
    a("shared with parallel compiles, so they are loose.")
    a("")
    a('Caveat: each run sees only ~300k (llama) / ~200k (mamba) training bytes (under 10% of one epoch),')
    a('so the models are far from converged and the differences between bit-widths (a few hundredths')
    a("of perplexity) are within run-to-run noise; this table is no evidence about the paper's")
    a('schedule x bit-width boundary, only a check that every format trains and exports correctly.')
    a('')
    a("`reference.json` holds, per file, this perplexity and the logits of the first 3 positions of")
    a("BOS + the bytes of \"In the beginning God created\", as PyTorch computes them from the file.")
    a("")
    a("## Licence")
    a("")
    a("The training text (King James Version) is in the public domain. The weights are the vkml")
    a("project's own work and are distributed under the project's licence.")
    with open(os.path.join(out_dir, "MODEL_CARD.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
