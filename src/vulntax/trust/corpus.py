"""Text that is not a vulnerability description, gathered offline at fit time.

The out-of-distribution detector (:mod:`vulntax.trust.fit`) learns vulnerability
descriptions against ordinary text this machine already has, so nothing is downloaded
and no corpus is committed:

* **prose** — documentation, READMEs, NEWS files, changelogs and copyright notices under
  ``/usr/share/doc`` and in the installed Python packages (``*.md``, ``*.rst``, ``*.txt``,
  ``METADATA``), and the Python language reference (``pydoc_data.topics``);
* **code** — windows of lines from the Python standard library's sources;
* **translations** — message catalogs under ``/usr/share/locale`` (``*.mo``), in every
  language they carry (the language check's measurement also reads them);
* **noise** — random letter strings and keyboard mashing, generated from a seed.

Paragraphs that talk about security (CVE ids, "vulnerability", "overflow", "XSS", …) are
dropped: a changelog entry that describes a fixed vulnerability *is* a vulnerability
description. Each chunk keeps its source file, so held-out chunks can come from files the
detector never saw.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOC_ROOTS = (Path("/usr/share/doc"),)
LOCALE_ROOT = Path("/usr/share/locale")
_PROSE_SUFFIXES = {".md", ".rst", ".txt", ""}
_PROSE_NAMES = re.compile(
    r"^(readme|news|changelog|changes|history|copyright|authors|todo|faq)", re.I
)
_SECURITY = re.compile(
    r"cve-|vulnerab|exploit|overflow|injection|xss|cross.site|csrf|security|attacker|malicious"
    r"|denial.of.service|arbitrary code|privilege|sanitiz|traversal|use.after.free|out.of.bounds",
    re.IGNORECASE,
)
MAX_WORDS = 80  # long paragraphs are cut into windows of this many words
MIN_WORDS = 3
PER_FILE = 12  # chunks kept per file, so a few big files do not dominate


@dataclass(frozen=True)
class Chunk:
    text: str
    kind: str  # prose / code / translation / noise
    source: str  # the file it came from (or "generated")

    @property
    def held_out(self) -> bool:
        """One source file in five is held out of fitting, for measurement."""
        return int(hashlib.sha256(self.source.encode()).hexdigest(), 16) % 5 == 0


def negative_corpus(limit_per_kind: int = 12_000, seed: int = 0) -> list[Chunk]:
    """Up to ``limit_per_kind`` chunks of each kind, deterministic for a given machine."""
    out: list[Chunk] = []
    for kind, chunks in (
        ("prose", _prose()),
        ("code", _code()),
        ("translation", translations()),
    ):
        kept = _sample(chunks, limit_per_kind, seed)
        out.extend(Chunk(c.text, kind, c.source) for c in kept)
    out.extend(noise(limit_per_kind // 4, seed))
    return out


def translations() -> Iterator[Chunk]:
    """Translated messages from the locale catalogs, ~20 words joined per chunk (not English)."""
    if not LOCALE_ROOT.is_dir():
        return
    for path in sorted(LOCALE_ROOT.glob("*/LC_MESSAGES/*.mo")):
        language = path.parts[-3]
        if language.startswith("en"):
            continue
        try:
            messages = _mo_strings(path.read_bytes())
        except (OSError, ValueError):
            continue
        buffer: list[str] = []
        count = 0
        for message in messages:
            buffer.append(message)
            if sum(len(m.split()) for m in buffer) >= 20:
                yield Chunk(" ".join(" ".join(buffer).split()), "translation", str(path))
                buffer = []
                count += 1
                if count >= PER_FILE:
                    break


def noise(n: int, seed: int = 0) -> list[Chunk]:
    """Random strings: letter soup, keyboard rows, hex and base64-looking runs."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
    out = []
    for i in range(n):
        words = []
        for _ in range(rng.randint(1, 12)):
            style = rng.random()
            length = rng.randint(2, 10)
            if style < 0.4:
                word = "".join(rng.choice(letters) for _ in range(length))
            elif style < 0.7:
                row = rng.choice(rows)
                word = "".join(rng.choice(row) for _ in range(length))
            elif style < 0.85:
                word = "".join(rng.choice("0123456789abcdef") for _ in range(length * 2))
            else:
                alphabet = letters + letters.upper() + "0123456789+/="
                word = "".join(rng.choice(alphabet) for _ in range(length * 2))
            words.append(word.capitalize() if rng.random() < 0.2 else word)
        out.append(Chunk(" ".join(words), "noise", f"generated-{i % 50}"))
    return out


