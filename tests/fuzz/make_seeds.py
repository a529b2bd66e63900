#!/usr/bin/python3
"""Writes seed inputs for safetensors_fuzz into the directory given as argument: the golden
fixture, small valid files of every dtype, and hand-corrupted variants (one per validation rule).

Run: /usr/bin/python3 tests/fuzz/make_seeds.py tests/fuzz/corpus_work/seeds
"""
import json
import os
import shutil
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
here = os.path.dirname(os.path.abspath(__file__))
shutil.copy(os.path.join(here, "..", "golden", "safetensors", "fixture.safetensors"),
            os.path.join(out, "fixture.safetensors"))


def blob(header, data=b"", size=None):
    h = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(h) if size is None else size) + h + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def valid(tensors, meta=None):
    header, data = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = entry(dtype, shape, len(data), len(data) + len(raw))
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return blob(text, data)


seeds = {
    "empty_header": blob("{}"),
    "all_dtypes": valid({
        "f64": ("F64", [1], struct.pack("<d", 1.5)),
        "f32": ("F32", [2], struct.pack("<2f", 1.0, -2.0)),
        "f16": ("F16", [2], struct.pack("<2H", 0x3C00, 0x7C00)),
        "bf16": ("BF16", [1, 1], struct.pack("<H", 0x3F80)),
        "i64": ("I64", [1], struct.pack("<q", -5)),
        "i32": ("I32", [], struct.pack("<i", 7)),
        "i16": ("I16", [1], struct.pack("<h", -2)),
        "i8": ("I8", [1], b"\xff"),
        "u8": ("U8", [2], b"\x00\xff"),
        "bool": ("BOOL", [1], b"\x01"),
        "zero": ("F32", [0, 4], b""),
    }, {"format": "pt"}),
    "too_short": b"abc",
    "size_past_end": blob("{}", size=100),
    "size_absurd": blob("{}", size=1 << 60),
    "not_json": blob('{"a": '),
    "nul_in_header": blob(b'{"a":1}\x00{}'),
    "not_object": blob("[1, 2]"),
    "entry_not_object": blob('{"w": 5}'),
    "missing_dtype": blob('{"w": {"shape": [2], "data_offsets": [0, 8]}}', b"x" * 8),
    "dtype_number": blob('{"w": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}}', b"x" * 8),
    "shape_float": blob('{"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}}', b"x" * 8),
    "unknown_dtype": blob('{"w": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}}',
                          b"x" * 8),
    "negative_dim": blob('{"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}', b"x" * 8),
    "numel_mismatch": blob('{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}', b"x" * 8),
    "overflow": blob('{"w": {"dtype": "U8", "shape": [4294967296, 4294967296], '
                     '"data_offsets": [0, 0]}}'),
    "past_data": blob('{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}', b"x" * 8),
    "begin_after_end": blob('{"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}',
                            b"x" * 8),
    "overlap": blob('{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
                    '"b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', b"x" * 8),
    "gap": blob('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                '"b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}', b"x" * 12),
    "trailing": blob('{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', b"x" * 8),
    "metadata_number": blob('{"__metadata__": {"epoch": 3}}'),
    "duplicate": blob('{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, '
                      '"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}', b"xx"),
}
for name, data in seeds.items():
    with open(os.path.join(out, name + ".safetensors"), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds) + 1} seeds to {out}")
