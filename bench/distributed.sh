#!/usr/bin/env bash
# Several processes against one: `loid encode` and `loid pretrain` as 2 ranks x 1 thread (--nproc 2)
# against 1 process x 2 threads, on the same texts, in ROUNDS alternating rounds; prints the wall
# times, texts (or training steps) per second, and the collectives' cost per training step that
# the ranks log. Needs an otherwise idle machine for figures worth recording (BENCHMARKS.md,
# "Several processes").
#   bash bench/distributed.sh REVIEWS_FILE [ROUNDS] [STEPS]
# Environment: LOID (the executable, default build/loid), ENCODER (default: the installed USE-Lite).
set -euo pipefail
data=${1:?usage: bash bench/distributed.sh REVIEWS_FILE [ROUNDS] [STEPS]}
rounds=${2:-2}
steps=${3:-60}
loid=${LOID:-build/loid}
enc=()
[ -n "${ENCODER:-}" ] && enc=(--encoder "$ENCODER")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

for r in $(seq 1 "$rounds"); do
  for mode in one two; do
    if [ "$mode" = one ]; then flags=(--threads 2); else flags=(--nproc 2); fi
    s=$(now)
    "$loid" encode "${enc[@]}" --input "$data" --out "$work/v_$mode.safetensors" --no-progress \
      "${flags[@]}" > "$work/encode_$mode.log" 2>&1
    e=$(now)
    n=$(grep -o 'vectors [0-9]* x' "$work/encode_$mode.log" | grep -o '[0-9]*' | head -1)
    echo "round $r encode   $mode: $(elapsed "$s" "$e") s, $(python3 -c "print(f'{$n / ($e - $s):.1f}')") texts/s"
    "$loid" pretrain "${enc[@]}" --data "$data" --out "$work/p_$mode" --force --epochs 1 \
      --max-steps "$steps" --no-progress "${flags[@]}" > "$work/pretrain_$mode.log" 2>&1
    # The epoch's wall time as the log gives it (training steps and the validation pass).
    line=$(grep -E '^\[ *[0-9.]+s\] epoch 1: train MSE' "$work/pretrain_$mode.log" | tail -1)
    secs=$(echo "$line" | sed -E 's/.*\(([0-9.]+)s\)$/\1/; s/.*\(([0-9]+)m([0-9.]+)s\)$/\1*60+\2/')
    echo "round $r pretrain $mode: epoch of $steps steps + validation $(python3 -c "print(f'{$secs:.1f}')") s"
    grep -h "steps on" "$work/pretrain_$mode.log" | sed 's/^/    /' || true
  done
done
