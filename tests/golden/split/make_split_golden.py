#!/usr/bin/env python3
"""Independent reference for loid's seeded split (src/data/split.h), written from the algorithm's
description, not from the C++: SplitMix64, the generator fork, rejection sampling for a uniform
index, Fisher-Yates, and the size rule (test = floor(n*test + 1e-9), validation likewise, train the
rest; the first `test` permuted indices go to test, the next `validation` ones to validation).
Writes split_golden.json beside this script. Run: python3 make_split_golden.py

With --real FILE (a gzip JSON-lines Amazon file, e.g. ../shared/data/amazon2014/
reviews_Musical_Instruments_5.json.gz) it instead prints split sizes and distinct cold users/items
for seeds 1..10 (the figures tests/data/history_test.cpp expects; the data itself is never committed).
Assumes every line is a usable record, as in that 5-core file."""
import gzip
import json
import math
import os
import sys

M64 = (1 << 64) - 1
SPLIT_SALT = int.from_bytes(b"split", "big")  # 0x73706c6974


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def fork(self, salt):
        return SplitMix64(self.next() ^ ((salt * 0xD1B54A32D192ED03) & M64))

    def uniform_index(self, n):
        # Reject draws from the incomplete last block of size n so every index is equally likely.
        bound = M64 - M64 % n
        while True:
            x = self.next()
            if x < bound:
                return x % n


def permutation(n, seed):
    rng = SplitMix64(seed).fork(SPLIT_SALT)
    a = list(range(n))
    # Durstenfeld's variant: walk from the end, swap each slot with a uniform earlier-or-same slot.
    i = n - 1
    while i >= 1:
        j = rng.uniform_index(i + 1)
        a[i], a[j] = a[j], a[i]
        i -= 1
    return a


def tags(n, seed, ratios):
    _, val, test = ratios
    n_test = math.floor(n * test + 1e-9)
    n_val = math.floor(n * val + 1e-9)
    perm = permutation(n, seed)
    t = ["train"] * n
    for k, idx in enumerate(perm[: n_test + n_val]):
        t[idx] = "test" if k < n_test else "validation"
    return perm, t, {"train": n - n_test - n_val, "validation": n_val, "test": n_test}


def real_data_cold_counts(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    n = len(rows)
    for seed in range(1, 11):
        _, t, sizes = tags(n, seed, (0.8, 0.1, 0.1))
        train_users = {rows[i]["reviewerID"] for i in range(n) if t[i] == "train"}
        train_items = {rows[i]["asin"] for i in range(n) if t[i] == "train"}
        held = [i for i in range(n) if t[i] != "train"]
        cold_users = {rows[i]["reviewerID"] for i in held} - train_users
        cold_items = {rows[i]["asin"] for i in held} - train_items
        print(f"seed {seed}: {sizes} cold users {len(cold_users)} cold items {len(cold_items)}")


if len(sys.argv) == 3 and sys.argv[1] == "--real":
    real_data_cold_counts(sys.argv[2])
    sys.exit(0)

CASES = [
    (1, 1, (0.8, 0.1, 0.1)),
    (10, 1, (0.8, 0.1, 0.1)),
    (37, 2, (0.8, 0.1, 0.1)),
    (100, 12345, (0.5, 0.21, 0.29)),
    (1000, 1, (0.8, 0.1, 0.1)),
    (1000, 18446744073709551615, (0.6, 0.2, 0.2)),
]

# One character per review, index = review id: 0 train, 1 validation, 2 test.
CODE = {"train": "0", "validation": "1", "test": "2"}
out = []
for n, seed, ratios in CASES:
    perm, t, sizes = tags(n, seed, ratios)
    out.append({"n": n, "seed": str(seed), "ratios": list(ratios), "permutation": perm,
                "parts": "".join(CODE[x] for x in t), "sizes": sizes})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "split_golden.json")
with open(path, "w") as f:
    json.dump({"cases": out}, f, separators=(",", ":"))
    f.write("\n")
print("wrote", path)
