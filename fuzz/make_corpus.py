#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/: small valid GGUF, safetensors, JSON, tokenizer GGUF
and text inputs. Deterministic; rerun after changing it and commit the output."""
import json
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# GGUF value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
           U64: "Q", I64: "q", F64: "d"}
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
    return struct.pack("<" + fmt[t], v)


def gguf(kv, tensors=(), version=3, alignment=32):
    """kv: [(key, type, value)]; tensors: [(name, dims innermost-first, ggml_type, bytes)]"""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv))
    for k, t, v in kv:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    offset = 0
    datas = []
    for name, dims, gt, data in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", gt, offset)
        datas.append((offset, data))
        offset += (len(data) + alignment - 1) // alignment * alignment
    out += b"\0" * ((-len(out)) % alignment)
    blob = bytearray(offset)
    for off, data in datas:
        blob[off:off + len(data)] = data
    return out + bytes(blob)


def f32s(*xs):
    return struct.pack("<%df" % len(xs), *xs)


def q8_0_block():
    return struct.pack("<e", 0.5) + bytes(range(32))


def safetensors(tensors, metadata=None):
    header = {}
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + data


def write(sub, name, data):
    d = os.path.join(ROOT, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def spm_vocab():
    toks = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + \
           ["\u2581", "\u2581H", "e", "l", "o", "\u2581w", "r", "d", "ll", "\u2581Hello", "\u2581world", "!"]
    types = [2, 3, 3] + [6] * 256 + [1] * 12
    scores = [0.0] * 259 + [-float(i) for i in range(12)]
    return [("tokenizer.ggml.model", STR, "llama"),
            ("tokenizer.ggml.tokens", ARR, (STR, toks)),
            ("tokenizer.ggml.scores", ARR, (F32, scores)),
            ("tokenizer.ggml.token_type", ARR, (I32, types)),
            ("tokenizer.ggml.bos_token_id", U32, 1),
            ("tokenizer.ggml.eos_token_id", U32, 2),
            ("tokenizer.ggml.unknown_token_id", U32, 0),
            ("tokenizer.ggml.add_bos_token", BOOL, True)]


def gpt2_byte_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def bpe_vocab(pre="gpt2"):
    m = gpt2_byte_to_unicode()
    toks = [m[b] for b in range(256)] + ["He", "ll", "Hell", "Hello", "\u0120w", "or", "\u0120wor",
                                         "\u0120world", "<|endoftext|>"]
    types = [1] * (len(toks) - 1) + [3]
    merges = ["H e", "l l", "He ll", "Hell o", "\u0120 w", "o r", "\u0120w or", "\u0120wor ld"]
    return [("tokenizer.ggml.model", STR, "gpt2"),
            ("tokenizer.ggml.pre", STR, pre),
            ("tokenizer.ggml.tokens", ARR, (STR, toks)),
            ("tokenizer.ggml.token_type", ARR, (I32, types)),
            ("tokenizer.ggml.merges", ARR, (STR, merges)),
            ("tokenizer.ggml.bos_token_id", U32, len(toks) - 1),
            ("tokenizer.ggml.eos_token_id", U32, len(toks) - 1)]


def main():
    # --- GGUF ---
    write("gguf", "empty_v3.gguf", gguf([]))
    write("gguf", "empty_v2.gguf", gguf([], version=2))
    write("gguf", "all_types.gguf", gguf([
        ("a.u8", U8, 7), ("a.i8", I8, -7), ("a.u16", U16, 700), ("a.i16", I16, -700),
        ("a.u32", U32, 70000), ("a.i32", I32, -70000), ("a.f32", F32, 1.5), ("a.bool", BOOL, True),
        ("a.str", STR, "h\u00e9llo"), ("a.u64", U64, 1 << 40), ("a.i64", I64, -(1 << 40)),
        ("a.f64", F64, 2.25), ("a.arr_i32", ARR, (I32, [1, 2, 3])), ("a.arr_f32", ARR, (F32, [0.5, 1.0])),
        ("a.arr_str", ARR, (STR, ["x", "yz", ""])), ("a.arr_arr", ARR, (ARR, [(U8, [1, 2]), (U8, [])])),
    ]))
    write("gguf", "tensors.gguf", gguf(
        [("general.architecture", STR, "llama"), ("general.alignment", U32, 32)],
        [("w.f32", [4, 2], 0, f32s(*range(8))),
         ("w.f16", [3], 1, struct.pack("<3e", 1.0, -2.0, 0.5)),
         ("w.q8_0", [32, 2], 8, q8_0_block() * 2),
         ("w.q4_0", [32], 2, struct.pack("<e", 1.0) + bytes(range(16))),
         ("w.unknown", [8], 30, bytes(16))]))
    write("gguf", "align64.gguf", gguf([("general.alignment", U32, 64)],
                                       [("a", [5], 0, f32s(1, 2, 3, 4, 5)), ("b", [1], 0, f32s(9))],
                                       alignment=64))
    write("gguf", "tokenizer_spm.gguf", gguf(spm_vocab()))
    # --- tokenizer GGUF: small SPM and BPE vocabularies ---
    write("tokenizer_gguf", "spm.gguf", gguf(spm_vocab()))
    write("tokenizer_gguf", "bpe_gpt2.gguf", gguf(bpe_vocab("gpt2")))
    write("tokenizer_gguf", "bpe_deepseek.gguf", gguf(bpe_vocab("deepseek-coder")))
    write("tokenizer_gguf", "bpe_default.gguf", gguf(bpe_vocab("default")))
    # --- safetensors ---
    write("safetensors", "one_f32.safetensors", safetensors([("w", "F32", [2, 2], f32s(1, 2, 3, 4))]))
    write("safetensors", "mixed.safetensors", safetensors(
        [("model.embed_tokens.weight", "F16", [2, 3], struct.pack("<6e", 1, 2, 3, 4, 5, 6)),
         ("model.norm.weight", "BF16", [4], struct.pack("<4H", 0x3F80, 0x4000, 0xBF80, 0)),
         ("lm_head.weight", "F32", [1, 3], f32s(0.5, 0.25, 0.125)),
         ("ids", "I64", [2], struct.pack("<2q", 1, -1)),
         ("scalar", "F32", [], f32s(3.0)),
         ("empty", "F32", [0, 4], b"")],
        metadata={"format": "pt", "note": "seed"}))
    write("safetensors", "empty.safetensors", safetensors([]))
    # --- JSON ---
    write("json", "config.json", json.dumps({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
        "intermediate_size": 172, "num_attention_heads": 8, "num_key_value_heads": 4,
        "num_hidden_layers": 5, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "vocab_size": 512,
        "tie_word_embeddings": True, "torch_dtype": "float32", "rope_scaling": None,
        "bos_token_id": 1, "eos_token_id": [2, 3]}, indent=2))
    write("json", "values.json", '[0, -1, 1.5e300, -2.5E-7, 123456789012345678901, true, false, null, '
                                 '"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\ud83d\\ude00", {}, [], {"a": {"b": [1, {"c": ""}]}}]')
    write("json", "tokenizer.json", json.dumps({
        "version": "1.0", "added_tokens": [{"id": 0, "content": "<unk>", "special": True}],
        "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}))
    write("json", "string.json", '"just a string"')
    # --- tokenizer.json (Tokenizer::from_hf_json): one small document per model family ---
    b2u = gpt2_byte_to_unicode()
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    bytes_vocab = {b2u[i]: i for i in range(256)}
    bytes_vocab.update({b2u[ord("h")] + b2u[ord("e")]: 256, "\u0120" + "w": 257, "<|endoftext|>": 258})
    write("tokenizer_json", "gpt2_bytelevel.json", json.dumps({
        "version": "1.0", "normalizer": None,
        "added_tokens": [{"id": 258, "content": "<|endoftext|>", "special": True, "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False}],
        "model": {"type": "BPE", "vocab": bytes_vocab, "merges": ["h e", "\u0120 w"]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"},
             "behavior": "Isolated", "invert": False}, dict(bl, use_regex=False)]},
        "post_processor": bl, "decoder": bl}))
    marker = "\u2581"
    llama_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    llama_vocab.update({"<0x%02X>" % i: 3 + i for i in range(256)})
    for t in [marker, "a", "b", marker + "a", "ab", marker + "ab"]:
        llama_vocab[t] = len(llama_vocab)
    write("tokenizer_json", "llama_bpe.json", json.dumps({
        "version": "1.0",
        "added_tokens": [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True},
                         {"id": 2, "content": "</s>", "special": True}],
        "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True, "vocab": llama_vocab,
                  "merges": [[marker, "a"], ["a", "b"], [marker + "a", "b"]]},
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": marker},
                                                           {"type": "Replace", "pattern": {"String": " "}, "content": marker}]},
        "pre_tokenizer": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": marker}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "post_processor": {"type": "TemplateProcessing", "single": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]}}))
    write("tokenizer_json", "llama_metaspace.json", json.dumps({
        "version": "1.0", "added_tokens": [{"id": 1, "content": "<s>", "special": True}],
        "model": {"type": "BPE", "byte_fallback": True, "vocab": llama_vocab, "merges": [marker + " a", "a b"]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": marker, "prepend_scheme": "first", "split": False},
        "decoder": {"type": "Metaspace", "replacement": marker, "prepend_scheme": "first", "split": False}}))
    write("tokenizer_json", "bert_wordpiece.json", json.dumps({
        "version": "1.0",
        "added_tokens": [{"id": 0, "content": "[UNK]", "special": True}, {"id": 1, "content": "[CLS]", "special": True},
                         {"id": 2, "content": "[SEP]", "special": True}],
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100,
                  "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "world": 4, "##s": 5, "!": 6, "un": 7, "##able": 8}},
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True}}))
    # --- tokenizer text ---
    write("tokenizer", "hello.txt", "Hello world!")
    write("tokenizer", "mixed.txt", "  Leading spaces, \u00e9\u00e8 unicode \u4e2d\u6587 \U0001F600 emoji\n\ttabs 12345 <s> </s> <|endoftext|>")
    write("tokenizer", "code.txt", "def f(x):\n    return x**2  # it's\n\n\n   \r\n")
    write("tokenizer", "bytes.bin", bytes(range(256)))
    # Inputs from the llama.cpp vocab tests, when the shared data is present.
    inp = "/work/shared/data/tokenizer/ggml-vocab-gpt-2.gguf.inp"
    if os.path.exists(inp):
        with open(inp, "rb") as f:
            parts = f.read().split(b"\n__ggml_vocab_test__\n")
        for i, p in enumerate(parts[:40]):
            if p:
                write("tokenizer", "vocabtest_%02d.txt" % i, p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
