#!/usr/bin/env python3
"""Writes tests/golden/peft/bert_tiny/: a PEFT LoRA adapter directory in the format Hugging Face PEFT
saves (adapter_config.json + adapter_model.safetensors, keys base_model.model.<module>.lora_A.weight
(r, in) and .lora_B.weight (out, r), modules_to_save stored as base_model.model.<module>.<param>),
for a tiny BERT-shaped module list. The safetensors bytes are written here by hand from the format
spec (independent of loid's writer). Also writes expected.json: for each module, the output of
base linear + LoRA delta on a fixed input, computed with PyTorch.

Run with the Debian python (torch + numpy): /usr/bin/python3 tests/golden/peft/make_fixture.py
"""
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "bert_tiny")
HIDDEN, FFN, R, ALPHA = 8, 16, 2, 4.0
MODULES = {  # path -> (out, in), as in HF BertModel layer 0, and its pooler (which PEFT's target
    # "dense" matches too)
    "encoder.layer.0.attention.self.query": (HIDDEN, HIDDEN),
    "encoder.layer.0.attention.self.key": (HIDDEN, HIDDEN),
    "encoder.layer.0.attention.self.value": (HIDDEN, HIDDEN),
    "encoder.layer.0.attention.output.dense": (HIDDEN, HIDDEN),
    "encoder.layer.0.intermediate.dense": (FFN, HIDDEN),
    "encoder.layer.0.output.dense": (HIDDEN, FFN),
    "pooler.dense": (HIDDEN, HIDDEN),
}


def write_safetensors(path, tensors):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    tensors, expected = {}, {"scale": ALPHA / R, "modules": {}}
    for path, (out_f, in_f) in MODULES.items():
        a = torch.randn(R, in_f, generator=g) * 0.3
        b = torch.randn(out_f, R, generator=g) * 0.3
        tensors[f"base_model.model.{path}.lora_A.weight"] = a.numpy()
        tensors[f"base_model.model.{path}.lora_B.weight"] = b.numpy()
        # Base weights and input from a fixed formula the C++ test repeats.
        w = torch.tensor([[0.01 * (i - 2 * j) for j in range(in_f)] for i in range(out_f)])
        bias = torch.tensor([0.1 * i for i in range(out_f)])
        x = torch.tensor([[0.05 * (t + 1) * (j - 3) for j in range(in_f)] for t in range(3)])
        y = x @ w.T + bias + (ALPHA / R) * ((x @ a.T) @ b.T)
        expected["modules"][path] = {"out": out_f, "in": in_f, "y": y.flatten().tolist(),
                                     "a00": float(a[0, 0]), "b_last": float(b[-1, -1])}
    head_w = torch.randn(1, HIDDEN, generator=g)
    tensors["base_model.model.head.weight"] = head_w.numpy()
    tensors["base_model.model.head.bias"] = np.array([0.5], dtype=np.float32)
    expected["head_weight"] = head_w.flatten().tolist()
    write_safetensors(os.path.join(OUT, "adapter_model.safetensors"), tensors)
    config = {  # the fields PEFT 0.x writes for a LoraConfig
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "bert-base-uncased",
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "layers_pattern": None, "layers_to_transform": None, "lora_alpha": ALPHA,
        "lora_dropout": 0.1, "modules_to_save": ["head"], "peft_type": "LORA", "r": R,
        "rank_pattern": {}, "revision": None,
        "target_modules": ["query", "key", "value", "dense"], "task_type": "FEATURE_EXTRACTION",
        "use_rslora": False,
    }
    with open(os.path.join(OUT, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
