#!/usr/bin/env python3
"""Writes merge_expected.json: merged deltas for two small LoRA adapters (module "m", out 3 x in 4)
under each merge method, computed with numpy from the definitions (PEFT's ties/DARE order:
trim or drop, elect sign by the sum of the unweighted tensors, disjoint mean of the weighted
agreeing entries). The DARE masks follow loid's documented contract (SplitMix64, seeded with
seed ^ fnv1a64(module), forked per adapter), re-implemented here in Python.

Also writes adapter_merge_expected.json for `loid adapter merge` (tests/nn/adapter_command_test.cpp):
two BERT-shaped adapters (r 2, alpha 4; query 6 -> 5, value 6 -> 4; a saved 1 x 5 head), their
merged delta per method and module, and that delta's rank-4 truncated SVD (the command's output
rank there).

Run: /usr/bin/python3 tests/golden/peft/make_merge_expected.py
"""
import json
import os

import numpy as np

M64 = (1 << 64) - 1


class Rng:
    def __init__(self, seed):
        self.s = seed & M64

    def next_u64(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next_u64() >> 11) * 2.0 ** -53

    def fork(self, salt):
        return Rng(self.next_u64() ^ ((salt * 0xD1B54A32D192ED03) & M64))


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for c in s.encode():
        h = ((h ^ c) * 0x100000001B3) & M64
    return h


def dare_mask(seed, module, index, shape, density):
    rng = Rng(seed ^ fnv1a64(module)).fork(index + 1)
    return np.array([1.0 if rng.uniform() < density else 0.0
                     for _ in range(shape[0] * shape[1])]).reshape(shape)


def trim(t, density):
    k = int(density * t.size)
    flat = t.flatten()
    order = np.argsort(-np.abs(flat), kind="stable")
    out = np.zeros_like(flat)
    out[order[:k]] = flat[order[:k]]
    return out.reshape(t.shape)


def ties_combine(ts, w):
    ts = np.stack(ts)
    elected = np.where(ts.sum(0) >= 0, 1.0, -1.0)
    agree = (np.sign(ts) == elected).astype(float)
    weighted = ts * np.asarray(w)[:, None, None]
    return (weighted * agree).sum(0) / np.maximum(agree.sum(0), 1.0)


def main():
    # Two rank-1 adapters with scales 2 and 0.5 (hand-picked small integers and halves).
    a1 = np.array([[1.0, -2.0, 0.5, 3.0]]); b1 = np.array([[1.0], [0.0], [-1.0]]); s1 = 2.0
    a2 = np.array([[-1.0, 1.0, 2.0, 0.0]]); b2 = np.array([[2.0], [1.0], [4.0]]); s2 = 0.5
    d1, d2 = s1 * b1 @ a1, s2 * b2 @ a2
    w = [0.2, 0.8]  # chosen so that electing signs before or after weighting differs at (0, 0)
    density, seed = 0.5, 42
    cases = {
        "linear": w[0] * d1 + w[1] * d2,
        "ties": ties_combine([trim(d1, density), trim(d2, density)], w),
    }
    m1, m2 = dare_mask(seed, "m", 0, d1.shape, density), dare_mask(seed, "m", 1, d2.shape, density)
    r1, r2 = d1 * m1 / density, d2 * m2 / density
    cases["dare_linear"] = w[0] * r1 + w[1] * r2
    cases["dare_ties"] = ties_combine([r1, r2], w)
    out = {
        "adapters": [{"a": a1.tolist(), "b": b1.tolist(), "scale": s1},
                     {"a": a2.tolist(), "b": b2.tolist(), "scale": s2}],
        "weights": w, "density": density, "seed": seed, "module": "m",
        "dare_masks": [m1.tolist(), m2.tolist()],
        "deltas": {k: v.tolist() for k, v in cases.items()},
    }
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "merge_expected.json"), "w") as f:
        json.dump(out, f, indent=1)


def merged_delta(method, deltas, w, density, seed, module):
    if method in ("linear", "svd", "cat"):
        return sum(wi * d for wi, d in zip(w, deltas))
    if method == "ties":
        return ties_combine([trim(d, density) for d in deltas], w)
    dropped = [d * dare_mask(seed, module, i, d.shape, density) / density
               for i, d in enumerate(deltas)]
    if method == "dare_linear":
        return sum(wi * d for wi, d in zip(w, dropped))
    return ties_combine(dropped, w)  # dare_ties


def truncate(d, rank):
    u, s, vh = np.linalg.svd(d, full_matrices=False)
    # The truncation is unique only when the kept and dropped singular values differ.
    assert rank >= len(s) or s[rank - 1] - s[rank] > 1e-3, s
    return (u[:, :rank] * s[:rank]) @ vh[:rank]


def adapter_command_case():
    rng = np.random.RandomState(20240601)
    eighths = lambda *shape: rng.randint(-8, 9, size=shape) / 8.0  # exact in float32
    modules = {"encoder.layer.0.attention.self.query": 5, "encoder.layer.0.attention.self.value": 4}
    r, alpha, width = 2, 4.0, 6
    adapters = []
    for _ in range(2):
        adapters.append({"r": r, "alpha": alpha,
                         "modules": {m: {"a": eighths(r, width).tolist(), "b": eighths(out, r).tolist()}
                                     for m, out in modules.items()},
                         "head.weight": eighths(1, 5).tolist()})
    w, density, seed, rank = [0.5, 0.25], 0.7, 11, 4
    expected = {}
    for method in ("linear", "cat", "svd", "ties", "dare_linear", "dare_ties"):
        expected[method] = {}
        for m in modules:
            deltas = [(alpha / r) * np.array(a["modules"][m]["b"]) @ np.array(a["modules"][m]["a"])
                      for a in adapters]
            d = merged_delta(method, deltas, w, density, seed, m)
            expected[method][m] = {"delta": d.tolist(), "rank4": truncate(d, rank).tolist()}
    return {"adapters": adapters, "weights": w, "density": density, "seed": seed, "rank": rank,
            "expected": expected}


if __name__ == "__main__":
    main()
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "adapter_merge_expected.json"),
              "w") as f:
        json.dump(adapter_command_case(), f, indent=1)
