#!/usr/bin/env python3
"""Golden file for the LoID recommender (tests/rec/loid_golden_test.cpp).

An independent float64 reference, written here from the method's description with plain tensor
operations (no torch.nn modules, no torch.optim), of:
  - the ID-over-text attention (multi-head; a row with no reviews attends to nothing and returns the
    output projection's bias),
  - the LoID forward pass (text projection, the two cross attentions, the prediction MLP, and for
    the "mf_text" case the user/item biases, the MF dot product and the text factors: the whitened
    mean of each side's unmasked context vectors through a map added to the ID factors),
  - for mf_text, the training penalty (L2 on the rows' biases and ID factors, mean over rows, and
    on the text-factor maps),
  - the triplet loss (squared L2 distances, negative = the previous row, cyclically),
  - the training loss MSE + lambda * triplet (+ penalty), its gradients (torch autograd in float64) and one Adam
    step with L2 weight decay added to the gradient.
Weights and inputs are random float32 values from a fixed seed. Run with Debian's python3
(python3-torch, python3-numpy):

    /usr/bin/python3 tests/golden/loid/make_golden.py

Output: expected.safetensors in this directory. For each case C in {paper, mf_text}:
  C.w.<name>        the model's parameters and buffers under the C++ state-dict names
  C.in.users, C.in.items (int64), C.in.user_text, C.in.user_mask, C.in.item_text, C.in.item_mask,
  C.in.ratings
  C.out.prediction, C.out.v_u, C.out.v_i, C.out.mse, C.out.triplet, C.out.loss (= mse + lambda
  triplet + penalty), and for mf_text C.out.penalty
  C.after.<name>    every parameter after one Adam step
and __metadata__ holding the sizes and hyperparameters as JSON.
"""
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}

USERS, ITEMS, D, E, HEADS, HIDDEN, K, B, FACTORS, TEXT_FACTORS = 5, 4, 12, 8, 2, 6, 3, 4, 3, 5
MARGIN, LAMBDA, LR, WEIGHT_DECAY = 1.0, 0.3, 0.01, 0.001
MF_REG, TEXT_FACTOR_REG = 0.2, 0.05  # the mf_text case's training penalty
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.array(tensors[name], order="C")  # keeps 0-d shapes (ascontiguousarray would not)
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_weights(rng, mf):
    w = {}
    r = lambda *shape, s=0.3: rng.normal(0.0, s, shape).astype(np.float32)
    w["user_embedding.weight"] = r(USERS + 1, E)
    w["item_embedding.weight"] = r(ITEMS + 1, E)
    w["user_embedding.weight"][USERS] = 0  # the unknown rows start at zero, as in the model
    w["item_embedding.weight"][ITEMS] = 0
    w["text_projection.weight"], w["text_projection.bias"] = r(E, D), r(E)
    for att in ("item_over_user", "user_over_item"):
        for p in "qkvo":
            w[f"{att}.{p}.weight"], w[f"{att}.{p}.bias"] = r(E, E), r(E, s=0.1)
    w["predictor.0.weight"], w["predictor.0.bias"] = r(HIDDEN, 2 * E), r(HIDDEN, s=0.1)
    w["predictor.3.weight"], w["predictor.3.bias"] = r(1, HIDDEN), r(1, s=0.1)
    w["mean"] = np.array(3.7, dtype=np.float32)
    if mf:
        w["user_bias.weight"], w["item_bias.weight"] = r(USERS + 1, 1), r(ITEMS + 1, 1)
        w["user_factors.weight"], w["item_factors.weight"] = r(USERS + 1, FACTORS), r(ITEMS + 1, FACTORS)
        w["user_text_factors.weight"] = r(FACTORS, TEXT_FACTORS)
        w["item_text_factors.weight"] = r(FACTORS, TEXT_FACTORS)
        w["text_mean"], w["text_basis"] = r(D), r(TEXT_FACTORS, D)  # buffers: any values will do
    return w


