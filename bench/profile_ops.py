#!/usr/bin/env python3
"""Sums a libtorch profiler trace (LOID_BENCH_TRACE=FILE, see bench/encoder_bench.cpp) by op.

For each op name: calls, self time (its own duration less that of the ops it called) and the
share of the traced wall time; and the same for the outermost ops only (inclusive time), which
shows where a model's forward spends its time at the level the model's code calls libtorch.
  python3 bench/profile_ops.py FILE [--top N]
"""
import argparse
import collections
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=20)
    a = ap.parse_args()
    with open(a.trace) as f:
        events = [e for e in json.load(f) if e.get("ph") == "X"]
    by_thread = collections.defaultdict(list)
    for e in events:
        by_thread[e["tid"]].append(e)
    self_time = collections.Counter()
    outer_time = collections.Counter()
    calls = collections.Counter()
    outer_calls = collections.Counter()
    first, last = float("inf"), 0.0
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, name, child time]
        for e in evs:
            start, end = e["ts"], e["ts"] + e["dur"]
            first, last = min(first, start), max(last, end)
            while stack and stack[-1][0] <= start:
                done = stack.pop()
                self_time[done[1]] += done[3] - done[2]
            if stack:
                stack[-1][2] += e["dur"]
            else:
                outer_time[e["name"]] += e["dur"]
                outer_calls[e["name"]] += 1
            calls[e["name"]] += 1
            stack.append([end, e["name"], 0.0, e["dur"]])
        while stack:
            done = stack.pop()
            self_time[done[1]] += done[3] - done[2]
    wall = last - first
    print(f"traced wall time {wall / 1e3:.1f} ms, {len(events)} op calls")
    for title, table, n in (("self time", self_time, calls), ("outermost ops, inclusive", outer_time, outer_calls)):
        print(f"\n{title}:\n{'op':<32} {'calls':>7} {'ms':>10} {'% wall':>7}")
        for name, us in table.most_common(a.top):
            print(f"{name:<32} {n[name]:>7} {us / 1e3:>10.1f} {100 * us / wall:>7.1f}")


if __name__ == "__main__":
    main()
