#!/usr/bin/env bash
# Fails when a C++ file of the project differs from what clang-format makes of it with the
# project's .clang-format. Pinned to Debian 12's clang-format 14 (other versions format differently).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=clang-format-14
if ! command -v "$tool" >/dev/null 2>&1; then
  echo "check_format: $tool is missing (scripts/setup.sh installs it)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^third_party/')
if ! "$tool" --dry-run --Werror "${files[@]}" 2>/tmp/loid_format.$$; then
  grep -E '(warning|error):' /tmp/loid_format.$$ | cut -d: -f1 | sort -u | sed 's/^/  /' >&2 || true
  echo "check_format: the files above differ from clang-format's output; run:" >&2
  echo "  git ls-files '*.cpp' '*.h' | grep -v '^third_party/' | xargs $tool -i" >&2
  rm -f /tmp/loid_format.$$
  exit 1
fi
rm -f /tmp/loid_format.$$
echo "check_format: ${#files[@]} files formatted as clang-format 14 formats them"
