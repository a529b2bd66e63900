#!/usr/bin/env python3
"""Gathers the plugins of scripts/table3.sh into the paper's Table 3.

Usage: table3.py RUNS_TSV OUT_JSON OUT_MD

RUNS_TSV lists one `loid pretrain` run a line: encoder label, encoder dir, domain label, data file,
seed, plugin dir. Each plugin's loid_metadata.json holds its test metrics (metrics.per_domain, one
entry since every run has one domain): precision, recall and F1 of the rounded rating, weighted by
class support over the ratings 1..5 (src/eval/metrics.h). Per (domain, encoder): the mean over
seeds and the two-sided 95% Student-t interval of the mean (n - 1 degrees of freedom), intersected
with [0, 1] where the metrics live; no interval with one seed. Standard library only.
"""
import json
import math
import sys

METRICS = ("precision", "recall", "f1")

# t_{0.975} for 1..30 degrees of freedom (the two-sided 95% quantile of Student's t).
T975 = [12.7062047, 4.3026527, 3.1824463, 2.7764451, 2.5705818, 2.4469119, 2.3646243, 2.3060041,
        2.2621572, 2.2281389, 2.2009852, 2.1788128, 2.1603687, 2.1447867, 2.1314495, 2.1199053,
        2.1098155, 2.1009220, 2.0930241, 2.0859634, 2.0796138, 2.0738731, 2.0686576, 2.0638986,
        2.0595386, 2.0555294, 2.0518305, 2.0484071, 2.0452296, 2.0422725]


def t975(df):
    if df <= len(T975):
        return T975[df - 1]
    # Beyond the table, the Cornish-Fisher expansion around z (Abramowitz & Stegun 26.7.5),
    # within 1e-4 of the exact quantile for df > 30.
    z = 1.959963985
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def summary(values):
    n = len(values)
    mean = sum(values) / n
    out = {"values": values, "mean": mean, "ci_low": None, "ci_high": None}
    if n >= 2:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
        half = t975(n - 1) * sd / math.sqrt(n)
        out["ci_low"] = max(0.0, mean - half)
        out["ci_high"] = min(1.0, mean + half)
    return out


def test_metrics(plugin_dir):
    path = plugin_dir + "/loid_metadata.json"
    with open(path, encoding="utf-8") as f:
        meta = json.load(f)
    try:
        per_domain = meta["metrics"]["per_domain"]
        if len(per_domain) != 1:
            raise ValueError("expected one domain, found %d" % len(per_domain))
        test = per_domain[0]["test"]
        return {m: float(test[m]) for m in METRICS}, int(test["n"]), meta.get("git", "")
    except (KeyError, TypeError, ValueError) as e:
        sys.exit("table3.py: %s: no test metrics of one domain (%s); is it a `loid pretrain` "
                 "plugin?" % (path, e))


def main(runs_tsv, out_json, out_md):
    encoders, domains, seeds, cells, versions = {}, {}, [], {}, set()
    with open(runs_tsv, encoding="utf-8") as f:
        for line in f:
            enc, enc_dir, dom, data, seed, plugin = line.rstrip("\n").split("\t")
            encoders.setdefault(enc, enc_dir)
            domains.setdefault(dom, data)
            if int(seed) not in seeds:
                seeds.append(int(seed))
            metrics, n, git = test_metrics(plugin)
            versions.add(git)
            cell = cells.setdefault((dom, enc), {"test_reviews": n, "runs": []})
            cell["runs"].append({"seed": int(seed), "plugin": plugin, **metrics})

    table = {
        "task": "rounded rating read from one review (loid pretrain, test split)",
        "confidence": 0.95,
        "seeds": seeds,
        "encoders": [{"label": k, "dir": v} for k, v in encoders.items()],
        "domains": [{"label": k, "file": v} for k, v in domains.items()],
        "loid_versions": sorted(versions),
        "cells": [],
    }
    for dom in domains:
        for enc in encoders:
            cell = cells[(dom, enc)]
            row = {"domain": dom, "encoder": enc, "seeds": len(cell["runs"]),
                   "test_reviews": cell["test_reviews"], "runs": cell["runs"]}
            for m in METRICS:
                row[m] = summary([r[m] for r in cell["runs"]])
            table["cells"].append(row)
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(table, f, indent=2)
        f.write("\n")

    def fmt(s):
        if s["ci_low"] is None:
            return "%.3f" % s["mean"]
        return "%.3f [%.3f, %.3f]" % (s["mean"], s["ci_low"], s["ci_high"])

    lines = [
        "# Table 3: rating read from a review, by encoder",
        "",
        "Precision, recall and F1 of the rounded rating on each domain's test split (weighted by "
        "class support), mean over seeds %s with the 95%% t-interval [low, high] (one seed: no "
        "interval)." % ",".join(str(s) for s in seeds),
        "",
        "| Domain | Encoder | Seeds | Test reviews | Precision | Recall | F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table["cells"]:
        lines.append("| %s | %s | %d | %d | %s | %s | %s |" % (
            row["domain"], row["encoder"], row["seeds"], row["test_reviews"],
            fmt(row["precision"]), fmt(row["recall"]), fmt(row["f1"])))
    lines.append("")
    lines.append("Encoders: " + "; ".join("%s = %s" % (k, v) for k, v in encoders.items()) + ".")
    with open(out_md, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
