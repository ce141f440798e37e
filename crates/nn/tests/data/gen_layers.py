"""Reference values for crates/nn/tests/layers.rs, made with PyTorch (f64).

Run from the repository root:  python3 crates/nn/tests/data/gen_layers.py
Each layer gets fixed weights and inputs (sin formulas shared with the test), and we record the
output and the gradients of sum(output * r) for the input and every parameter (in the order the
test lists them), plus buffers after the forward pass where the layer has them.
"""

import math
import os

import torch
import torch.nn as nn

torch.set_default_dtype(torch.float64)


def grid(shape, a, b):
    n = math.prod(shape)
    return torch.tensor([math.sin(a * i + b) * 1.5 for i in range(n)]).reshape(shape)


def fmt(t):
    return " ".join(repr(float(v)) for v in t.detach().reshape(-1))


def record(out, name, layer, x, params, buffers=()):
    x = x.clone().requires_grad_(x.is_floating_point())
    y = layer(x)
    r = grid(y.shape, 0.9, 0.3)
    (y * r).sum().backward()
    out.append(f"case {name}")
    out.append(f"value {fmt(y)}")
    if x.is_floating_point():
        out.append(f"grad {fmt(x.grad)}")
    for p in params:
        out.append(f"grad {fmt(p.grad)}")
    for b in buffers:
        out.append(f"buffer {fmt(b)}")


def set_params(layer, *values):
    with torch.no_grad():
        for p, v in zip(layer.parameters(), values):
            p.copy_(v)


def main():
    out = [f"# made by gen_layers.py with torch {torch.__version__}"]
    conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), groups=2)
    set_params(conv, grid((6, 2, 3, 2), 0.31, 0.2), grid((6,), 0.7, 0.1))
    record(out, "conv2d", conv, grid((2, 4, 5, 5), 0.13, 0.4), [conv.weight, conv.bias])
    conv1 = nn.Conv1d(3, 4, 3, stride=2, padding=1)
    set_params(conv1, grid((4, 3, 3), 0.41, 0.3), grid((4,), 0.5, 0.6))
    record(out, "conv1d", conv1, grid((2, 3, 7), 0.23, 0.1), [conv1.weight, conv1.bias])
    convt = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1)
    set_params(convt, grid((2, 3, 3, 3), 0.37, 0.5), grid((3,), 0.9, 0.2))
    record(out, "conv_transpose2d", convt, grid((1, 2, 3, 4), 0.29, 0.7), [convt.weight, convt.bias])
    record(out, "max_pool2d", nn.MaxPool2d(2), grid((1, 2, 4, 6), 0.53, 0.2), [])
    record(out, "avg_pool2d", nn.AvgPool2d(3, stride=2, padding=1), grid((1, 2, 5, 5), 0.47, 0.3), [])
    record(out, "adaptive_avg_pool2d_even", nn.AdaptiveAvgPool2d((2, 3)), grid((1, 2, 4, 6), 0.43, 0.1), [])
    record(out, "adaptive_avg_pool2d_uneven", nn.AdaptiveAvgPool2d((3, 2)), grid((1, 2, 5, 5), 0.61, 0.9), [])
    emb = nn.Embedding(5, 3)
    set_params(emb, grid((5, 3), 0.33, 0.8))
    record(out, "embedding", emb, torch.tensor([[1, 4, 4], [0, 2, 1]]), [emb.weight])
    ln = nn.LayerNorm([3, 4])
    set_params(ln, grid((3, 4), 0.21, 1.0), grid((3, 4), 0.19, 0.3))
    record(out, "layer_norm", ln, grid((2, 3, 4), 0.71, 0.2), [ln.weight, ln.bias])
    gn = nn.GroupNorm(2, 4)
    set_params(gn, grid((4,), 0.61, 1.1), grid((4,), 0.17, 0.4))
    record(out, "group_norm", gn, grid((2, 4, 3, 2), 0.39, 0.5), [gn.weight, gn.bias])
    bn = nn.BatchNorm2d(3)
    set_params(bn, grid((3,), 0.59, 1.2), grid((3,), 0.27, 0.3))
    record(out, "batch_norm2d_train", bn, grid((2, 3, 2, 3), 0.83, 0.1), [bn.weight, bn.bias], [bn.running_mean, bn.running_var])
    bn.eval()
    bn.weight.grad = None
    bn.bias.grad = None
    record(out, "batch_norm2d_eval", bn, grid((2, 3, 2, 2), 0.57, 0.6), [bn.weight, bn.bias])
    bn1 = nn.BatchNorm1d(4)
    set_params(bn1, grid((4,), 0.49, 0.2), grid((4,), 0.77, 0.9))
    record(out, "batch_norm1d_train", bn1, grid((5, 4), 0.91, 0.4), [bn1.weight, bn1.bias], [bn1.running_mean, bn1.running_var])
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}: {len(out)} lines")


if __name__ == "__main__":
    main()
