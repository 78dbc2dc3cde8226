#!/usr/bin/python3
"""Tests of the training/export tooling: quantizer byte layouts, GGUF round trip, RoPE, the scan,
and the shipped models against reference.json (+ parity.py round trip).

  /usr/bin/python3 tools/train/test_train.py        (unittest; about a minute on a busy CPU)
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data  # noqa: E402
from gguf_reader import GGUFReader  # noqa: E402
from gguf_writer import ARRAY, BOOL, FLOAT32, INT32, STRING, UINT32, UINT64, GGUFWriter  # noqa: E402,F401
from model import LinearScan, rope_normal  # noqa: E402
from quant import F16, F32, Q4_0, Q6_K, Q8_0, dequantize, pack, quantize  # noqa: E402

TINY = os.environ.get("VKML_TINY_DIR", os.path.join(HERE, "..", "..", "models", "tiny"))


def _weights(rows: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, k, generator=g) * 0.05
    w[0, :] = 0.0                      # an all-zero row: zero scales must not divide by zero
    w[1, 5] = 1.0                      # an outlier block
    if rows > 2 and k > 40:
        w[2, 40] = -0.75
    return w


def _q6k_pack_scalar(codes: list[int], sc: list[int], d16: bytes) -> bytes:
    """One Q6_K block packed by ggml's quantize_row_q6_K_ref loop, transcribed literally."""
    L = [c + 32 for c in codes]
    ql = [0] * 128
    qh = [0] * 64
    for j in range(0, 256, 128):
        o_l, o_h = j // 2, j // 4
        for l in range(32):
            q1, q2 = L[j + l] & 0xF, L[j + l + 32] & 0xF
            q3, q4 = L[j + l + 64] & 0xF, L[j + l + 96] & 0xF
            ql[o_l + l] = q1 | (q3 << 4)
            ql[o_l + l + 32] = q2 | (q4 << 4)
            qh[o_h + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) \
                | ((L[j + l + 96] >> 4) << 6)
    return bytes(ql) + bytes(qh) + bytes([s & 0xFF for s in sc]) + d16


class QuantTest(unittest.TestCase):
    def test_dequantized_bytes_equal_the_qat_weights(self):
        for qtype, k in ((Q8_0, 96), (Q4_0, 96), (Q6_K, 512)):
            w = _weights(7, k, qtype)
            dq = dequantize(pack(w, qtype), qtype, w.numel()).reshape(7, k)
            np.testing.assert_array_equal(dq, quantize(w, qtype)["dq"].numpy(), err_msg=str(qtype))
            err = np.abs(dq - w.numpy()).max()
            self.assertLess(err, {Q8_0: 0.01, Q4_0: 0.1, Q6_K: 0.03}[qtype])

    def test_q8_0_block_layout(self):
        w = _weights(2, 32, 1)
        b = pack(w, Q8_0)
        self.assertEqual(len(b), 2 * 34)
        amax = float(w[1].abs().max())
        d = np.frombuffer(b[34:36], dtype="<f2")[0]
        self.assertEqual(d, np.float16(np.float32(amax) / np.float32(127)))
        q = np.frombuffer(b[36:68], dtype=np.int8)
        self.assertEqual(q[5], 127)  # the outlier 1.0 maps onto 127
        self.assertTrue(np.all(np.frombuffer(b[0:34], dtype=np.uint8) == 0))

    def test_q4_0_block_layout(self):
        w = torch.zeros(1, 32)
        w[0, 3] = -2.0     # signed absmax: d = -2 / -8 = 0.25
        w[0, 20] = 1.0     # 1 / 0.25 = 4 -> code 12, high nibble of byte 4
        w[0, 4] = 0.3      # 1.2 + 8.5 = 9.7 -> 9 (truncation) -> low nibble of byte 4
        b = pack(w, Q4_0)
        self.assertEqual(np.frombuffer(b[0:2], dtype="<f2")[0], np.float16(0.25))
        qs = b[2:]
        self.assertEqual(qs[3] & 0xF, 0)       # -2 / 0.25 = -8 -> code 0
        self.assertEqual(qs[4], 9 | (12 << 4))
        self.assertEqual(qs[0], 8 | (8 << 4))  # zeros -> code 8

    def test_q6_k_layout_matches_ggml_packing_loop(self):
        w = _weights(3, 512, 2)
        b = pack(w, Q6_K)
        self.assertEqual(len(b), 3 * 2 * 210)
        r = quantize(w, Q6_K)
        q = r["q"].numpy().astype(int)
        sc = r["sc"].numpy().astype(int)
        d = r["d"].numpy().astype("<f2")
        for row in range(3):
            for blk in range(2):
                codes = list(q[row, blk * 256:(blk + 1) * 256])
                ref = _q6k_pack_scalar(codes, list(sc[row, blk]), d[row, blk].tobytes())
                off = (row * 2 + blk) * 210
                self.assertEqual(b[off:off + 210], ref, f"row {row} block {blk}")
        self.assertTrue(np.all(q >= -32) and np.all(q <= 31))
        self.assertTrue(np.all(sc >= -128) and np.all(sc <= 127))


