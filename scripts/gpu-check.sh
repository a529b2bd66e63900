#!/usr/bin/env bash
# The one GPU run of issue 20. Run ON the GPU machine, from the checkout root, with .gpu-deps/
# (made by `bash ../shared/gpu/prepare.sh` on a machine with apt) and models/ copied along:
#   bash scripts/gpu-check.sh
# 1. builds every target against the CUDA libtorch inside python3's torch (.gpu-deps/build.sh, or
#    scripts/build.sh with LOID_TORCH_DIR=python where the machine has the build dependencies);
# 2. runs `ctest -L cuda` (GPU against CPU; none may skip on a GPU machine), then the rest of the
#    suite (`ctest -LE cuda`): together the whole suite;
# 3. `loid encode --device cuda` against `--device cpu` on random BERTs (the tiny test model, and a
#    BERT-base-shaped one made with transformers when it is installed): every row's cosine >= 0.9999;
# 4. prints a one-screen summary. Logs stay in $LOID_GPU_CHECK_DIR (default /tmp/loid-gpu-check).
# Exit status 0 only when every step passed. About 2 minutes of building and a few of tests on
# 16 cores.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
out="${LOID_GPU_CHECK_DIR:-/tmp/loid-gpu-check}"
mkdir -p "$out"
jobs=$(nproc)
lines=()  # the summary
failed=0
note() { lines+=("$1"); }
fail() {
  lines+=("FAIL  $1")
  failed=1
}
pass() { lines+=("ok    $1"); }
seconds_since() { echo $(($(date +%s) - $1)); }

# ---- 1. build ---------------------------------------------------------------------------------
start=$(date +%s)
if [ -f .gpu-deps/build.sh ]; then
  build=/tmp/build-cuda  # where .gpu-deps/build.sh builds
  bash .gpu-deps/build.sh >"$out/build.log" 2>&1
  build_rc=$?
  if [ -f "$build/ld_library_path" ]; then
    LD_LIBRARY_PATH="$(cat "$build/ld_library_path")"
    export LD_LIBRARY_PATH
  fi
else
  build="${LOID_BUILD_DIR:-build-cuda}"
  LOID_TORCH_DIR=python LOID_BUILD_DIR="$build" bash scripts/build.sh >"$out/build.log" 2>&1
  build_rc=$?
fi
torch_line=$(python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU visible")' 2>&1 | tail -1)
note "machine: $torch_line, $jobs cores"
if [ "$build_rc" -ne 0 ] || [ ! -x "$build/loid" ]; then
  fail "build against the CUDA libtorch ($(seconds_since "$start") s): see $out/build.log"
  tail -30 "$out/build.log"
  printf '%s\n' "${lines[@]}"
  exit 1
fi
pass "build against the CUDA libtorch in $(seconds_since "$start") s ($build)"
# Two OpenMP runtimes in one process (the system's libgomp, which src/core/parallel_items.cpp links,
# and a copy bundled with the python torch) are a known cause of crashes at exit: say which load.
omp_libs=$(ldd "$build/loid" 2>/dev/null | grep -oE 'lib(g|i)omp[^ ]*' | sort -u | paste -sd' ' -)
note "      OpenMP runtimes loid loads: ${omp_libs:-none found by ldd}"
export LOID_MODELS_DIR="${LOID_MODELS_DIR:-$root/models}"

# ---- 2. tests ----------------------------------------------------------------------------------
# Counts of a ctest log: "passed failed total skipped".
ctest_counts() {
  local log=$1 total failures skipped
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  failures=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  skipped=$(grep -c '(Skipped)' "$log")
  total=${total:-0}
  failures=${failures:-0}
  echo "$((total - failures - skipped)) $failures $total $skipped"  # ctest counts a skip as passed
}
# The names of the failed tests of a ctest log, comma-separated (at most 12).
ctest_failures() {
  sed -n '/The following tests FAILED:/,$p' "$1" | sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\).*/\1/p' |
    head -12 | paste -sd, -
}

start=$(date +%s)
(cd "$build" && ctest -L cuda -j 4 --output-on-failure) >"$out/ctest-cuda.log" 2>&1
read -r ok bad total skipped <<<"$(ctest_counts "$out/ctest-cuda.log")"
summary="ctest -L cuda: $ok of $total passed, $skipped skipped, in $(seconds_since "$start") s"
if [ "$total" -eq 0 ]; then
  fail "ctest -L cuda found no tests (see $out/ctest-cuda.log)"
