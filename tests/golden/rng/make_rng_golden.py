#!/usr/bin/env python3
"""Independent reference for loid::Rng (SplitMix64) and loid::shuffle (Fisher-Yates with rejection
sampling), written from the algorithms' published descriptions. Writes rng_golden.json."""
import json

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        limit = MASK - (MASK % n)  # UINT64_MAX - UINT64_MAX % n
        while True:
            x = self.next()
            if x < limit:
                return x % n


def shuffled(n, seed):
    rng = SplitMix64(seed)
    v = list(range(n))
    for i in range(n, 1, -1):
        j = rng.below(i)
        v[i - 1], v[j] = v[j], v[i - 1]
    return v


out = {
    "next_u64": {str(s): [str(SplitMix64(s).next())] for s in (0, 1, 42)},
    "sequence_seed_7": [str(x) for x in (lambda r: [r.next() for _ in range(5)])(SplitMix64(7))],
    "below_seed_3_n_10": (lambda r: [r.below(10) for _ in range(20)])(SplitMix64(3)),
    "shuffle": {f"{n}_{s}": shuffled(n, s) for n in (1, 2, 10, 37) for s in (1, 2, 12345)},
}
with open("rng_golden.json", "w") as f:
    json.dump(out, f, indent=1)
