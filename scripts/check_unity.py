#!/usr/bin/env python3
"""Checks that every library's sources compile as one translation unit, so that unity batches of
any size and order (LOID_UNITY_BUILD) never meet two file-local definitions of the same name.

Usage: check_unity.py BUILD_DIR [TARGET ...]   (targets default to loid_base loid_nn loid_cli)

Reads BUILD_DIR/compile_commands.json (configured with LOID_UNITY_BUILD=ON), takes each target's
unity batches, joins their #include lines into one file and runs the batch's own compile command on
it with -fsyntax-only. Prints the first errors and exits 1 when any target fails."""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) >= 2 else 2
    build = sys.argv[1]
    targets = sys.argv[2:] or ["loid_base", "loid_nn", "loid_cli"]
    db_path = os.path.join(build, "compile_commands.json")
    try:
        with open(db_path) as f:
            db = json.load(f)
    except OSError as e:
        print(f"check_unity: cannot read {db_path}: {e}", file=sys.stderr)
        return 2
    failed = []
    for target in targets:
        marker = f"/{target}.dir/Unity/"
        batches = [e for e in db if marker in e["file"]]
        if not batches:
            print(f"check_unity: {target}: no unity batches in {db_path} "
                  "(configure with -DLOID_UNITY_BUILD=ON)", file=sys.stderr)
            failed.append(target)
            continue
        includes = []
        for e in sorted(batches, key=lambda e: e["file"]):
            with open(e["file"]) as f:
                includes += [l for l in f if l.startswith("#include")]
        args = shlex.split(batches[0]["command"]) if "command" in batches[0] else batches[0]["arguments"]
        cmd, skip = [], False
        for a in args:
            if skip:
                skip = False
                continue
            if a == "-o":
                skip = True
                continue
            if a == "-c" or a == batches[0]["file"]:
                continue
            cmd.append(a)
        with tempfile.NamedTemporaryFile("w", suffix=".cxx", delete=False) as tu:
            tu.writelines(includes)
        try:
            r = subprocess.run(cmd + ["-fsyntax-only", "-w", tu.name], cwd=batches[0]["directory"],
                               capture_output=True, text=True)
        finally:
            os.unlink(tu.name)
        errors = [l for l in r.stderr.splitlines() if re.search(r": error: ", l)]
        if r.returncode != 0:
            failed.append(target)
            print(f"check_unity: {target}: its {len(includes)} files do not compile as one unit:")
            for l in errors[:20]:
                print("  " + l)
        else:
            print(f"check_unity: {target}: {len(includes)} files compile as one unit")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
