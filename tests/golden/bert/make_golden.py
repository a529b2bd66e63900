#!/usr/bin/env python3
"""Golden files for the C++ BERT encoder (tests/nn/bert_test.cpp).

Builds a tiny random-weight BERT, writes it in Hugging Face layout (config.json, vocab.txt,
model.safetensors with HF parameter names) and the outputs of an independent reference forward
written here with torch.nn modules (transformers is not used), computed in float64 from the
float32 weights. Run with Debian's python3 (python3-torch, python3-numpy):

    /usr/bin/python3 tests/golden/bert/make_golden.py

Outputs (all in this directory):
  tiny/config.json, tiny/vocab.txt, tiny/model.safetensors   the model
  expected.safetensors   id batch: input_ids, attention_mask, last_hidden, cls, pooler, mean,
                         last_hidden_gelu_new (same weights, hidden_act "gelu_new"), and the
                         text batch: text_input_ids, text_attention_mask, text_cls
  texts.json             the texts of the text batch (tokenized here by a small WordPiece)
"""
import json
import math
import os
import struct

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.join(HERE, "tiny")

CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "vocab_size": 120,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 40,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "the a an and or but is was it this that i my me you to of for in on with at not very "
    "so too great good bad sound guitar string strings amp cable pedal tone price play "
    "work works well quality cheap easy use used buy bought love like one two would "
    "recommend product after month months still sounds nice fine ok case tuner strap "
    "pick picks capo stand mic noise loud clear ! . , ? ' - "
    "##s ##ing ##ed ##er ##ly ##y ##es ##ful a b c d e f g h i l m n o p r s t u "
    "##e ##i ##l ##m ##n ##o ##r ##t ##u"
).split()


def make_vocab():
    vocab = list(SPECIALS)
    for w in WORDS:
        if w not in vocab:
            vocab.append(w)
    size = CONFIG["vocab_size"]
    assert len(vocab) <= size, len(vocab)
    i = 0
    while len(vocab) < size:
        vocab.append("[unused%d]" % i)
        i += 1
    return vocab


# ---------------------------------------------------------------- a small reference WordPiece
PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def wordpiece(text, vocab_index, max_len):
    words = []
    for chunk in text.lower().split():
        cur = ""
        for ch in chunk:
            if ch in PUNCT:
                if cur:
                    words.append(cur)
                words.append(ch)
                cur = ""
            else:
                cur += ch
        if cur:
            words.append(cur)
    ids = [vocab_index["[CLS]"]]
    for w in words:
        pieces, start, bad = [], 0, False
        while start < len(w):
            end, found = len(w), None
            while end > start:
                piece = w[start:end] if start == 0 else "##" + w[start:end]
                if piece in vocab_index:
                    found = piece
                    break
                end -= 1
            if found is None:
                bad = True
                break
            pieces.append(vocab_index[found])
            start = end
        ids.extend([vocab_index["[UNK]"]] if bad else pieces)
    ids = ids[: max_len - 1] + [vocab_index["[SEP]"]]
    return ids


# ---------------------------------------------------------------- reference model (torch.nn)
class RefLayer(nn.Module):
    def __init__(self, h, heads, inter, eps):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out, self.attn_ln = nn.Linear(h, h), nn.LayerNorm(h, eps=eps)
        self.ff_in, self.ff_out = nn.Linear(h, inter), nn.Linear(inter, h)
        self.ff_ln = nn.LayerNorm(h, eps=eps)

    def forward(self, x, key_mask, act):
        b, t, h = x.shape
        d = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, d).permute(0, 2, 1, 3)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
        ctx = ctx.permute(0, 2, 1, 3).reshape(b, t, h)
        x = self.attn_ln(x + self.attn_out(ctx))
        return self.ff_ln(x + self.ff_out(act(self.ff_in(x))))


