#!/usr/bin/env python3
"""Compares the "vectors" tensors (N x D, F32) of two `loid encode` outputs row by row.

Usage: compare_vectors.py A.safetensors B.safetensors [--min-cosine 0.9999]
Prints one line: rows, width, the lowest row cosine, the largest absolute difference. Exits 1 when
the shapes differ or a row's cosine falls below --min-cosine, 2 on unreadable input. Standard
library only, so it runs on machines without numpy or torch.
"""
import argparse
import json
import math
import struct
import sys


def read_vectors(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: not a safetensors file (shorter than its header length)")
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > len(blob) - 8:
        raise ValueError(f"{path}: not a safetensors file (header length {header_len})")
    header = json.loads(blob[8:8 + header_len])
    data = blob[8 + header_len:]
    info = header.get("vectors")
    if info is None:
        raise ValueError(f"{path}: no tensor 'vectors'")
    if info["dtype"] != "F32" or len(info["shape"]) != 2:
        raise ValueError(f"{path}: 'vectors' is {info['dtype']} {info['shape']}, expected F32 N x D")
    n, d = info["shape"]
    begin, end = info["data_offsets"]
    if end - begin != 4 * n * d:
        raise ValueError(f"{path}: 'vectors' holds {end - begin} bytes for {n} x {d} floats")
    flat = struct.unpack(f"<{n * d}f", data[begin:end])
    return n, d, [flat[i * d:(i + 1) * d] for i in range(n)]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0.0 and nb == 0.0:
        return 1.0  # two zero vectors (empty texts under some poolings) agree
    if na == 0.0 or nb == 0.0:
        return 0.0
    return dot / (na * nb)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--min-cosine", type=float, default=0.9999)
    args = parser.parse_args()
    try:
        na, da, va = read_vectors(args.a)
        nb, db, vb = read_vectors(args.b)
    except (OSError, ValueError, KeyError, struct.error) as e:
        print(f"compare_vectors: {e}", file=sys.stderr)
        return 2
    if (na, da) != (nb, db):
        print(f"compare_vectors: shapes differ: {na} x {da} vs {nb} x {db}")
        return 1
    cosines = [cosine(x, y) for x, y in zip(va, vb)]
    worst = min(range(na), key=lambda i: cosines[i]) if na else -1
    max_abs = max((abs(x - y) for r, s in zip(va, vb) for x, y in zip(r, s)), default=0.0)
    low = cosines[worst] if na else 1.0
    ok = low >= args.min_cosine
    print(f"rows {na}, width {da}: lowest cosine {low:.7f} (row {worst}), max |diff| {max_abs:.2e}"
          f" -> {'OK' if ok else 'FAIL'} (bar {args.min_cosine})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