def make_inputs(rng):
    x = {}
    # An unknown user (id USERS) and an unknown item (id ITEMS, and a negative id) use the zero rows.
    x["users"] = np.array([0, 3, USERS, 1], dtype=np.int64)
    x["items"] = np.array([2, 0, 1, -1], dtype=np.int64)
    x["user_text"] = rng.normal(0.0, 1.0, (B, K, D)).astype(np.float32)
    x["item_text"] = rng.normal(0.0, 1.0, (B, K, D)).astype(np.float32)
    # Full, partial and empty contexts; masked slots hold garbage that must not matter.
    x["user_mask"] = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0]], dtype=np.float32)
    x["item_mask"] = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]], dtype=np.float32)
    x["ratings"] = np.array([5, 2, 4, 1], dtype=np.float32)
    return x


def linear(p, name, x, bias=True):
    y = x @ p[name + ".weight"].T
    return y + p[name + ".bias"] if bias else y


def attention(p, name, query, keys, mask):
    """query (B, E), keys (B, n, E), mask (B, n) -> (B, E)."""
    b, n, e = keys.shape
    d = e // HEADS
    q = linear(p, name + ".q", query).reshape(b, HEADS, d)
    k = linear(p, name + ".k", keys).reshape(b, n, HEADS, d)
    v = linear(p, name + ".v", keys).reshape(b, n, HEADS, d)
    out = []
    for row in range(b):
        heads = []
        valid = [j for j in range(n) if mask[row, j] > 0]
        for h in range(HEADS):
            ctx = torch.zeros(d, dtype=torch.float64)
            if valid:
                s = torch.stack([(q[row, h] * k[row, j, h]).sum() / d ** 0.5 for j in valid])
                wts = torch.exp(s - s.max())
                wts = wts / wts.sum()
                for wj, j in zip(wts, valid):
                    ctx = ctx + wj * v[row, j, h]
            heads.append(ctx)
        out.append(torch.cat(heads))
    return linear(p, name + ".o", torch.stack(out))


def whitened_mean(p, text, mask):
    """Mean of the unmasked vectors of each row, whitened; zero for a row with none."""
    rows = []
    for row in range(text.shape[0]):
        valid = [text[row, j] for j in range(text.shape[1]) if mask[row, j] > 0]
        if not valid:
            rows.append(torch.zeros(TEXT_FACTORS, dtype=torch.float64))
            continue
        m = torch.stack(valid).mean(0)
        rows.append(p["text_basis"] @ (m - p["text_mean"]))
    return torch.stack(rows)


def forward(p, x, mf):
    users = torch.where((x["users"] < 0) | (x["users"] >= USERS), torch.tensor(USERS), x["users"])
    items = torch.where((x["items"] < 0) | (x["items"] >= ITEMS), torch.tensor(ITEMS), x["items"])
    p_u = p["user_embedding.weight"][users]
    p_i = p["item_embedding.weight"][items]
    ut = linear(p, "text_projection", x["user_text"])
    it = linear(p, "text_projection", x["item_text"])
    v_i = attention(p, "item_over_user", p_i, ut, x["user_mask"])
    v_u = attention(p, "user_over_item", p_u, it, x["item_mask"])
    h = torch.relu(linear(p, "predictor.0", torch.cat([v_u, v_i], 1)))
    pred = linear(p, "predictor.3", h)[:, 0] + p["mean"]
    if mf:
        pred = pred + p["user_bias.weight"][users, 0] + p["item_bias.weight"][items, 0]
        z_u = whitened_mean(p, x["user_text"], x["user_mask"])
        z_i = whitened_mean(p, x["item_text"], x["item_mask"])
        f_u = p["user_factors.weight"][users] + z_u @ p["user_text_factors.weight"].T
        f_i = p["item_factors.weight"][items] + z_i @ p["item_text_factors.weight"].T
        pred = pred + (f_u * f_i).sum(1)
    return pred, v_u, v_i, p_u, p_i


