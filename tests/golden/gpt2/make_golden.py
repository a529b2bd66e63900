#!/usr/bin/env python3
"""Golden files for the C++ GPT-2 encoder and its LoRA adapters (tests/nn/gpt2_test.cpp).

Builds a tiny random-weight GPT-2 and writes it in Hugging Face layout (config.json, vocab.json,
merges.txt, model.safetensors with GPT2Model names and Conv1D weights stored (in, out)), a LoRA
adapter in PEFT's layout for it (adapter_config.json with fan_in_fan_out, adapter_model.safetensors
with "base_model.model.h.N.attn.c_attn.lora_A.weight" keys), and the outputs of an independent
reference forward written here with plain torch ops (transformers and PEFT are not used; not loid
either), computed in float64 from the float32 weights. Run with Debian's python3 (python3-torch
1.13, python3-numpy):

    /usr/bin/python3 tests/golden/gpt2/make_golden.py

Outputs (all in this directory):
  tiny/config.json, tiny/vocab.json, tiny/merges.txt, tiny/model.safetensors   the model
  adapter/adapter_config.json, adapter/adapter_model.safetensors               a LoRA adapter
  expected.safetensors   id batch: input_ids, attention_mask (right padding), last_hidden, last,
                         mean; the same with the adapter: lora_last_hidden, lora_last; the
                         text batch: text_input_ids, text_attention_mask, text_last and, with
                         the adapter, text_lora_last
  texts.json             the texts of the text batch (tokenized here by OpenAI's BPE algorithm)
"""
import json
import math
import os
import re
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.join(HERE, "tiny")
ADAPTER_DIR = os.path.join(HERE, "adapter")

N_MERGES = 60
CONFIG = {
    "architectures": ["GPT2Model"],
    "model_type": "gpt2",
    "vocab_size": 256 + N_MERGES + 1,
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "n_positions": 24,
    "n_inner": None,
    "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-5,
    "resid_pdrop": 0.1,
    "embd_pdrop": 0.1,
    "attn_pdrop": 0.1,
    "initializer_range": 0.02,
    "scale_attn_weights": True,
    "bos_token_id": 256 + N_MERGES,
    "eos_token_id": 256 + N_MERGES,
}
LORA = {"r": 4, "lora_alpha": 8, "target_modules": ["c_attn", "c_proj", "c_fc"]}

CORPUS = ("the guitar strings sound great and the tuner works well. i bought this cable after "
          "two months; it still sounds fine. would recommend the strap, the picks and the stand "
          "to anyone who plays the guitar. they're great, it's cheap and we've loved it.")


