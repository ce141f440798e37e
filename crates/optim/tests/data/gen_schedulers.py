"""Reference learning-rate sequences for crates/optim/tests/schedulers.rs, made with PyTorch.

Run from the repository root:  python3 crates/optim/tests/data/gen_schedulers.py
Writes crates/optim/tests/data/schedulers.txt: for each scheduler, the rates of an SGD
optimizer's two param groups (lr 0.1 and 0.02) right after construction (t = 0) and after each
of 100 `scheduler.step()` calls, and each group's momentum (which CyclicLR and OneCycleLR cycle
by default). ReduceLROnPlateau is stepped with the metric sequence below.
"""

import math
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

STEPS = 100


def metric(t):
    # Improves for 30 epochs, then plateaus (with a small bump), then improves a little again.
    if t <= 30:
        return 1.0 / (1 + t)
    if t <= 70:
        return 1.0 / 31 + 1e-6 * math.sin(t)
    return 1.0 / 31 - 1e-3 * (t - 70)


def make(name, opt):
    if name == "lambda":
        return S.LambdaLR(opt, lambda t: 0.95 ** t)
    if name == "multiplicative":
        return S.MultiplicativeLR(opt, lambda t: 0.97)
    if name == "step":
        return S.StepLR(opt, step_size=7, gamma=0.5)
    if name == "multistep":
        return S.MultiStepLR(opt, milestones=[10, 25, 25, 60], gamma=0.3)
    if name == "constant":
        return S.ConstantLR(opt, factor=0.25, total_iters=12)
    if name == "linear":
        return S.LinearLR(opt, start_factor=0.2, end_factor=0.9, total_iters=30)
    if name == "exponential":
        return S.ExponentialLR(opt, gamma=0.96)
    if name == "polynomial":
        return S.PolynomialLR(opt, total_iters=40, power=2.0)
    if name == "cosine":
        return S.CosineAnnealingLR(opt, T_max=30, eta_min=0.001)
    if name == "warm_restarts":
        return S.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2, eta_min=0.0005)
    if name == "warm_restarts_1":
        return S.CosineAnnealingWarmRestarts(opt, T_0=15)
    if name == "cyclic_triangular":
        return S.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=8)
    if name == "cyclic_no_momentum":
        return S.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=8, cycle_momentum=False)
    if name == "cyclic_triangular2":
        return S.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=5, step_size_down=9, mode="triangular2", base_momentum=0.7, max_momentum=0.95)
    if name == "cyclic_exp_range":
        return S.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=6, mode="exp_range", gamma=0.98)
    if name == "one_cycle":
        return S.OneCycleLR(opt, max_lr=0.3, total_steps=STEPS)
    if name == "one_cycle_linear_three_phase":
        return S.OneCycleLR(opt, max_lr=0.3, total_steps=STEPS, pct_start=0.25, anneal_strategy="linear", three_phase=True, base_momentum=0.8, max_momentum=0.9)
    if name == "sequential":
        a = S.LinearLR(opt, start_factor=0.1, total_iters=4)
        b = S.ExponentialLR(opt, gamma=0.9)
        return S.SequentialLR(opt, [a, b], milestones=[5])
    if name == "sequential_cosine":
        a = S.ConstantLR(opt, factor=0.5, total_iters=10)
        b = S.CosineAnnealingLR(opt, T_max=20)
        c = S.StepLR(opt, step_size=10, gamma=0.5)
        return S.SequentialLR(opt, [a, b, c], milestones=[10, 50])
    if name == "chained":
        return S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=8), S.ExponentialLR(opt, gamma=0.95)])
    if name == "plateau":
        return S.ReduceLROnPlateau(opt, factor=0.5, patience=5, cooldown=3, min_lr=[0.004, 0.0])
    if name == "plateau_max_abs":
        return S.ReduceLROnPlateau(opt, mode="max", factor=0.3, patience=2, threshold=0.01, threshold_mode="abs")
    raise ValueError(name)


NAMES = ["lambda", "multiplicative", "step", "multistep", "constant", "linear", "exponential", "polynomial",
         "cosine", "warm_restarts", "warm_restarts_1", "cyclic_triangular", "cyclic_no_momentum", "cyclic_triangular2", "cyclic_exp_range",
         "one_cycle", "one_cycle_linear_three_phase", "sequential", "sequential_cosine", "chained", "plateau",
         "plateau_max_abs"]


def main():
    warnings.simplefilter("ignore")
    out = [f"# made by gen_schedulers.py with torch {torch.__version__}"]
    for name in NAMES:
        w = torch.zeros(1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([{"params": [w], "lr": 0.1}, {"params": [b], "lr": 0.02}], momentum=0.9)
        sched = make(name, opt)
        out.append(f"sched {name}")
        out.append("lr 0 " + " ".join(repr(g["lr"]) for g in opt.param_groups))
        out.append("momentum 0 " + " ".join(repr(float(g["momentum"])) for g in opt.param_groups))
        for t in range(1, STEPS + 1):
            opt.step()
            if name.startswith("plateau"):
                m = metric(t)
                sched.step(-m if "max" in name else m)
            else:
                sched.step()
            out.append(f"lr {t} " + " ".join(repr(float(g["lr"])) for g in opt.param_groups))
            out.append(f"momentum {t} " + " ".join(repr(float(g["momentum"])) for g in opt.param_groups))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schedulers.txt")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}: {len(out)} lines")


if __name__ == "__main__":
    main()
