"""Reference trajectories for crates/optim/tests/parity.rs, made with PyTorch itself.

Run from the repository root:  python3 crates/optim/tests/data/gen_parity.py
Writes crates/optim/tests/data/parity.txt. Every optimizer runs 50 steps with torch.optim
(CPU, foreach=False) on two problems, in f64 and f32, recording every parameter after every
step:
  - rosenbrock: f(x) = (1 - x0)^2 + 100 (x1 - x0^2)^2 from x = (-1.5, 2);
  - mlp: a 3-4-2 tanh MLP with MSE loss on 5 fixed samples (values below, fixed formulas).
For the f32 MLP cases it also records torch's gradient before each step ("grad" lines), so the
test can check the optimizer alone: in f32 the two frameworks' gradients of the MLP differ by a
few ulp (tanh and matmul rounding), which adaptive optimizers carry along the trajectory.

Rounding notes found with these trajectories (torch 2.15, CPU with AVX-512):
  - `a.add_(b, alpha=c)` is one fused multiply-add, even on 2-element tensors (SGD and its
    momentum match bit for bit only with FMA);
  - torch's float32 `sqrt` is not correctly rounded: `(x.sqrt() != x.double().sqrt().float())`
    holds for 15-20% of uniform random x in any range tried, so Adam, RMSprop and Adagrad in f32
    can differ from a correctly rounded implementation by an ulp per step.
"""

import math
import os

import torch

STEPS = 50
LBFGS_STEPS = 5


def mlp_init():
    w1 = [[0.3 * math.sin(1.0 + i * 4 + j) for j in range(4)] for i in range(3)]
    b1 = [0.1 * math.cos(2.0 + j) for j in range(4)]
    w2 = [[0.4 * math.cos(0.5 + i * 2 + j) for j in range(2)] for i in range(4)]
    b2 = [0.05 * (j + 1) for j in range(2)]
    x = [[math.sin(0.7 * (i * 3 + j)) for j in range(3)] for i in range(5)]
    y = [[math.cos(0.3 * (i * 2 + j)) for j in range(2)] for i in range(5)]
    return {"w1": w1, "b1": b1, "w2": w2, "b2": b2}, {"x": x, "y": y}


PROBLEMS = {
    "rosenbrock": ({"x": [-1.5, 2.0]}, {}),
    "mlp": mlp_init(),
}


def loss_of(problem, params, data, dtype):
    if problem == "rosenbrock":
        x = params[0]
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    w1, b1, w2, b2 = params
    x = torch.tensor(data["x"], dtype=dtype)
    y = torch.tensor(data["y"], dtype=dtype)
    h = torch.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    return ((out - y) ** 2).mean()


# name, torch class, kwargs (torch names), problems
CASES = [
    ("sgd", torch.optim.SGD, dict(lr=1e-3), ["rosenbrock", "mlp"]),
    ("sgd_momentum", torch.optim.SGD, dict(lr=1e-3, momentum=0.9), ["rosenbrock", "mlp"]),
    ("sgd_dampening_wd", torch.optim.SGD, dict(lr=1e-3, momentum=0.8, dampening=0.3, weight_decay=0.05), ["rosenbrock", "mlp"]),
    ("sgd_nesterov", torch.optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True), ["rosenbrock", "mlp"]),
    ("sgd_maximize", torch.optim.SGD, dict(lr=1e-2, momentum=0.5, maximize=True), ["mlp"]),
    ("adam", torch.optim.Adam, dict(lr=1e-2), ["rosenbrock", "mlp"]),
    ("adam_amsgrad_l2", torch.optim.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True), ["rosenbrock", "mlp"]),
    ("adam_maximize", torch.optim.Adam, dict(lr=1e-3, maximize=True), ["mlp"]),
    ("adamw", torch.optim.AdamW, dict(lr=1e-2), ["rosenbrock", "mlp"]),
    ("adamw_amsgrad", torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.3, amsgrad=True), ["rosenbrock", "mlp"]),
    ("rmsprop", torch.optim.RMSprop, dict(lr=1e-3), ["rosenbrock", "mlp"]),
    ("rmsprop_centered_momentum", torch.optim.RMSprop, dict(lr=1e-3, alpha=0.9, centered=True, momentum=0.7, weight_decay=0.01), ["rosenbrock", "mlp"]),
    ("rmsprop_centered", torch.optim.RMSprop, dict(lr=1e-3, centered=True, eps=1e-6), ["rosenbrock", "mlp"]),
    ("rmsprop_momentum_maximize", torch.optim.RMSprop, dict(lr=1e-3, momentum=0.5, maximize=True), ["mlp"]),
    ("adagrad", torch.optim.Adagrad, dict(lr=1e-1), ["rosenbrock", "mlp"]),
    ("adagrad_decay_init_wd", torch.optim.Adagrad, dict(lr=1e-1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.01, eps=1e-8), ["rosenbrock", "mlp"]),
    ("adadelta", torch.optim.Adadelta, dict(), ["rosenbrock", "mlp"]),
    ("adadelta_wd_maximize", torch.optim.Adadelta, dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.05, maximize=True), ["mlp"]),
    ("adamax", torch.optim.Adamax, dict(lr=1e-2), ["rosenbrock", "mlp"]),
    ("adamax_wd", torch.optim.Adamax, dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1), ["rosenbrock", "mlp"]),
    ("nadam", torch.optim.NAdam, dict(lr=1e-2), ["rosenbrock", "mlp"]),
    ("nadam_decoupled", torch.optim.NAdam, dict(lr=1e-2, weight_decay=0.1, momentum_decay=0.01, decoupled_weight_decay=True), ["rosenbrock", "mlp"]),
    ("nadam_l2", torch.optim.NAdam, dict(lr=1e-2, weight_decay=0.1), ["mlp"]),
    ("radam", torch.optim.RAdam, dict(lr=1e-2), ["rosenbrock", "mlp"]),
    ("radam_decoupled", torch.optim.RAdam, dict(lr=1e-2, betas=(0.9, 0.9), weight_decay=0.1, decoupled_weight_decay=True), ["rosenbrock", "mlp"]),
    ("radam_l2", torch.optim.RAdam, dict(lr=1e-2, betas=(0.8, 0.95), weight_decay=0.1), ["mlp"]),
]