# ---------------------------------------------------------------- byte-level BPE (OpenAI's)
def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) +
          list(range(ord("\xae"), ord("\xff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENC = bytes_to_unicode()
# GPT-2's pattern restricted to ASCII text (Python's re has no \p{L}); the texts here are ASCII.
PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def words_of(text):
    return ["".join(BYTE_ENC[b] for b in w.encode("utf-8")) for w in PAT.findall(text)]


def learn_merges(text, n):
    """The n most frequent adjacent pairs, merged greedily (a tiny BPE trainer)."""
    words = [list(w) for w in words_of(text)]
    merges = []
    for _ in range(n):
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(sorted(counts), key=lambda p: counts[p])
        merges.append(best)
        new_words = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words.append(out)
        words = new_words
    assert len(merges) == n, len(merges)
    return merges


def bpe(word, ranks):
    """OpenAI encoder.py's bpe(): merge the lowest-ranked pair everywhere, repeat."""
    word = list(word)
    while len(word) > 1:
        pairs = set(zip(word, word[1:]))
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        out, i = [], 0
        while i < len(word):
            if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                out.append(word[i] + word[i + 1])
                i += 2
            else:
                out.append(word[i])
                i += 1
        word = out
    return word


def encode(text, vocab, ranks, max_len):
    ids = []
    for w in words_of(text):
        ids.extend(vocab[p] for p in bpe(w, ranks))
    return ids[:max_len]


# ---------------------------------------------------------------- reference model (plain torch)
def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def conv1d(x, s, name, lora=None):
    """HF's Conv1D: y = x W + b with W (in, out); PEFT fan_in_fan_out adds scale (B A)^T."""
    w = s[name + ".weight"]
    if lora is not None and name in lora["modules"]:
        a, b = lora["modules"][name]
        w = w + lora["scale"] * (b @ a).t()
    return x @ w + s[name + ".bias"]


def reference(s, c, ids, mask, lora=None):
    """Last-layer states (B, T, H) of GPT2Model for right-padded ids under attention mask."""
    b, t = ids.shape
    h, nh = c["n_embd"], c["n_head"]
    d = h // nh
    eps = c["layer_norm_epsilon"]
    x = s["wte.weight"][ids] + s["wpe.weight"][torch.arange(t)][None]
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    visible = causal[None] & mask.bool()[:, None, :]  # (B, T, T): query i sees key j
    for i in range(c["n_layer"]):
        p = "h.%d." % i
        a_in = layer_norm(x, s[p + "ln_1.weight"], s[p + "ln_1.bias"], eps)
        qkv = conv1d(a_in, s, p + "attn.c_attn", lora)
        q, k, v = qkv.split(h, dim=-1)
        q, k, v = (y.view(b, t, nh, d).transpose(1, 2) for y in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d)
        scores = scores.masked_fill(~visible[:, None], float("-inf"))
        ctx = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(b, t, h)
        x = x + conv1d(ctx, s, p + "attn.c_proj", lora)
        m_in = layer_norm(x, s[p + "ln_2.weight"], s[p + "ln_2.bias"], eps)
        x = x + conv1d(gelu_new(conv1d(m_in, s, p + "mlp.c_fc", lora)), s, p + "mlp.c_proj", lora)
    return layer_norm(x, s["ln_f.weight"], s["ln_f.bias"], eps)


def pools(hidden, mask):
    m = mask.double()[:, :, None]
    last = hidden[torch.arange(hidden.shape[0]), mask.sum(1) - 1]
    return hidden * m, last, (hidden * m).sum(1) / m.sum(1)


# ---------------------------------------------------------------- safetensors writer
DTYPES = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hdr += b" " * ((8 - len(hdr) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for blob in blobs:
            f.write(blob)


def pad_batch(seqs, pad_id):
    t = max(len(q) for q in seqs)
    ids = np.full((len(seqs), t), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), t), dtype=np.int64)
    for i, q in enumerate(seqs):
        ids[i, : len(q)] = q
        mask[i, : len(q)] = 1
    return ids, mask


def main():
    torch.manual_seed(20261205)
    c = CONFIG
    h, inner = c["n_embd"], 4 * c["n_embd"]
    shapes = {"wte.weight": (c["vocab_size"], h), "wpe.weight": (c["n_positions"], h),
              "ln_f.weight": (h,), "ln_f.bias": (h,)}
    for i in range(c["n_layer"]):
        p = "h.%d." % i
        shapes.update({
            p + "ln_1.weight": (h,), p + "ln_1.bias": (h,),
            p + "attn.c_attn.weight": (h, 3 * h), p + "attn.c_attn.bias": (3 * h,),
            p + "attn.c_proj.weight": (h, h), p + "attn.c_proj.bias": (h,),
            p + "ln_2.weight": (h,), p + "ln_2.bias": (h,),
            p + "mlp.c_fc.weight": (h, inner), p + "mlp.c_fc.bias": (inner,),
            p + "mlp.c_proj.weight": (inner, h), p + "mlp.c_proj.bias": (h,),
        })
    # Larger-than-usual random weights so attention is far from uniform and every part moves.
    state = {}
    for name, shape in shapes.items():
        if "ln_" in name and name.endswith("weight"):
            state[name] = 1.0 + 0.2 * torch.randn(shape)
        elif name.endswith("bias"):
            state[name] = 0.1 * torch.randn(shape)
        else:
            state[name] = 0.3 * torch.randn(shape)
    os.makedirs(MODEL_DIR, exist_ok=True)
    write_safetensors(os.path.join(MODEL_DIR, "model.safetensors"),
                      {k: v.float().numpy() for k, v in state.items()}, {"format": "pt"})
    with open(os.path.join(MODEL_DIR, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")

    merges = learn_merges(CORPUS, N_MERGES)
    vocab = {BYTE_ENC[b]: i for i, b in enumerate(sorted(BYTE_ENC))}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    assert len(vocab) == c["vocab_size"], len(vocab)
    with open(os.path.join(MODEL_DIR, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(MODEL_DIR, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join("%s %s\n" % m for m in merges))
    ranks = {m: i for i, m in enumerate(merges)}

    # The adapter: PEFT's LoRA on every Conv1D (c_proj matches attn.c_proj and mlp.c_proj).
    r = LORA["r"]
    lora_state, modules = {}, {}
    for i in range(c["n_layer"]):
        for name, (fin, fout) in (("attn.c_attn", (h, 3 * h)), ("attn.c_proj", (h, h)),
                                  ("mlp.c_fc", (h, inner)), ("mlp.c_proj", (inner, h))):
            path = "h.%d.%s" % (i, name)
            a, b = 0.3 * torch.randn(r, fin), 0.3 * torch.randn(fout, r)
            modules[path] = (a.double(), b.double())
            lora_state["base_model.model.%s.lora_A.weight" % path] = a.numpy()
            lora_state["base_model.model.%s.lora_B.weight" % path] = b.numpy()
    os.makedirs(ADAPTER_DIR, exist_ok=True)
    write_safetensors(os.path.join(ADAPTER_DIR, "adapter_model.safetensors"), lora_state,
                      {"format": "pt"})
    adapter_config = {
        "peft_type": "LORA", "task_type": "FEATURE_EXTRACTION", "base_model_name_or_path": "tiny",
        "r": r, "lora_alpha": LORA["lora_alpha"], "lora_dropout": 0.0,
        "target_modules": LORA["target_modules"], "fan_in_fan_out": True, "bias": "none",
        "modules_to_save": None, "inference_mode": True, "init_lora_weights": True,
        "use_rslora": False, "rank_pattern": {}, "alpha_pattern": {},
    }
    with open(os.path.join(ADAPTER_DIR, "adapter_config.json"), "w") as f:
        json.dump(adapter_config, f, indent=2)
        f.write("\n")
    lora = {"modules": modules, "scale": LORA["lora_alpha"] / r}

    # Reference forward in float64 on the float32-rounded weights.
    s = {k: v.float().double() for k, v in state.items()}
    gen = torch.Generator().manual_seed(7)
    eos = c["eos_token_id"]
    lengths = [c["n_positions"], 12, 5, 9, 1, 3]
    seqs = [torch.randint(0, c["vocab_size"], (n,), generator=gen).tolist() for n in lengths]
    ids, mask = pad_batch(seqs, eos)
    out = {"input_ids": ids, "attention_mask": mask}
    with torch.no_grad():
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        hidden, last, mean = pools(reference(s, c, ids_t, mask_t), mask_t)
        lora_hidden, lora_last, _ = pools(reference(s, c, ids_t, mask_t, lora), mask_t)
    out["last_hidden"] = hidden.float().numpy()
    out["last"] = last.float().numpy()
    out["mean"] = mean.float().numpy()
    out["lora_last_hidden"] = lora_hidden.float().numpy()
    out["lora_last"] = lora_last.float().numpy()

    texts = [
        "The guitar strings sound great!",
        "they're cheap; it's fine.  Would   recommend\tto anyone\n\nwho plays",
        "I bought this tuner after two months and it still works well. 10/10",
        "zzz qqq",
        "x",
    ]
    text_seqs = [encode(t, vocab, ranks, c["n_positions"]) for t in texts]
    tids, tmask = pad_batch(text_seqs, eos)
    with torch.no_grad():
        tids_t, tmask_t = torch.from_numpy(tids), torch.from_numpy(tmask)
        _, tlast, _ = pools(reference(s, c, tids_t, tmask_t), tmask_t)
        _, tlora_last, _ = pools(reference(s, c, tids_t, tmask_t, lora), tmask_t)
    out["text_input_ids"] = tids
    out["text_attention_mask"] = tmask
    out["text_last"] = tlast.float().numpy()
    out["text_lora_last"] = tlora_last.float().numpy()
    write_safetensors(os.path.join(HERE, "expected.safetensors"), out,
                      {"made_by": "tests/golden/gpt2/make_golden.py"})
    with open(os.path.join(HERE, "texts.json"), "w") as f:
        json.dump({"texts": texts}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