class GGUFTest(unittest.TestCase):
    def test_round_trip(self):
        w = GGUFWriter()
        w.add("general.architecture", STRING, "llama")
        w.add("a.u32", UINT32, 7)
        w.add("a.f32", FLOAT32, 1e-5)
        w.add("a.b", BOOL, True)
        w.add("a.u64", UINT64, 1 << 40)
        w.add_array("a.strs", STRING, ["x", "Ġ", ""])
        w.add_array("a.i32", INT32, [1, -3])
        w.add_array("a.empty", STRING, [])
        t1 = torch.randn(3, 5)
        t2 = torch.randn(4, 64)
        t3 = torch.randn(2, 256)
        w.add_tensor("t1", t1, F32)
        w.add_tensor("t2", t2, Q8_0)
        w.add_tensor("t3", t3, F16)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.gguf")
            w.write(p)
            r = GGUFReader(p)
            self.assertEqual(r.metadata["a.u32"], 7)
            self.assertAlmostEqual(r.metadata["a.f32"], 1e-5)
            self.assertEqual(r.metadata["a.b"], True)
            self.assertEqual(r.metadata["a.u64"], 1 << 40)
            self.assertEqual(r.metadata["a.strs"], ["x", "Ġ", ""])
            self.assertEqual(r.metadata["a.i32"], [1, -3])
            self.assertEqual(r.metadata["a.empty"], [])
            self.assertEqual(r.tensors["t1"]["dims"], [5, 3])  # innermost first
            self.assertEqual(r.tensors["t2"]["dims"], [64, 4])
            self.assertEqual(r.data_start % 32, 0)
            for name in r.tensors:
                self.assertEqual(r.tensors[name]["offset"] % 32, 0)
            torch.testing.assert_close(r.tensor("t1"), t1, rtol=0, atol=0)
            torch.testing.assert_close(r.tensor("t2"), quantize(t2, Q8_0)["dq"], rtol=0, atol=0)
            torch.testing.assert_close(r.tensor("t3"), t3.half().float(), rtol=0, atol=0)

    def test_quantized_tensor_needs_whole_blocks(self):
        w = GGUFWriter()
        with self.assertRaises(ValueError):
            w.add_tensor("bad", torch.zeros(4, 128), Q6_K)


class ModelTest(unittest.TestCase):
    def test_rope_rotates_adjacent_pairs(self):
        x = torch.randn(1, 3, 2, 8)
        pos = torch.arange(3)
        y = rope_normal(x, pos, 10000.0)
        for t in range(3):
            for i in range(4):
                a = t * 10000.0 ** (-2 * i / 8)
                c, s = np.cos(a), np.sin(a)
                x0, x1 = x[0, t, :, 2 * i], x[0, t, :, 2 * i + 1]
                torch.testing.assert_close(y[0, t, :, 2 * i], x0 * c - x1 * s)
                torch.testing.assert_close(y[0, t, :, 2 * i + 1], x0 * s + x1 * c)

    def test_linear_scan_matches_autograd_loop(self):
        a = torch.rand(6, 2, 3, dtype=torch.float64, requires_grad=True)
        b = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
        self.assertTrue(torch.autograd.gradcheck(LinearScan.apply, (a, b)))

    def test_vocab(self):
        v = data.gguf_vocab()
        self.assertEqual(len(v["tokens"]), 258)
        self.assertEqual(len(set(v["tokens"])), 258)
        self.assertEqual(v["tokens"][ord("A")], "A")
        self.assertEqual(v["tokens"][ord(" ")], "Ġ")
        self.assertEqual(data.encode("In"), [73, 110])


@unittest.skipUnless(glob.glob(os.path.join(TINY, "*.gguf")), "no shipped models")
class ShippedModelsTest(unittest.TestCase):
    def test_reference_logits_and_parity_round_trip(self):
        from export import load_gguf_model, logits_for
        with open(os.path.join(TINY, "reference.json")) as f:
            ref = json.load(f)
        files = sorted(glob.glob(os.path.join(TINY, "*.gguf")))
        self.assertEqual(sorted(os.path.basename(p) for p in files), sorted(ref["models"]))
        self.assertLess(sum(os.path.getsize(p) for p in files), 15 * 1000 * 1000)
        for p in files:
            cfg, params, r = load_gguf_model(p)
            self.assertEqual(r.metadata["tokenizer.ggml.model"], "gpt2")
            self.assertEqual(r.metadata["tokenizer.ggml.merges"], [])
            lg = logits_for(cfg, params, ref["tokens"])[:ref["positions"]].numpy()
            want = np.array(ref["models"][os.path.basename(p)]["logits"], dtype=np.float32)
            np.testing.assert_allclose(lg, want, rtol=0, atol=1e-4, err_msg=p)
        rc = subprocess.run([sys.executable, os.path.join(HERE, "parity.py"), files[0], "--self-test",
                             "--bos"], capture_output=True, text=True)
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "l.f32")
            subprocess.run([sys.executable, os.path.join(HERE, "parity.py"), files[-1], "--write", out,
                            "--bos"], check=True, capture_output=True)
            x = np.fromfile(out, dtype="<f4")
            x[::7] += 1.0  # perturbed logits must fail
            x.tofile(out)
            rc = subprocess.run([sys.executable, os.path.join(HERE, "parity.py"), files[-1], out, "--bos"],
                                capture_output=True, text=True)
            self.assertEqual(rc.returncode, 1, rc.stdout + rc.stderr)


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main()
