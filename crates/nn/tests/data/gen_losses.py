"""Reference values for crates/nn/tests/parity.rs, made with PyTorch (f64): losses, Linear, LSTM, GRU,
MultiheadAttention.

Run from the repository root:  python3 crates/nn/tests/data/gen_losses.py
For each loss and reduction: the value, and the gradient with respect to the input of
`sum(loss * r)` (r = 1 for reduced losses, a fixed pattern for reduction='none'). Also a Linear
layer with fixed weights: output, and the gradients of sum(output * r) for x, weight and bias.
"""

import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def grid(shape, a, b):
    n = math.prod(shape)
    return torch.tensor([math.sin(a * i + b) * 1.5 for i in range(n)]).reshape(shape)


def fmt(t):
    t = t.detach().reshape(-1)
    return " ".join(repr(float(v)) for v in t) if t.numel() else "-"


def emit(out, name, value, grads):
    out.append(f"case {name}")
    out.append(f"value {' '.join(map(str, value.shape)) or '-'} : {fmt(value)}")
    for g in grads:
        out.append(f"grad {fmt(g)}")


def main():
    out = [f"# made by gen_losses.py with torch {torch.__version__}"]
    x = grid((4, 3), 0.7, 0.1)
    t = grid((4, 3), 0.3, 1.2)
    probs = torch.sigmoid(grid((4, 3), 0.5, 0.4))
    t01 = torch.sigmoid(grid((4, 3), 1.1, 0.2))
    cls = torch.tensor([2, 0, 1, 2])
    cls_ignored = torch.tensor([2, -100, 1, 0])
    cw = torch.tensor([0.5, 2.0, 1.25])
    q = torch.softmax(grid((4, 3), 0.8, 0.6), -1)
    pw = torch.tensor([3.0, 0.5, 1.5])
    q0 = q.clone()
    q0[0, 1] = 0.0  # 0 ln 0 = 0
    sign = torch.sign(grid((4, 3), 1.3, 0.4))
    pair_labels = torch.tensor([1.0, -1.0, 1.0, -1.0])
    ew = grid((4, 1), 0.6, 0.2).abs()
    for reduction in ["none", "mean", "sum"]:
        for name, fn, inp, arg in [
            ("mse", lambda a, b: F.mse_loss(a, b, reduction=reduction), x, t),
            ("l1", lambda a, b: F.l1_loss(a, b, reduction=reduction), x, t),
            ("huber", lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=0.8), x, t),
            ("smooth_l1", lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.6), x, t),
            ("bce_logits", lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), x, t01),
            ("bce", lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), probs, t01),
            ("cross_entropy", lambda a, b: F.cross_entropy(a, b, reduction=reduction), x, cls),
            ("nll", lambda a, b: F.nll_loss(F.log_softmax(a, -1), b, reduction=reduction), x, cls),
            # cross_entropy's options (cross_entropy_with): class weights, ignore_index,
            # label smoothing, and class-probability targets.
            ("ce_weight", lambda a, b: F.cross_entropy(a, b, weight=cw, reduction=reduction), x, cls),
            ("ce_ignore", lambda a, b: F.cross_entropy(a, b, ignore_index=2, reduction=reduction), x, cls),
            ("ce_smooth", lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2, reduction=reduction), x, cls),
            ("ce_all", lambda a, b: F.cross_entropy(
                a, b, weight=cw, ignore_index=-100, label_smoothing=0.3, reduction=reduction), x, cls_ignored),
            ("ce_probs", lambda a, b: F.cross_entropy(a, b, reduction=reduction), x, q),
            ("ce_probs_all", lambda a, b: F.cross_entropy(
                a, b, weight=cw, label_smoothing=0.25, reduction=reduction), x, q),
            ("bce_logits_pos_weight", lambda a, b: F.binary_cross_entropy_with_logits(
                a, b, pos_weight=pw, reduction=reduction), x, t01),
            ("bce_logits_both_weights", lambda a, b: F.binary_cross_entropy_with_logits(
                a, b, weight=ew, pos_weight=pw, reduction=reduction), x, t01),
            ("kl_div", lambda a, b: F.kl_div(a, b, reduction=reduction), x, q0),
            ("kl_div_log_target", lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=True), x, q.log()),
            ("margin_ranking", lambda a, b: F.margin_ranking_loss(
                a, b, sign, margin=0.3, reduction=reduction), x, t),
            ("cosine_embedding", lambda a, b: F.cosine_embedding_loss(
                a, b, pair_labels, margin=0.2, reduction=reduction), x, t),
        ]:
            a = inp.clone().requires_grad_(True)
            v = fn(a, arg)
            r = grid(v.shape, 0.9, 0.3) if v.dim() > 0 else torch.tensor(1.0)
            (v * r).sum().backward()
            emit(out, f"{name} {reduction}", v, [a.grad])
    w = grid((5, 3), 0.4, 0.5).requires_grad_(True)
    b = grid((5,), 0.2, 0.9).requires_grad_(True)
    xl = x.clone().requires_grad_(True)
    y = F.linear(xl, w, b)
    (y * grid(y.shape, 0.9, 0.3)).sum().backward()
    emit(out, "linear", y, [xl.grad, w.grad, b.grad])
    # Single-layer LSTM and GRU with fixed weights: outputs at every step, and the gradients
    # of sum(output * r) for the input and the four parameters.
    T, N, I, H = 3, 2, 4, 3
    for name, cls, gates in [("lstm", torch.nn.LSTM, 4), ("gru", torch.nn.GRU, 3)]:
        m = cls(I, H)
        with torch.no_grad():
            m.weight_ih_l0.copy_(grid((gates * H, I), 0.37, 0.1) * 0.5)
            m.weight_hh_l0.copy_(grid((gates * H, H), 0.29, 0.7) * 0.5)
            m.bias_ih_l0.copy_(grid((gates * H,), 0.53, 0.2) * 0.5)
            m.bias_hh_l0.copy_(grid((gates * H,), 0.61, 0.9) * 0.5)
        xs = grid((T, N, I), 0.45, 0.3).requires_grad_(True)
        y, _ = m(xs)
        (y * grid(y.shape, 0.9, 0.3)).sum().backward()
        emit(out, name, y, [xs.grad, m.weight_ih_l0.grad, m.weight_hh_l0.grad, m.bias_ih_l0.grad, m.bias_hh_l0.grad])
    # MultiheadAttention (E = 4, 2 heads) with fixed weights and an additive mask: the output,
    # the head-averaged weights, and the gradients of sum(out * r) + sum(weights * r2) for query,
    # key, value and the four parameters.
    mha = torch.nn.MultiheadAttention(4, 2)
    with torch.no_grad():
        mha.in_proj_weight.copy_(grid((12, 4), 0.41, 0.3) * 0.5)
        mha.in_proj_bias.copy_(grid((12,), 0.23, 0.5) * 0.3)
        mha.out_proj.weight.copy_(grid((4, 4), 0.67, 0.1) * 0.5)
        mha.out_proj.bias.copy_(grid((4,), 0.31, 0.8) * 0.3)
    q = grid((3, 2, 4), 0.35, 0.2).requires_grad_(True)
    k = grid((5, 2, 4), 0.55, 0.4).requires_grad_(True)
    v = grid((5, 2, 4), 0.75, 0.6).requires_grad_(True)
    mask = grid((3, 5), 1.7, 0.3)
    mask[1, 2] = float("-inf")
    o, wts = mha(q, k, v, attn_mask=mask)
    ((o * grid(o.shape, 0.9, 0.3)).sum() + (wts * grid(wts.shape, 0.8, 0.1)).sum()).backward()
    emit(out, "mha", o, [q.grad, k.grad, v.grad, mha.in_proj_weight.grad, mha.in_proj_bias.grad,
                         mha.out_proj.weight.grad, mha.out_proj.bias.grad])
    emit(out, "mha_weights", wts, [])
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}: {len(out)} lines")


if __name__ == "__main__":
    main()