# ---------------------------------------------------------------------- sources
def _prose() -> Iterator[Chunk]:
    roots = [*DOC_ROOTS, Path(sysconfig.get_paths()["purelib"])]
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            name = path.name.lower().removesuffix(".gz")
            suffix = Path(name).suffix
            is_prose = name == "metadata" or (
                suffix in _PROSE_SUFFIXES and (suffix or _PROSE_NAMES.match(name))
            )
            if not is_prose or not path.is_file() or path.stat().st_size > 2_000_000:
                continue
            text = _read(path)
            if text:
                yield from _paragraphs(text, "prose", str(path))
    try:
        from pydoc_data.topics import topics  # the Python language reference, as plain text

        for name, text in sorted(topics.items()):
            yield from _paragraphs(text, "prose", f"pydoc_data/{name}")
    except ImportError:
        pass


def _code() -> Iterator[Chunk]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py")):
        text = _read(path)
        if not text:
            continue
        lines = [line for line in text.splitlines() if line.strip()]
        for start in range(0, min(len(lines), 15 * PER_FILE), 15):
            window = "\n".join(lines[start : start + 6])
            if len(window.split()) >= MIN_WORDS and not _SECURITY.search(window):
                yield Chunk(window, "code", str(path))


def _paragraphs(text: str, kind: str, source: str) -> Iterator[Chunk]:
    count = 0
    for block in re.split(r"\n\s*\n", text):
        words = block.split()
        if len(words) < MIN_WORDS or _SECURITY.search(block):
            continue
        for start in range(0, len(words), MAX_WORDS):
            piece = words[start : start + MAX_WORDS]
            if len(piece) >= MIN_WORDS:
                yield Chunk(" ".join(piece), kind, source)
                count += 1
            if count >= PER_FILE:
                return


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile):
        return ""


def _mo_strings(data: bytes) -> list[str]:
    """The translated strings of a GNU .mo catalog (its header entry skipped)."""
    import struct

    if len(data) < 28:
        raise ValueError("short file")
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if order is None:
        raise ValueError("not a .mo file")
    n, _, table = struct.unpack(order + "III", data[8:20])
    out = []
    for i in range(n):
        length, offset = struct.unpack(order + "II", data[table + 8 * i : table + 8 * i + 8])
        raw = data[offset : offset + length].split(b"\x00")[0]
        text = raw.decode("utf-8", errors="replace")
        if text and not text.startswith("Project-Id-Version"):
            out.append(" ".join(text.split()))
    return out


def _sample(chunks: Iterator[Chunk], limit: int, seed: int) -> list[Chunk]:
    """A deterministic random sample of at most ``limit`` chunks (reservoir sampling)."""
    rng = random.Random(seed)
    kept: list[Chunk] = []
    for i, chunk in enumerate(chunks):
        if len(kept) < limit:
            kept.append(chunk)
        else:
            j = rng.randint(0, i)
            if j < limit:
                kept[j] = chunk
    return kept


if __name__ == "__main__":  # a quick look: python -m vulntax.trust.corpus
    corpus = negative_corpus(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
    for chunk in corpus[:: max(1, len(corpus) // 20)]:
        print(f"{chunk.kind:12} {chunk.text[:100]!r}")
