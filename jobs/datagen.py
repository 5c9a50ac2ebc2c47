"""Deterministic sample and benchmark data for the example jobs.

    python -m jobs.datagen crawl OUT_DIR --files 4 --records 100
    python -m jobs.datagen crawl OUT_DIR --files 8 --mb 50        # benchmark size
    python -m jobs.datagen text OUT_DIR --files 3 --words 2500

The same arguments always produce the same bytes (a seeded RNG per file), so samples
can be regenerated and benchmarks compared across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import random

LANGUAGES = ["en", "de", "fr", "es", "ja", "pt", "ru", "zh"]
LANGUAGE_WEIGHTS = [40, 12, 10, 10, 8, 8, 7, 5]
SERVERS = ["nginx", "Apache", "cloudflare", "gws", "Microsoft-IIS/10.0"]
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "da", "pe", "zo", "qu", "in", "ar", "el"]


def _vocabulary(size: int = 600) -> list[str]:
    rng = random.Random(7)
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))))
    return sorted(words)


VOCAB = _vocabulary()
# Zipf weights: a few words are common, most are rare, as in real text.
_CUM_WEIGHTS = []
for _rank in range(len(VOCAB)):
    _CUM_WEIGHTS.append((_CUM_WEIGHTS[-1] if _CUM_WEIGHTS else 0.0) + 1.0 / (_rank + 1))


def _sentence(rng: random.Random, words: int) -> str:
    picks = rng.choices(VOCAB, cum_weights=_CUM_WEIGHTS, k=words)
    return " ".join(picks).capitalize() + "."


def crawl_record(rng: random.Random, n: int) -> str:
    """One JSONL line; about 2% are malformed or do not fit the schema, on purpose."""
    roll = rng.random()
    text = " ".join(_sentence(rng, rng.randint(5, 15)) for _ in range(rng.randint(2, 8)))
    language = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
    if rng.random() < 0.1:
        language = rng.choice([f" {language.upper()}", language.capitalize(), f"{language} "])
    record = {
        "url": f"https://site{rng.randint(1, 500)}.example/{n}/{rng.randint(0, 10**6)}",
        "language": language,
        "content_length": int(rng.lognormvariate(9, 1.2)),
        "status": rng.choice([200, 200, 200, 200, 301, 404]),
        "fetched_at": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00Z",
        "headers": {"content-type": "text/html; charset=utf-8", "server": rng.choice(SERVERS)},
        "text": text,
    }
    if roll < 0.03:
        record["language"] = rng.choice([None, ""])      # dropped by the mapper
    elif roll < 0.06:
        del record["content_length"]                      # mapper uses len(text)
    elif roll < 0.07:
        record["content_length"] = "n/a"                  # does not fit the schema: rejected
    line = json.dumps(record, ensure_ascii=False)
    if 0.07 <= roll < 0.08:
        line = line[: len(line) // 2]                     # truncated: invalid JSON, rejected
    return line


def write_crawl(folder: str, files: int, records: int | None = None, mb: float | None = None,
                seed: int = 42) -> list[str]:
    """``files`` JSONL files of ``records`` lines each, or of about ``mb`` MB each."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(files):
        rng = random.Random(seed * 1_000_003 + i)
        path = os.path.join(folder, f"part-{i:05d}.jsonl")
        size, n = 0, 0
        with open(path, "w", encoding="utf-8") as fh:
            while (records is not None and n < records) or (mb is not None and size < mb * 1e6):
                line = crawl_record(rng, n) + "\n"
                fh.write(line)
                size += len(line.encode("utf-8"))
                n += 1
        paths.append(path)
    return paths


def write_text(folder: str, files: int, words: int, seed: int = 42) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(files):
        rng = random.Random(seed * 1_000_003 + i)
        path = os.path.join(folder, f"doc-{i:03d}.txt")
        with open(path, "w", encoding="utf-8") as fh:
            written = 0
            while written < words:
                count = rng.randint(4, 16)
                fh.write(_sentence(rng, count) + ("\n" if rng.random() < 0.3 else " "))
                written += count
            fh.write("\n")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs.datagen", description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["crawl", "text"])
    parser.add_argument("out")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--records", type=int, help="crawl: lines per file")
    parser.add_argument("--mb", type=float, help="crawl: approximate MB per file")
    parser.add_argument("--words", type=int, default=2500, help="text: words per file")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.kind == "crawl":
        if args.records is None and args.mb is None:
            args.records = 100
        paths = write_crawl(args.out, args.files, args.records, args.mb, args.seed)
    else:
        paths = write_text(args.out, args.files, args.words, args.seed)
    total = sum(os.path.getsize(p) for p in paths)
    print(f"wrote {len(paths)} files, {total / 1e6:.2f} MB, under {args.out}")


if __name__ == "__main__":
    main()
