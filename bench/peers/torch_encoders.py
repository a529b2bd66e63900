#!/usr/bin/env python3
"""PyTorch-eager peer of loid's encoder benchmarks (issue 7): the same BERT-base-shaped and
GPT-2-small-shaped weights, the installed USE-Lite, the same token ids and threads, written as one
would in eager PyTorch (HF-style modules, padded batches, torch.inference_mode for inference).

Inputs come from the C++ side, so both read the same files:
  LOID_PEER_DIR=/tmp/peer build-x/loid_bench --benchmark_filter=WritePeerInputs
  /usr/bin/python3 bench/peers/torch_encoders.py --dir /tmp/peer --use-lite models/use_lite

It prints, for each model: inference sequences/s and effective GFLOP/s at batch 32 on the
benchmark's real review texts (consecutive batches, lengths as they come, and length-sorted
batches as loid's encode_texts makes them), LoRA training steps/s (rank 32 on the same targets,
forward + backward + Adam), and the largest absolute difference between its vectors and loid's for
the first 64 texts. A benchmark peer only: never used by the product.
"""
import argparse
import copy
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[base + a:base + b], dtype=DTYPES[info["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


# ----------------------------------------------------------------------------------- LoRA

class LoraLinear(nn.Module):
    """A frozen nn.Linear (or GPT-2's Conv1D, as PEFT's fan_in_fan_out) plus a trainable rank-r
    adapter: y = base(x) + (alpha/r) B A drop(x)."""

    def __init__(self, base, r=32, alpha=32, dropout=0.1):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.drop = nn.Dropout(dropout)
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(self.drop(x))) * self.scale


def inject(module, names):
    for parent in list(module.modules()):
        for child_name, child in list(parent.named_children()):
            if child_name in names and isinstance(child, (nn.Linear, Conv1D)):
                setattr(parent, child_name, LoraLinear(child))


# ----------------------------------------------------------------------------------- BERT

class BertLayer(nn.Module):
    def __init__(self, h, heads, inner, eps):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_dense = nn.Linear(h, h)
        self.attn_norm = nn.LayerNorm(h, eps=eps)
        self.intermediate = nn.Linear(h, inner)
        self.output = nn.Linear(inner, h)
        self.out_norm = nn.LayerNorm(h, eps=eps)

    def forward(self, x, bias):
        b, t, h = x.shape
        d = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        a = self.attn_norm(self.attn_dense(ctx) + x)
        return self.out_norm(self.output(F.gelu(self.intermediate(a))) + a)


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.width = h
        self.word = nn.Embedding(c["vocab_size"], h)
        self.pos = nn.Embedding(c["max_position_embeddings"], h)
        self.token_type = nn.Embedding(c["type_vocab_size"], h)
        self.norm = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        self.layers = nn.ModuleList(
            BertLayer(h, c["num_attention_heads"], c["intermediate_size"], c["layer_norm_eps"])
            for _ in range(c["num_hidden_layers"]))

    def forward(self, ids, mask):
        t = ids.shape[1]
        x = self.norm(self.word(ids) + self.pos(torch.arange(t))[None] + self.token_type.weight[0])
        bias = ((1.0 - mask.to(x.dtype))[:, None, None, :] * torch.finfo(x.dtype).min).to(x.dtype)
        for layer in self.layers:
            x = layer(x, bias)
        return x[:, 0]  # cls

    def load(self, st):
        def cp(dst, name):
            dst.data.copy_(st[name])
        cp(self.word.weight, "embeddings.word_embeddings.weight")
        cp(self.pos.weight, "embeddings.position_embeddings.weight")
        cp(self.token_type.weight, "embeddings.token_type_embeddings.weight")
        cp(self.norm.weight, "embeddings.LayerNorm.weight")
        cp(self.norm.bias, "embeddings.LayerNorm.bias")
        for i, l in enumerate(self.layers):
            p = f"encoder.layer.{i}."
            for mod, name in [(l.query, "attention.self.query"), (l.key, "attention.self.key"),
                              (l.value, "attention.self.value"),
                              (l.attn_dense, "attention.output.dense"),
                              (l.attn_norm, "attention.output.LayerNorm"),
                              (l.intermediate, "intermediate.dense"), (l.output, "output.dense"),
                              (l.out_norm, "output.LayerNorm")]:
                cp(mod.weight, p + name + ".weight")
                cp(mod.bias, p + name + ".bias")


BERT_TARGETS = {"query", "key", "value", "attn_dense", "intermediate", "output"}


def bert_macs(c, lengths):
    h, inner, L = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    return sum(L * (n * (4 * h * h + 2 * h * inner) + 2 * n * n * h) for n in lengths)


# ----------------------------------------------------------------------------------- USE-Lite

class UseLayer(nn.Module):
    def __init__(self, d, o, heads, inner, eps):
        super().__init__()
        self.d, self.heads = d, heads
        self.attn_norm = nn.LayerNorm(d, eps=eps)
        self.qkv = nn.Linear(d, 3 * d)
        self.attn_out = nn.Linear(d, o)
        self.residual_proj = nn.Linear(d, o) if d != o else None
        self.ffn_norm = nn.LayerNorm(o, eps=eps)
        self.ffn_in = nn.Linear(o, inner)
        self.ffn_out = nn.Linear(inner, o)

    def forward(self, x, mask):
        b, t, _ = x.shape
        dh = self.d // self.heads
        m = mask[:, :, None]
        q, k, v = self.qkv(self.attn_norm(x)).split(self.d, -1)

        def heads(y):
            return y.view(b, t, self.heads, dh).transpose(1, 2)

        q, k, v = heads(q) * (1.0 / math.sqrt(dh)), heads(k), heads(v)
        bias = ((1.0 - mask.float()) * -1e9).view(b, 1, 1, t).to(x.dtype)
        w = (q @ k.transpose(-2, -1) + bias).softmax(-1)
        a = (w @ v).transpose(1, 2).reshape(b, t, self.d)
        residual = self.residual_proj(x) * m if self.residual_proj is not None else x
        y = self.attn_out(a) + residual
        return y + self.ffn_out(F.relu(self.ffn_in(self.ffn_norm(y)))) * m


class UseLite(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        e, h = c["embedding_size"], c["hidden_size"]
        self.width = h
        self.embeddings = nn.Embedding(c["vocab_size"], e)
        self.register_buffer("inv_timescales", torch.zeros(e // 2))
        self.layers = nn.ModuleList(
            UseLayer(e if i == 0 else h, h, c["num_heads"], c["intermediate_size"],
                     c["layer_norm_eps"]) for i in range(c["num_layers"]))
        self.head = nn.Linear(h, h)

    def forward(self, ids, mask):
        dtype = self.head.weight.dtype
        t = ids.shape[1]
        angle = torch.arange(t, dtype=torch.float32)[:, None] * self.inv_timescales.float()[None]
        signal = torch.cat([angle.sin(), angle.cos()], 1)
        x = 2.0 * self.embeddings(ids).float() + signal[None]
        mask = mask.to(dtype)
        x = x.to(dtype) * mask[:, :, None]
        for layer in self.layers:
            x = layer(x, mask)
        mean = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
        h = torch.tanh(self.head(mean))
        return h * torch.rsqrt(h.square().sum(1, keepdim=True).clamp_min(1e-12))

    def load(self, st):
        own = dict(self.named_parameters())
        own.update(dict(self.named_buffers()))
        for name, t in own.items():
            t.data.copy_(st[name])


USE_TARGETS = {"qkv", "attn_out", "ffn_in", "ffn_out"}


def use_macs(c, lengths):
    o, inner = c["hidden_size"], c["intermediate_size"]
    per_token = per_square = 0
    for l in range(c["num_layers"]):
        d = c["embedding_size"] if l == 0 else o
        per_token += 3 * d * d + d * o + (d * o if d != o else 0) + 2 * o * inner
        per_square += 2 * d
    return sum(n * per_token + n * n * per_square + o * o for n in lengths)


# ----------------------------------------------------------------------------------- GPT-2

class Conv1D(nn.Module):
    """Hugging Face's GPT-2 projection: weight (in, out), y = addmm(b, x, W)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.in_features, self.out_features = n_in, n_out
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        shape = x.shape[:-1] + (self.out_features,)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(shape)


class Gpt2Attention(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.heads = heads
        self.c_attn, self.c_proj = Conv1D(h, 3 * h), Conv1D(h, h)

    def forward(self, x, bias):
        b, t, h = x.shape
        d = h // self.heads

        def split(y):
            return y.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = (split(y) for y in self.c_attn(x).split(h, -1))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + bias
        return self.c_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h))


class Gpt2Mlp(nn.Module):
    def __init__(self, h, inner):
        super().__init__()
        self.c_fc, self.c_proj = Conv1D(h, inner), Conv1D(inner, h)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # "gelu_new"


class Gpt2Block(nn.Module):
    def __init__(self, h, heads, inner, eps):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(h, eps=eps), nn.LayerNorm(h, eps=eps)
        self.attn, self.mlp = Gpt2Attention(h, heads), Gpt2Mlp(h, inner)

    def forward(self, x, bias):
        x = x + self.attn(self.ln_1(x), bias)
        return x + self.mlp(self.ln_2(x))


class Gpt2(nn.Module):
    """GPT2Model with Hugging Face's parameter names (load_state_dict reads the checkpoint as is);
    pooled at the last real token of each right-padded row."""

    def __init__(self, c):
        super().__init__()
        h, eps = c["n_embd"], c["layer_norm_epsilon"]
        inner = c.get("n_inner") or 4 * h
        self.width = h
        self.wte = nn.Embedding(c["vocab_size"], h)
        self.wpe = nn.Embedding(c["n_positions"], h)
        self.h = nn.ModuleList(Gpt2Block(h, c["n_head"], inner, eps) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(h, eps=eps)

    def forward(self, ids, mask):
        b, t = ids.shape
        x = self.wte(ids) + self.wpe(torch.arange(t))[None]
        visible = torch.ones(t, t, dtype=torch.bool).tril()[None] & mask.bool()[:, None, :]
        bias = torch.zeros(b, 1, t, t, dtype=x.dtype).masked_fill(
            ~visible[:, None], torch.finfo(x.dtype).min)
        for block in self.h:
            x = block(x, bias)
        x = self.ln_f(x)
        return x[torch.arange(b), mask.sum(1) - 1]  # the last real token


GPT2_TARGETS = {"c_attn", "c_proj", "c_fc"}  # c_proj: attn.c_proj and mlp.c_proj


def gpt2_macs(c, lengths):
    h, L = c["n_embd"], c["n_layer"]
    inner = c.get("n_inner") or 4 * h
    return sum(L * (n * (4 * h * h + 2 * h * inner) + 2 * n * n * h) for n in lengths)


# ----------------------------------------------------------------------------------- runs

def batch_of(ids, lengths, rows):
    t = max(1, int(lengths[rows].max()))
    sel = ids[rows, :t]
    mask = (torch.arange(t)[None, :] < lengths[rows][:, None]).long()
    return sel, mask


def consecutive(n, size):
    return [list(range(s, min(n, s + size))) for s in range(0, n, size)]


def sorted_batches(lengths, size):
    order = sorted(range(len(lengths)), key=lambda i: -int(lengths[i]))  # stable, longest first
    return [order[s:s + size] for s in range(0, len(order), size)]


def time_inference(model, ids, lengths, batches, macs_fn):
    model.eval()
    real = []
    with torch.inference_mode():
        start = time.perf_counter()
        for rows in batches:
            x, m = batch_of(ids, lengths, torch.tensor(rows))
            model(x, m)
            real += [int(lengths[r]) for r in rows]
        secs = time.perf_counter() - start
    return len(real) / secs, 2.0 * macs_fn(real) / secs / 1e9, secs


def time_training(model, ids, lengths, ratings, batches, targets):
    inject(model, targets)
    for p in model.parameters():
        p.requires_grad_(False)
    params = [p for n, p in model.named_parameters() if "lora_" in n]
    for p in params:
        p.requires_grad_(True)
    head = nn.Linear(model.width, 1)
    opt = torch.optim.Adam(params + list(head.parameters()), lr=1e-3)
    model.train()
    start = time.perf_counter()
    for rows in batches:
        r = torch.tensor(rows)
        x, m = batch_of(ids, lengths, r)
        opt.zero_grad()
        loss = F.mse_loss(head(model(x, m)).squeeze(-1), ratings[r])
        loss.backward()
        opt.step()
    secs = time.perf_counter() - start
    return len(batches) / secs, secs


def bf16_report(*args):
    try:
        bf16_run(*args)
    except RuntimeError as e:  # an op without a bfloat16 CPU kernel in this torch
        print(f"{args[0]} bf16 inference failed: {e}")


def bf16_run(name, model, ids, lengths, reference, n, batch, macs):
    m16 = copy.deepcopy(model).to(torch.bfloat16)

    class Cast(nn.Module):
        def forward(self, x, m):
            return m16(x, m)

    with torch.inference_mode():
        vec = torch.cat([m16(*batch_of(ids, lengths, torch.tensor(rows))).float()
                         for rows in consecutive(64, 32)])
    diff = (vec - reference).abs().max().item()
    cos = F.cosine_similarity(vec, reference, dim=1).min().item()
    sps, gf, secs = time_inference(Cast(), ids, lengths, sorted_batches(lengths[:n].tolist(), batch),
                                   macs)
    print(f"{name} bf16 inference, length-sorted batches: {sps:.3f} sequences/s, {gf:.1f} GFLOP/s "
          f"effective; vs loid float32 (64 texts): max abs diff {diff:.3g}, min cosine {cos:.6f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="what BM_WritePeerInputs wrote (LOID_PEER_DIR)")
    ap.add_argument("--use-lite", default="models/use_lite", help="converted USE-Lite directory")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bert-texts", type=int, default=128, help="texts for BERT inference")
    ap.add_argument("--bert-train-steps", type=int, default=3)
    ap.add_argument("--use-train-steps", type=int, default=8)
    ap.add_argument("--gpt2-texts", type=int, default=128, help="texts for GPT-2 inference")
    ap.add_argument("--gpt2-train-steps", type=int, default=3)
    ap.add_argument("--only", choices=["bert", "gpt2", "use_lite"], default=None)
    ap.add_argument("--bf16", action="store_true",
                    help="also run inference in bfloat16 (oneDNN) and report its speed and its "
                         "difference from loid's float32 vectors")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    inputs = read_safetensors(os.path.join(a.dir, "inputs.safetensors"))
    ratings = inputs["ratings"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {a.batch}")

    if a.only in (None, "bert"):
        c = json.load(open(os.path.join(a.dir, "bert_base", "config.json")))
        st = read_safetensors(os.path.join(a.dir, "bert_base", "model.safetensors"))
        model = Bert(c)
        model.load(st)
        ids, lengths = inputs["bert_ids"], inputs["bert_lengths"]
        model.eval()
        with torch.inference_mode():
            vec = torch.cat([model(*batch_of(ids, lengths, torch.tensor(rows)))
                             for rows in consecutive(64, 32)])
        diff = (vec - inputs["bert_cls"]).abs().max().item()
        n = a.bert_texts
        macs = lambda ls: bert_macs(c, ls)
        sps, gf, secs = time_inference(model, ids, lengths, consecutive(n, a.batch), macs)
        print(f"bert_base inference, consecutive batches, {n} texts: {sps:.3f} sequences/s, "
              f"{gf:.1f} GFLOP/s effective ({secs:.1f} s)")
        sps, gf, secs = time_inference(model, ids, lengths,
                                       sorted_batches(lengths[:n].tolist(), a.batch), macs)
        print(f"bert_base inference, length-sorted batches, {n} texts: {sps:.3f} sequences/s, "
              f"{gf:.1f} GFLOP/s effective ({secs:.1f} s)")
        print(f"bert_base max abs diff of cls vectors vs loid (64 texts): {diff:.3g}")
        if a.bf16:
            bf16_report("bert_base", model, ids, lengths, inputs["bert_cls"], n, a.batch, macs)
        steps = consecutive(a.batch * a.bert_train_steps, a.batch)
        rate, secs = time_training(model, ids, lengths, ratings, steps, BERT_TARGETS)
        print(f"bert_base LoRA r32 training: {rate:.4f} steps/s ({len(steps)} steps, {secs:.1f} s)")

    if a.only in (None, "gpt2"):
        c = json.load(open(os.path.join(a.dir, "gpt2_small", "config.json")))
        model = Gpt2(c)
        model.load_state_dict(read_safetensors(os.path.join(a.dir, "gpt2_small",
                                                            "model.safetensors")))
        ids, lengths = inputs["gpt2_ids"], inputs["gpt2_lengths"]
        model.eval()
        with torch.inference_mode():
            vec = torch.cat([model(*batch_of(ids, lengths, torch.tensor(rows)))
                             for rows in consecutive(64, 32)])
        ref = inputs["gpt2_last"]
        diff = (vec - ref).abs().max().item()
        rel = diff / ref.abs().max().item()
        n = a.gpt2_texts
        macs = lambda ls: gpt2_macs(c, ls)
        sps, gf, secs = time_inference(model, ids, lengths, consecutive(n, a.batch), macs)
        print(f"gpt2_small inference, consecutive batches, {n} texts: {sps:.3f} sequences/s, "
              f"{gf:.1f} GFLOP/s effective ({secs:.1f} s)")
        print(f"gpt2_small max abs diff of last-token vectors vs loid (64 texts): {diff:.3g} "
              f"({rel:.3g} of the largest entry)")
        steps = consecutive(a.batch * a.gpt2_train_steps, a.batch)
        rate, secs = time_training(model, ids, lengths, ratings, steps, GPT2_TARGETS)
        print(f"gpt2_small LoRA r32 training: {rate:.4f} steps/s ({len(steps)} steps, {secs:.1f} s)")

    if a.only in (None, "use_lite"):
        c = json.load(open(os.path.join(a.use_lite, "config.json")))
        model = UseLite(c)
        model.load(read_safetensors(os.path.join(a.use_lite, "model.safetensors")))
        ids, lengths = inputs["use_lite_ids"], inputs["use_lite_lengths"]
        model.eval()
        with torch.inference_mode():
            vec = torch.cat([model(*batch_of(ids, lengths, torch.tensor(rows)))
                             for rows in consecutive(64, 32)])
        diff = (vec - inputs["use_lite_sentence"]).abs().max().item()
        n = ids.shape[0]
        macs = lambda ls: use_macs(c, ls)
        time_inference(model, ids, lengths, consecutive(64, a.batch), macs)  # warm-up
        sps, gf, secs = time_inference(model, ids, lengths, consecutive(n, a.batch), macs)
        print(f"use_lite inference, consecutive batches, {n} texts: {sps:.2f} sequences/s, "
              f"{gf:.1f} GFLOP/s effective ({secs:.2f} s)")
        sps, gf, secs = time_inference(model, ids, lengths,
                                       sorted_batches(lengths.tolist(), a.batch), macs)
        print(f"use_lite inference, length-sorted batches, {n} texts: {sps:.2f} sequences/s, "
              f"{gf:.1f} GFLOP/s effective ({secs:.2f} s)")
        print(f"use_lite max abs diff of sentence vectors vs loid (64 texts): {diff:.3g}")
        if a.bf16:
            bf16_report("use_lite", model, ids, lengths, inputs["use_lite_sentence"], n, a.batch,
                        macs)
        steps = consecutive(a.batch * a.use_train_steps, a.batch)
        rate, secs = time_training(model, ids, lengths, ratings, steps, USE_TARGETS)
        print(f"use_lite LoRA r32 training: {rate:.3f} steps/s ({len(steps)} steps, {secs:.1f} s)")


if __name__ == "__main__":
    main()
