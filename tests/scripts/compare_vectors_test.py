#!/usr/bin/env python3
"""scripts/compare_vectors.py on hand-written safetensors files: equal vectors pass, a rotated row
fails the cosine bar, other shapes and unreadable files are refused."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "compare_vectors.py")


def write_vectors(path, rows):
    n, d = len(rows), len(rows[0]) if rows else 0
    data = struct.pack(f"<{n * d}f", *[x for r in rows for x in r])
    header = json.dumps({"vectors": {"dtype": "F32", "shape": [n, d],
                                     "data_offsets": [0, len(data)]}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


def run(*args):
    p = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


class CompareVectors(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.a = os.path.join(self.dir.name, "a.safetensors")
        self.b = os.path.join(self.dir.name, "b.safetensors")
        self.rows = [[1.0, 2.0, 3.0], [0.5, -1.0, 0.25], [0.0, 0.0, 0.0]]
        write_vectors(self.a, self.rows)

    def tearDown(self):
        self.dir.cleanup()

    def test_equal_and_rescaled_vectors_pass(self):
        write_vectors(self.b, [[x * 2.0 for x in r] for r in self.rows])  # cosine is 1
        code, out = run(self.a, self.b)
        self.assertEqual(code, 0, out)
        self.assertIn("lowest cosine 1.0000000", out)
        self.assertIn("rows 3, width 3", out)

    def test_a_turned_row_fails_the_bar(self):
        # cos = 0.99953 between (1, 2, 3) and (1, 2, 3.2): below 0.9999, above 0.999.
        rows = [list(r) for r in self.rows]
        rows[0] = [1.0, 2.0, 3.2]
        write_vectors(self.b, rows)
        code, out = run(self.a, self.b)
        self.assertEqual(code, 1, out)
        self.assertIn("(row 0)", out)
        self.assertIn("FAIL", out)
        code, out = run(self.a, self.b, "--min-cosine", "0.999")
        self.assertEqual(code, 0, out)

    def test_shapes_must_match(self):
        write_vectors(self.b, self.rows[:2])
        code, out = run(self.a, self.b)
        self.assertEqual(code, 1, out)
        self.assertIn("shapes differ", out)

    def test_unreadable_input_is_refused(self):
        with open(self.b, "wb") as f:
            f.write(b"not a safetensors file")
        code, out = run(self.a, self.b)
        self.assertEqual(code, 2, out)


if __name__ == "__main__":
    unittest.main()
