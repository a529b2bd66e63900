#!/usr/bin/env bash
# The paper's Table 3: for each encoder directory (e.g. a BERT and a GPT-2), each source domain and
# each seed, `loid pretrain` trains a plugin on that domain alone and reports, on its test split,
# precision, recall and F1 of the rounded rating read from a review; scripts/table3.py gathers
# them per domain and encoder (mean and 95% t-interval over seeds).
#
#   scripts/table3.sh --encoders DIR_A,DIR_B --data FILE [--data FILE ...] [--seeds 1,2,3]
#                     [--out DIR] [--loid PATH] [-- PRETRAIN_FLAGS ...]
#
# Plugins go to OUT/runs/<encoder>/<domain>/seed<S> (a finished one is kept when the script is run
# again); the table to OUT/table3.md (also printed) and OUT/table3.json. Flags after `--` go to
# every `loid pretrain` (e.g. --epochs 3 --threads 2). Labels are the encoder directory's and the
# data file's base names, so both must be distinct.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

here="$(cd "$(dirname "$0")" && pwd)"
loid="${LOID_BUILD_DIR:-$here/../build}/loid"
encoders="" seeds="1,2,3" out="table3" data=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --encoders) encoders="${2:?--encoders needs a value}"; shift 2 ;;
    --data) data+=("${2:?--data needs a file}"); shift 2 ;;
    --seeds) seeds="${2:?--seeds needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --loid) loid="${2:?--loid needs a path}"; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "table3.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
extra=("$@")

[[ -n "$encoders" ]] || { echo "table3.sh: --encoders DIR_A,DIR_B is required" >&2; exit 2; }
[[ ${#data[@]} -gt 0 ]] || { echo "table3.sh: give at least one --data FILE" >&2; exit 2; }
[[ -x "$loid" ]] || { echo "table3.sh: $loid is not an executable (build loid_cli or pass --loid)" >&2; exit 2; }
[[ "$seeds" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "table3.sh: --seeds must be integers separated by commas, got '$seeds'" >&2; exit 2; }
IFS=',' read -r -a encoder_dirs <<< "$encoders"
IFS=',' read -r -a seed_list <<< "$seeds"

label_of_data() { local b; b="$(basename "$1")"; b="${b%.gz}"; b="${b%.jsonl}"; b="${b%.json}"; echo "$b"; }
check_distinct() {  # what, labels...
  local what="$1"; shift
  local dup; dup="$(printf '%s\n' "$@" | sort | uniq -d | head -1)"
  [[ -z "$dup" ]] || { echo "table3.sh: two $what have the label '$dup'; rename one" >&2; exit 2; }
}
enc_labels=() data_labels=()
for e in "${encoder_dirs[@]}"; do
  [[ -f "$e/config.json" ]] || { echo "table3.sh: encoder directory '$e' has no config.json" >&2; exit 2; }
  enc_labels+=("$(basename "$(cd "$e" && pwd)")")
done
for d in "${data[@]}"; do
  [[ -f "$d" ]] || { echo "table3.sh: data file '$d' does not exist" >&2; exit 2; }
  data_labels+=("$(label_of_data "$d")")
done
check_distinct "encoder directories" "${enc_labels[@]}"
check_distinct "data files" "${data_labels[@]}"

mkdir -p "$out/runs"
manifest="$out/runs.tsv"  # encoder label, encoder dir, domain label, data file, seed, plugin dir
: > "$manifest"
for ei in "${!encoder_dirs[@]}"; do
  for di in "${!data[@]}"; do
    for s in "${seed_list[@]}"; do
      run="$out/runs/${enc_labels[$ei]}/${data_labels[$di]}/seed$s"
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${enc_labels[$ei]}" "${encoder_dirs[$ei]}" \
        "${data_labels[$di]}" "${data[$di]}" "$s" "$run" >> "$manifest"
      # loid_metadata.json carries the test metrics; a directory without it is an unfinished run.
      if [[ -f "$run/loid_metadata.json" ]]; then
        echo "table3.sh: kept $run" >&2
        continue
      fi
      echo "table3.sh: pretrain ${enc_labels[$ei]} on ${data_labels[$di]}, seed $s" >&2
      "$loid" pretrain --encoder "${encoder_dirs[$ei]}" --data "${data[$di]}" --seed "$s" \
        --out "$run" --force ${extra[@]+"${extra[@]}"} >&2
    done
  done
done

python3 "$here/table3.py" "$manifest" "$out/table3.json" "$out/table3.md"
cat "$out/table3.md"
