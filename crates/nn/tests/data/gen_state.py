"""A module state written by PyTorch, for crates/nn/tests/state.rs.

Run from the repository root:  python3 crates/nn/tests/data/gen_state.py
Writes crates/nn/tests/data/torch_state.safetensors: `safetensors.torch.save_file` of the
state_dict of Sequential(Linear(3, 4), ReLU(), Linear(4, 2), BatchNorm1d(2)) in float32, with
weights from fixed formulas and the batch norm's running statistics after one training batch.
"""

import math
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file


def grid(shape, a, b):
    n = math.prod(shape)
    return torch.tensor([math.sin(a * i + b) * 1.5 for i in range(n)], dtype=torch.float32).reshape(shape)


def main():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        model[0].weight.copy_(grid((4, 3), 0.3, 0.1))
        model[0].bias.copy_(grid((4,), 0.5, 0.2))
        model[2].weight.copy_(grid((2, 4), 0.7, 0.3))
        model[2].bias.copy_(grid((2,), 0.9, 0.4))
    model(grid((5, 3), 0.11, 0.6))  # one training batch: running statistics move
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_state.safetensors")
    save_file(model.state_dict(), path)
    print(f"wrote {path}: {list(model.state_dict())}")


if __name__ == "__main__":
    main()
