#!/usr/bin/python3
"""Writes fixture.safetensors and expected.json for tests/io/safetensors_test.cpp.

An independent safetensors writer, hand-written from the format description (the `safetensors`
Python module is not installed here): 8-byte little-endian header size, compact JSON header, raw
little-endian data. Expected values come from numpy's own dtype conversions (float16 -> float64,
float64 -> float32), never from the C++ code under test.

The layout follows the conventions SafeTensorsWriter documents, so the test can also check that the
C++ writer reproduces this file byte for byte: "__metadata__" first, then tensor names sorted, each
entry {"dtype","shape","data_offsets"}; header padded with spaces to a multiple of 8; data ordered
by decreasing element size, then name.

Run: /usr/bin/python3 tests/golden/safetensors/make_fixture.py   (from the repository root)
"""
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

FLT_MAX = float(np.finfo(np.float32).max)


def bf16_bits(x):
    """Round a float32 to bfloat16 (round to nearest even), as torch does."""
    (u,) = struct.unpack("<I", struct.pack("<f", x))
    if math.isnan(x):
        return (u >> 16) | 0x40
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF


def bf16_value(bits):
    return struct.unpack("<f", struct.pack("<I", bits << 16))[0]


# name -> (dtype, shape, raw bytes, expected values)
tensors = {}


def add(name, dtype, shape, raw, values):
    tensors[name] = (dtype, shape, raw, values)


f32 = np.array([1.0, -0.0, 0.1, -2.5, 1e-45, FLT_MAX], dtype="<f4")
add("dense.weight", "F32", [2, 3], f32.tobytes(), [float(v) for v in f32])

half_bits = np.array(
    [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x3C00, 0xC000, 0x3555],
    dtype="<u2",
)
add("half", "F16", [3, 4], half_bits.tobytes(),
    [float(v) for v in half_bits.view("<f2").astype(np.float64)])

bf_in = [1.0, -3.14159, 1e-40, float("inf"), 0.1, -65504.0]
bf = np.array([bf16_bits(float(np.float32(x))) for x in bf_in], dtype="<u2")
add("encoder.bf16", "BF16", [6], bf.tobytes(), [bf16_value(int(b)) for b in bf])

f64 = np.array([math.pi, 1e39, -1e39, 1e-50, float("nan"), FLT_MAX + 2.0**103,
                FLT_MAX + 2.0**103 - 2.0**75, -1.5], dtype="<f8")
with np.errstate(over="ignore"):
    f64_as_f32 = f64.astype(np.float32)
add("scalar_f64", "F64", [2, 2, 2], f64.tobytes(), [float(v) for v in f64_as_f32])

add("empty", "F32", [0, 3], b"", [])

i64 = np.array([0, -1, 2**62, -(2**63)], dtype="<i8")
add("ids", "I64", [4], i64.tobytes(), [int(v) for v in i64])
i32 = np.array([1, -7, 2**31 - 1, -(2**31)], dtype="<i4")
add("mask", "I32", [2, 2], i32.tobytes(), [int(v) for v in i32])
i16 = np.array([-300, 300], dtype="<i2")
add("small_i16", "I16", [2], i16.tobytes(), [int(v) for v in i16])
i8 = np.array([-128, 127, 0], dtype="<i1")
add("small_i8", "I8", [3], i8.tobytes(), [int(v) for v in i8])
u8 = np.array([0, 255], dtype="<u1")
add("bytes_u8", "U8", [2], u8.tobytes(), [int(v) for v in u8])
add("flags", "BOOL", [3], bytes([1, 0, 1]), [1, 0, 1])

metadata = {"format": "pt", "note": "made by make_fixture.py, caf\u00e9"}

SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
         "U8": 1, "BOOL": 1}
names = sorted(tensors)
order = sorted(names, key=lambda n: -SIZES[tensors[n][0]])  # stable: by name within a size
offsets, cursor = {}, 0
for n in order:
    offsets[n] = [cursor, cursor + len(tensors[n][2])]
    cursor += len(tensors[n][2])

header = {"__metadata__": metadata}
for n in names:
    dtype, shape, _, _ = tensors[n]
    header[n] = {"dtype": dtype, "shape": shape, "data_offsets": offsets[n]}
text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
text += b" " * ((8 - len(text) % 8) % 8)
blob = struct.pack("<Q", len(text)) + text + b"".join(tensors[n][2] for n in order)

with open(os.path.join(HERE, "fixture.safetensors"), "wb") as f:
    f.write(blob)


def encode(v):
    # JSON has no inf/nan: spell them as strings the test understands.
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


expected = {
    "metadata": metadata,
    "tensors": {
        n: {"dtype": tensors[n][0], "shape": tensors[n][1], "data_offsets": offsets[n],
            "values": [encode(v) for v in tensors[n][3]]}
        for n in names
    },
}
with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8") as f:
    json.dump(expected, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(f"wrote fixture.safetensors ({len(blob)} bytes, {len(names)} tensors) and expected.json")
