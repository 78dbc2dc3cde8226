"""Corpus, split and byte-level vocabulary for the tiny models.

The corpus is the King James Bible from the Debian package `bible-kjv-text`, read through the
`bible` program of the `bible-kjv` package (the .data file is in that program's own compressed
format). Normalisation is light: the verse reference ("Ge1:1 ") is dropped, each verse becomes one
line, and trailing white space is removed. The text is pure ASCII.

Split: whole books from the end of the Bible are held out until they hold at least 5% of the bytes
(Hebrews .. Revelation); everything before is training text. Perplexity is measured on a fixed
prefix of the held-out text (EVAL_BYTES bytes), cut into windows of (context - 1) bytes, each
window preceded by BOS; every byte of the window is predicted. The evaluated bytes are shipped as
models/tiny/heldout_eval.txt so that vkml can compute the same figure without the Debian package.

Vocabulary: the 256 byte values (token id == byte value), then BOS (256) and EOS (257).
"""

from __future__ import annotations

import os
import re
import subprocess

import numpy as np

BOS = 256
EOS = 257
N_VOCAB = 258
HELDOUT_FRACTION = 0.05
EVAL_BYTES = 16384

_REF = re.compile(r"^([0-9]?[A-Za-z]+)(\d+):(\d+) (.*)$")


def _read_verses() -> list[tuple[str, str]]:
    """(book, verse text) for every verse, in Bible order."""
    out = subprocess.run(["bible", "-f", "gen1:1-rev22:21"], stdin=subprocess.DEVNULL,
                         capture_output=True, check=True, text=True, encoding="ascii")
    verses = []
    for line in out.stdout.splitlines():
        line = line.rstrip()
        if not line:
            continue
        m = _REF.match(line)
        if m is None:
            raise ValueError(f"unexpected line in bible output: {line[:60]!r}")
        verses.append((m.group(1), m.group(4).strip()))
    if len(verses) != 31102:
        raise ValueError(f"expected 31102 verses, got {len(verses)}")
    return verses


def load_split(cache_dir: str | None = None) -> tuple[bytes, bytes, list[str]]:
    """Returns (train bytes, held-out bytes, held-out book names). Deterministic."""
    verses = _read_verses()
    books: list[str] = []
    for b, _ in verses:
        if not books or books[-1] != b:
            books.append(b)
    total = sum(len(t) + 1 for _, t in verses)
    held: list[str] = []
    size = 0
    for b in reversed(books):
        if size >= HELDOUT_FRACTION * total:
            break
        held.append(b)
        size += sum(len(t) + 1 for bb, t in verses if bb == b)
    held_set = set(held)
    train = "".join(t + "\n" for b, t in verses if b not in held_set).encode("ascii")
    heldout = "".join(t + "\n" for b, t in verses if b in held_set).encode("ascii")
    return train, heldout, list(reversed(held))


def encode(text: bytes | str) -> list[int]:
    """Text -> token ids: exactly the UTF-8 bytes."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    return list(text)


def eval_windows(heldout: bytes, context: int) -> np.ndarray:
    """The evaluation windows: int64 [n, <=context] rows of BOS + (context-1) held-out bytes.

    The last window may be shorter; it is returned padded with -1 (ignored)."""
    data = heldout[:EVAL_BYTES]
    step = context - 1
    rows = []
    for i in range(0, len(data), step):
        chunk = list(data[i:i + step])
        row = [BOS] + chunk + [-1] * (step - len(chunk))
        rows.append(row)
    return np.array(rows, dtype=np.int64)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) \
        + list(range(ord("\xae"), ord("\xff") + 1))
    mapping = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + n)
            n += 1
    return mapping


def gguf_vocab() -> dict:
    """Tokenizer metadata: a byte-level BPE with no merges, so text -> ids is UTF-8 bytes."""
    m = bytes_to_unicode()
    tokens = [m[b] for b in range(256)] + ["<s>", "</s>"]
    types = [1] * 256 + [3, 3]
    return {"tokens": tokens, "token_type": types, "bos": BOS, "eos": EOS}


if __name__ == "__main__":
    tr, ho, books = load_split()
    print(f"train {len(tr)} bytes, held-out {len(ho)} bytes ({', '.join(books)})")
    print(os.linesep.join(ho[:300].decode().splitlines()[:3]))