def fmt(values):
    return " ".join(repr(float(v)) for v in values)


def main():
    out = [f"# made by gen_parity.py with torch {torch.__version__}"]
    for problem, (init, data) in PROBLEMS.items():
        for name, values in init.items():
            t = torch.tensor(values, dtype=torch.float64)
            out.append(f"init {problem} {name} {' '.join(map(str, t.shape))} {fmt(t.flatten().tolist())}")
        for name, values in data.items():
            t = torch.tensor(values, dtype=torch.float64)
            out.append(f"data {problem} {name} {' '.join(map(str, t.shape))} {fmt(t.flatten().tolist())}")
    for name, cls, kwargs, problems in CASES:
        for problem in problems:
            for dtype in (torch.float64, torch.float32):
                init, data = PROBLEMS[problem]
                params = [torch.tensor(v, dtype=dtype, requires_grad=True) for v in init.values()]
                opt = cls(params, foreach=False, **kwargs)
                options = " ".join(f"{k}={v[0]},{v[1]}" if isinstance(v, tuple) else f"{k}={v}" for k, v in kwargs.items())
                kind = cls.__name__
                out.append(f"case {name} {kind} {problem} {str(dtype)[6:]} {options}")
                for step in range(1, STEPS + 1):
                    opt.zero_grad()
                    loss_of(problem, params, data, dtype).backward()
                    if problem == "mlp" and dtype == torch.float32:
                        out.append(f"grad {step} {fmt(torch.cat([p.grad.flatten() for p in params]).tolist())}")
                    opt.step()
                    flat = torch.cat([p.detach().flatten() for p in params]).tolist()
                    out.append(f"step {step} {fmt(flat)}")
    # L-BFGS: each step runs up to max_iter iterations through a closure.
    for name, kwargs in [
        ("lbfgs", dict(lr=1, max_iter=20, history_size=10)),
        ("lbfgs_strong_wolfe", dict(lr=1, max_iter=20, history_size=10, line_search_fn="strong_wolfe")),
        ("lbfgs_small_lr_short", dict(lr=0.1, max_iter=5, history_size=3)),
    ]:
        for problem in ("rosenbrock", "mlp"):
            for dtype in (torch.float64, torch.float32):
                init, data = PROBLEMS[problem]
                params = [torch.tensor(v, dtype=dtype, requires_grad=True) for v in init.values()]
                opt = torch.optim.LBFGS(params, **kwargs)

                def closure():
                    opt.zero_grad()
                    loss = loss_of(problem, params, data, dtype)
                    loss.backward()
                    return loss

                options = " ".join(f"{k}={v}" for k, v in kwargs.items())
                out.append(f"case {name} LBFGS {problem} {str(dtype)[6:]} {options}")
                for step in range(1, LBFGS_STEPS + 1):
                    opt.step(closure)
                    flat = torch.cat([p.detach().flatten() for p in params]).tolist()
                    out.append(f"step {step} {fmt(flat)}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "parity.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}: {len(out)} lines")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