elif [ "$bad" -ne 0 ] || [ "$skipped" -ne 0 ]; then
  fail "$summary; failed: $(ctest_failures "$out/ctest-cuda.log")"
else
  pass "$summary"
fi

start=$(date +%s)
(cd "$build" && ctest -LE cuda -j "$jobs" --timeout 900) >"$out/ctest-rest.log" 2>&1
read -r ok bad total skipped <<<"$(ctest_counts "$out/ctest-rest.log")"
summary="ctest -LE cuda (the rest): $ok of $total passed, $skipped skipped, in $(seconds_since "$start") s"
if [ "$total" -eq 0 ] || [ "$bad" -ne 0 ]; then
  fail "$summary; failed: $(ctest_failures "$out/ctest-rest.log")"
  segfaults=$(grep -c 'SEGFAULT' "$out/ctest-rest.log")
  [ "$segfaults" -gt 0 ] && note "      $segfaults of them SEGFAULT (crash at exit?): $out/ctest-rest.log"
else
  pass "$summary"
fi

# ---- 3. loid encode on the GPU against the CPU -------------------------------------------------
texts="$out/texts.jsonl"
python3 - "$root/tests/golden/bert/tiny/vocab.txt" "$texts" <<'PY'
import json, random, sys
words = [w.strip() for w in open(sys.argv[1]) if w.strip() and not w.startswith("[")]
rng = random.Random(1)
with open(sys.argv[2], "w") as f:
    for i in range(256):  # 1 to 120 words: short and long texts in the same batches
        n = 1 + (i * 37) % 120
        f.write(json.dumps({"text": " ".join(rng.choice(words) for _ in range(n))}) + "\n")
PY

# Encodes $texts with model directory $1 on cpu and cuda and compares; $2 names the model.
encode_both() {
  local model=$1 name=$2 t0 cpu_ms=0 gpu_ms=0
  for device in cpu cuda; do
    t0=$(date +%s%N)
    if ! "$build/loid" encode --encoder "$model" --input "$texts" --out "$out/$name-$device.safetensors" \
      --device "$device" --batch-size 64 --no-progress >"$out/encode-$name-$device.log" 2>&1; then
      fail "loid encode --device $device on $name: see $out/encode-$name-$device.log"
      return
    fi
    if [ "$device" = cpu ]; then
      cpu_ms=$((($(date +%s%N) - t0) / 1000000))
    else
      gpu_ms=$((($(date +%s%N) - t0) / 1000000))
    fi
  done
  local compared
  if compared=$(python3 scripts/compare_vectors.py "$out/$name-cpu.safetensors" \
    "$out/$name-cuda.safetensors" --min-cosine 0.9999); then
    pass "encode $name, cuda vs cpu: $compared"
  else
    fail "encode $name, cuda vs cpu: $compared"
  fi
  note "      256 texts: cpu $cpu_ms ms, cuda $gpu_ms ms (whole process, model load included)"
}

encode_both "$root/tests/golden/bert/tiny" "tiny-bert"
base="$out/bert-base-random"
if python3 - "$root/tests/golden/bert/tiny/vocab.txt" "$base" >"$out/bert-base.log" 2>&1 <<'PY'; then
import shutil, sys
import torch, transformers
# BERT-base's shapes (12 layers, width 768, 12 heads, 3072 feed-forward), random weights, with the
# tiny test vocabulary (there is no BERT vocabulary on the GPU machine).
vocab = [w for w in open(sys.argv[1]).read().split("\n") if w]
torch.manual_seed(0)
model = transformers.BertModel(transformers.BertConfig(vocab_size=len(vocab)))
model.save_pretrained(sys.argv[2], safe_serialization=True)
shutil.copy(sys.argv[1], sys.argv[2] + "/vocab.txt")
PY
  encode_both "$base" "bert-base-random"
else
  note "skip  BERT-base-shaped encode: transformers could not make the model ($out/bert-base.log)"
fi

# ---- 4. summary --------------------------------------------------------------------------------
echo
echo "== scripts/gpu-check.sh ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')) =="
printf '%s\n' "${lines[@]}"
echo "logs: $out"
exit "$failed"