def penalty(p, x):
    """L2 on the rows' biases and ID factors (mean over rows) and on the text-factor maps."""
    users = torch.where((x["users"] < 0) | (x["users"] >= USERS), torch.tensor(USERS), x["users"])
    items = torch.where((x["items"] < 0) | (x["items"] >= ITEMS), torch.tensor(ITEMS), x["items"])
    rows = (p["user_bias.weight"][users, 0] ** 2 + p["item_bias.weight"][items, 0] ** 2
            + (p["user_factors.weight"][users] ** 2).sum(1)
            + (p["item_factors.weight"][items] ** 2).sum(1))
    maps = (p["user_text_factors.weight"] ** 2).sum() + (p["item_text_factors.weight"] ** 2).sum()
    return MF_REG * rows.mean() + TEXT_FACTOR_REG * maps


def triplet(v_u, v_i, p_u, p_i):
    total = torch.zeros((), dtype=torch.float64)
    b = v_u.shape[0]
    for row in range(b):
        neg = (row - 1) % b  # the row one place earlier, cyclically
        for anchor, pos in ((v_i, p_u), (v_u, p_i)):
            dp = ((anchor[row] - pos[row]) ** 2).sum()
            dn = ((anchor[row] - pos[neg]) ** 2).sum()
            total = total + torch.clamp(dp - dn + MARGIN, min=0.0)
    return total / b


def case(name, mf, rng, out):
    w = make_weights(rng, mf)
    x = make_inputs(rng)
    buffers = ("mean", "text_mean", "text_basis")
    p = {k: torch.tensor(v.astype(np.float64), requires_grad=(k not in buffers)) for k, v in w.items()}
    xt = {k: torch.tensor(v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in x.items()}
    pred, v_u, v_i, p_u, p_i = forward(p, xt, mf)
    mse = ((pred - xt["ratings"]) ** 2).mean()
    trip = triplet(v_u, v_i, p_u, p_i)
    loss = mse + LAMBDA * trip
    if mf:
        pen = penalty(p, xt)
        out[f"{name}.out.penalty"] = pen.detach().numpy().astype(np.float32)
        loss = loss + pen
    loss.backward()
    for k, v in w.items():
        out[f"{name}.w.{k}"] = v
    for k, v in x.items():
        out[f"{name}.in.{k}"] = v
    f32 = lambda t: t.detach().numpy().astype(np.float32)
    out[f"{name}.out.prediction"] = f32(pred)
    out[f"{name}.out.v_u"], out[f"{name}.out.v_i"] = f32(v_u), f32(v_i)
    out[f"{name}.out.mse"], out[f"{name}.out.triplet"] = f32(mse), f32(trip)
    out[f"{name}.out.loss"] = f32(loss)
    # One Adam step from zero moments (step 1), L2 weight decay added to the gradient.
    for k, t in p.items():
        if k in buffers:
            continue
        g = t.grad + WEIGHT_DECAY * t.detach()
        m = (1 - BETA1) * g
        v = (1 - BETA2) * g * g
        m_hat, v_hat = m / (1 - BETA1), v / (1 - BETA2)
        out[f"{name}.after.{k}"] = f32(t.detach() - LR * m_hat / (v_hat.sqrt() + EPS))


def main():
    rng = np.random.default_rng(20261205)
    out = {}
    case("paper", False, rng, out)
    case("mf_text", True, rng, out)
    meta = {"sizes": json.dumps({"users": USERS, "items": ITEMS, "text_width": D, "embed_size": E,
                                  "heads": HEADS, "hidden": HIDDEN, "k": K, "batch": B,
                                  "mf_factors": FACTORS, "text_factors": TEXT_FACTORS}),
            "training": json.dumps({"margin": MARGIN, "lambda": LAMBDA, "learning_rate": LR,
                                     "weight_decay": WEIGHT_DECAY, "mf_regularization": MF_REG,
                                     "text_factor_regularization": TEXT_FACTOR_REG})}
    write_safetensors(os.path.join(HERE, "expected.safetensors"), out, meta)


if __name__ == "__main__":
    main()