class RefBert(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.word = nn.Embedding(c["vocab_size"], h)
        self.pos = nn.Embedding(c["max_position_embeddings"], h)
        self.typ = nn.Embedding(c["type_vocab_size"], h)
        self.emb_ln = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        self.layers = nn.ModuleList(
            RefLayer(h, c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"])
            for _ in range(c["num_hidden_layers"])
        )
        self.pool = nn.Linear(h, h)

    def forward(self, ids, mask, act):
        t = ids.shape[1]
        pos = torch.arange(t)[None, :]
        x = self.emb_ln(self.word(ids) + self.pos(pos) + self.typ(torch.zeros_like(ids)))
        key_mask = mask.bool()
        for layer in self.layers:
            x = layer(x, key_mask, act)
        return x, torch.tanh(self.pool(x[:, 0]))

    def hf_state(self):
        """Parameters under Hugging Face BertModel names."""
        s = {
            "embeddings.word_embeddings.weight": self.word.weight,
            "embeddings.position_embeddings.weight": self.pos.weight,
            "embeddings.token_type_embeddings.weight": self.typ.weight,
            "embeddings.LayerNorm.weight": self.emb_ln.weight,
            "embeddings.LayerNorm.bias": self.emb_ln.bias,
            "pooler.dense.weight": self.pool.weight,
            "pooler.dense.bias": self.pool.bias,
        }
        for i, l in enumerate(self.layers):
            p = "encoder.layer.%d." % i
            mods = {
                "attention.self.query": l.q, "attention.self.key": l.k,
                "attention.self.value": l.v, "attention.output.dense": l.attn_out,
                "attention.output.LayerNorm": l.attn_ln, "intermediate.dense": l.ff_in,
                "output.dense": l.ff_out, "output.LayerNorm": l.ff_ln,
            }
            for name, m in mods.items():
                s[p + name + ".weight"] = m.weight
                s[p + name + ".bias"] = m.bias
        return s


def gelu_exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


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
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def pad_batch(seqs):
    t = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), t), dtype=np.int64)
    mask = np.zeros((len(seqs), t), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


def main():
    torch.manual_seed(20261127)
    c = CONFIG
    model = RefBert(c)
    # Larger-than-usual random weights so that attention is far from uniform and every part of
    # the forward (masking, positions, both layer norms) moves the outputs.
    with torch.no_grad():
        for name, p in model.hf_state().items():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
    os.makedirs(MODEL_DIR, exist_ok=True)
    state32 = {k: v.detach().float().numpy() for k, v in model.hf_state().items()}
    write_safetensors(os.path.join(MODEL_DIR, "model.safetensors"), state32, {"format": "pt"})
    with open(os.path.join(MODEL_DIR, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    vocab = make_vocab()
    with open(os.path.join(MODEL_DIR, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    vocab_index = {w: i for i, w in enumerate(vocab)}

    # Reference forward in float64 on the float32-rounded weights.
    model = model.double()
    gen = torch.Generator().manual_seed(7)
    lengths = [c["max_position_embeddings"], 12, 5, 9, 3]
    seqs = []
    for n in lengths:
        body = torch.randint(5, c["vocab_size"], (n - 2,), generator=gen).tolist()
        seqs.append([vocab_index["[CLS]"]] + body + [vocab_index["[SEP]"]])
    ids, mask = pad_batch(seqs)
    out = {"input_ids": ids, "attention_mask": mask}
    with torch.no_grad():
        ids_t, mask_t = torch.from_numpy(ids), torch.from_numpy(mask)
        hidden, pooled = model(ids_t, mask_t, gelu_exact)
        m = mask_t.double()[:, :, None]
        mean = (hidden * m).sum(1) / m.sum(1)
        hidden_new, _ = model(ids_t, mask_t, gelu_new)
    out["last_hidden"] = hidden.float().numpy()
    out["cls"] = hidden[:, 0].float().numpy()
    out["pooler"] = pooled.float().numpy()
    out["mean"] = mean.float().numpy()
    out["last_hidden_gelu_new"] = hidden_new.float().numpy()

    texts = [
        "The guitar strings sound great!",
        "Cheap cables, playing loudly; strummed fine.",
        "I bought this tuner after two months and it still works well. Would recommend",
        "zzz qqq",
        "Loud noise.",
    ]
    text_seqs = [wordpiece(t, vocab_index, c["max_position_embeddings"]) for t in texts]
    tids, tmask = pad_batch(text_seqs)
    with torch.no_grad():
        th, _ = model(torch.from_numpy(tids), torch.from_numpy(tmask), gelu_exact)
    out["text_input_ids"] = tids
    out["text_attention_mask"] = tmask
    out["text_cls"] = th[:, 0].float().numpy()
    write_safetensors(os.path.join(HERE, "expected.safetensors"), out,
                      {"made_by": "tests/golden/bert/make_golden.py"})
    with open(os.path.join(HERE, "texts.json"), "w") as f:
        json.dump({"texts": texts}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
