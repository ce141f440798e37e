#!/usr/bin/env python3
"""One command for all the numbers: W1-W6 and M1 for backprop and, when `torch` imports, for
PyTorch, one after the other, with the machine's limits (an FMA loop's GFLOP/s and a triad's
GB/s, from `benches/limits.rs`) measured in the same run. Writes one table between the
`compare:begin` / `compare:end` markers of BENCHMARKS.md (and prints it).

    python3 benches/compare.py            # a few minutes on 2 cores; never run by CI or the tests
    python3 benches/compare.py --no-write # print only

Backprop's figures are criterion medians read from target/criterion/*/new/estimates.json
(shortened runs: 1 s warm-up, 3 s measurement); PyTorch's are the medians its scripts in
benches/pytorch/ print. Workloads: ../shared/WORKLOADS.md.
"""
import argparse, datetime, json, os, platform, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRIT = os.path.join(ROOT, "target", "criterion")
SHORT = ["--warm-up-time", "1", "--measurement-time", "3"]


def run(cmd, **kw):
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, **kw)


def bench(name, filt, env=None):
    run(["cargo", "bench", "--bench", name, "--", filt] + SHORT, env=env)


def median_ns(bench_id):
    with open(os.path.join(CRIT, bench_id, "new", "estimates.json")) as f:
        return json.load(f)["median"]["point_estimate"]


def bench_exe(name):
    out = run(["cargo", "bench", "--bench", name, "--no-run", "--message-format=json"]).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and msg["target"]["name"] == name:
            return msg["executable"]
    raise RuntimeError(f"no executable for bench {name}")


def peak_rss_mib(cmd):
    err = run(["/usr/bin/time", "-v"] + cmd).stderr
    kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    return kib / 1024


def backprop():
    limits = json.loads(run(["cargo", "bench", "--bench", "limits"]).stdout.strip().splitlines()[-1])
    # matrixmultiply alone (the fallback off AVX2+FMA), our own kernels alone, then the default
    # choice (ours; with AVX-512, matrixmultiply's kernel for all but small products), each
    # overwriting criterion's estimates of the same benchmarks.
    r = {"limits": limits}
    for gemm, key in (("matrixmultiply", "mm"), ("own", "own")):
        bench("tensor_ops", "^gemm/", env={**os.environ, "BACKPROP_GEMM": gemm})
        for n in (256, 512, 1024):
            r[f"W1 n={n} {key}"] = 2 * n**3 / median_ns(f"gemm/{n}")
            r[f"W1 n={n}, B transposed {key}"] = 2 * n**3 / median_ns(f"gemm/b_transposed/{n}")
    bench("tensor_ops", "^gemm/")
    # The FMA loop again, right after our GEMM: the machine's speed drifts over minutes, and the
    # higher of the two readings is the peak W1 is read against (the stricter fraction).
    after = json.loads(run(["cargo", "bench", "--bench", "limits"]).stdout.strip().splitlines()[-1])
    limits["fma_gflops_before"], limits["fma_gflops_after"] = limits["fma_gflops"], after["fma_gflops"]
    limits["fma_gflops"] = max(limits["fma_gflops"], after["fma_gflops"])
    bench("autograd", "w2_tiny_graph|w6_tiny_mlp/1000_(sgd|optim_sgd|nn_linear|compiled)")
    bench("optim", "w4a|w4b")
    bench("training", "w3|w5")
    for n in (256, 512, 1024):
        r[f"W1 n={n}"] = 2 * n**3 / median_ns(f"gemm/{n}")
        r[f"W1 n={n}, B transposed"] = 2 * n**3 / median_ns(f"gemm/b_transposed/{n}")
    r["W2"] = median_ns("w2_tiny_graph_fwd_bwd") / 1e3
    r["W3"] = median_ns("w3_mlp_adam_step") / 1e6
    r["W4a"] = median_ns("optim/w4a_adam_10m") / 1e6
    r["W4b"] = median_ns("optim/w4b_adam_100x100k") / 1e6
    r["W5"] = median_ns("w5_cnn_momentum_step") / 1e6
    r["W6"] = 1000 / (median_ns("w6_tiny_mlp/1000_sgd_steps") / 1e9)
    r["W6 nn"] = 1000 / (median_ns("w6_tiny_mlp/1000_nn_linear_optim_sgd_steps") / 1e9)
    # The compiled step (autograd::compile): traced once, replayed.
    r["W2 compiled"] = median_ns("w2_tiny_graph_fwd_bwd_compiled") / 1e3
    r["W3 compiled"] = median_ns("w3_mlp_adam_step_compiled") / 1e6
    r["W5 compiled"] = median_ns("w5_cnn_momentum_step_compiled") / 1e6
    r["W6 compiled"] = 1000 / (median_ns("w6_tiny_mlp/1000_compiled_sgd_steps") / 1e9)
    # With Optim<Sgd>: stepping after backward, against with_optimizer (the update in the replay).
    r["W6 optim"] = 1000 / (median_ns("w6_tiny_mlp/1000_optim_sgd_steps") / 1e9)
    r["W6 optim compiled"] = 1000 / (median_ns("w6_tiny_mlp/1000_compiled_optim_sgd_steps") / 1e9)
    r["M1"] = peak_rss_mib([bench_exe("training"), "--bench", "w3", "--profile-time", "5"])
    return r


def torch_side():
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    py = [sys.executable]
    r = {"version": run(py + ["-c", "import torch; print(torch.__version__)"]).stdout.strip()}
    out = run(py + ["benches/pytorch/tensor_ops.py"]).stdout
    for n in (256, 512, 1024):
        r[f"W1 n={n}"] = float(re.search(rf"gemm n={n} threads=2: median ([\d.]+)", out).group(1))
        r[f"W1 n={n}, B transposed"] = float(re.search(rf"gemm n={n} threads=2 b transposed: median ([\d.]+)", out).group(1))
    out = run(py + ["benches/pytorch/autograd.py"]).stdout
    r["W2"] = float(re.search(r"W2: ([\d.]+) us", out).group(1))
    r["W6"] = float(re.search(r"W6: median ([\d.]+) steps/s", out).group(1))
    out = run(py + ["benches/pytorch/optim.py"]).stdout
    # The fastest of torch.optim.Adam's default, foreach and fused implementations.
    r["W4a"] = min(map(float, re.findall(r"Adam w4a .*?:\s+([\d.]+) ms", out)))
    r["W4b"] = min(map(float, re.findall(r"Adam w4b .*?:\s+([\d.]+) ms", out)))
    training = py + ["benches/pytorch/training.py"]
    out = run(training).stdout
    r["W3"] = float(re.search(r"w3_mlp_adam_step: median ([\d.]+)", out).group(1))
    r["W5"] = float(re.search(r"w5_cnn_momentum_step: median ([\d.]+)", out).group(1))
    r["M1"] = peak_rss_mib(training)
    return r


def machine():
    lscpu = run(["lscpu"]).stdout
    field = lambda k: (re.search(rf"^{k}:\s*(.+)$", lscpu, re.M) or [None, "?"])[1].strip()
    flags = field("Flags").split()
    wanted = [f for f in ("avx512f", "avx512bw", "avx512vl", "avx512_bf16", "avx2", "fma") if f in flags]
    rustc = run(["rustc", "--version"]).stdout.strip()
    cpus, tpc, l2 = field(r"CPU\(s\)"), field(r"Thread\(s\) per core"), field("L2 cache")
    return (f"{field('Model name')} (family {field('CPU family')}, model {field('Model')}), {cpus} CPUs, "
            f"{tpc} thread(s) per core, L2 {l2}; flags {' '.join(wanted)}; "
            f"{rustc}; {platform.system()} {platform.release()}")


def table(b, t, when):
    lim = b["limits"]
    peak, triad = lim["fma_gflops"], lim["triad_gbs"]
    rows = []

    def row(name, unit, ours, theirs, lower_is_better, limit=None):
        # Times and memory: below 1 is better; throughputs: above 1 is better.
        ratio = "—" if theirs is None else f"{ours / theirs:.2f} ({'lower' if lower_is_better else 'higher'} is better)"
        rows.append(f"| {name} | {ours:.4g} {unit} | {'—' if theirs is None else f'{theirs:.4g} {unit}'} | {ratio} | {limit or '—'} |")

    T = (lambda k: t.get(k)) if t else (lambda k: None)
    for n in (256, 512, 1024):
        for suffix in ("", ", B transposed"):
            k = f"W1 n={n}{suffix}"
            row(f"W1 sgemm n={n}{suffix}, {lim['threads']} threads", "GFLOP/s", b[k], T(k), False, f"{b[k] / peak:.0%} of FMA peak")
    for key, name in (("own", "backprop's own kernels (BACKPROP_GEMM=own)"), ("mm", "matrixmultiply (BACKPROP_GEMM=matrixmultiply)")):
        for n in (256, 512, 1024):
            for suffix in ("", ", B transposed"):
                k = f"W1 n={n}{suffix}"
                v = b[f"{k} {key}"]
                row(f"W1 n={n}{suffix} on {name}", "GFLOP/s", v, T(k), False, f"{v / peak:.0%} of FMA peak")
    row("W2 tiny graph forward + backward", "µs", b["W2"], T("W2"), True)
    row("W3 MLP 784-512-256-10 Adam step, batch 128", "ms", b["W3"], T("W3"), True)
    gib = lambda ms: 28 * 10_000_000 / (ms / 1e3) / 1e9
    # PyTorch: the fastest of its default, foreach and fused Adam.
    row("W4a Adam step, one 10M tensor", "ms", b["W4a"], T("W4a"), True, f"{gib(b['W4a']) / triad:.0%} of triad (28 B/param)")
    row("W4b Adam step, 100 x 100k tensors", "ms", b["W4b"], T("W4b"), True, f"{gib(b['W4b']) / triad:.0%} of triad (28 B/param)")
    row("W5 CNN momentum-SGD step, batch 64", "ms", b["W5"], T("W5"), True)
    row("W6 2-16-16-1 MLP, SGD (hand-written loop)", "steps/s", b["W6"], T("W6"), False)
    row("W6 with nn::Linear + Optim<Sgd>", "steps/s", b["W6 nn"], T("W6"), False)
    row("M1 peak RSS of the W3 process", "MiB", b["M1"], T("M1"), True)
    rows.append("")
    rows.append("Eager against compiled (`autograd::compile`, traced once, replayed), same run:")
    rows.append("")
    rows.append("| workload | backprop eager | backprop compiled | PyTorch | compiled / eager | compiled / PyTorch |")
    rows.append("|---|---|---|---|---|---|")
    for name, key, unit, lower in (
        ("W2 tiny graph forward + backward", "W2", "µs", True),
        ("W3 MLP Adam step, batch 128", "W3", "ms", True),
        ("W5 CNN momentum-SGD step, batch 64", "W5", "ms", True),
        ("W6 2-16-16-1 MLP, SGD (hand-written loop)", "W6", "steps/s", False),
        ("W6 with Optim<Sgd> (compiled: with_optimizer)", "W6 optim", "steps/s", False),
    ):
        eager, comp, theirs = b[key], b[key + " compiled"], T(key.split()[0])
        which = "lower" if lower else "higher"
        vs_torch = "—" if theirs is None else f"{comp / theirs:.2f}"
        rows.append(
            f"| {name} | {eager:.4g} {unit} | {comp:.4g} {unit} | {'—' if theirs is None else f'{theirs:.4g} {unit}'} "
            f"| {comp / eager:.2f} ({which} is better) | {vs_torch} |"
        )
    head = [
        f"Generated by `python3 benches/compare.py` on {when}. Machine: {machine()}. "
        + (f"PyTorch {t['version']} (2 threads)." if t else "PyTorch not importable: its column is empty."),
        "",
        f"Limits measured in the same run (`cargo bench --bench limits`): f32 FMA loop {lim['fma_gflops_1t']:.0f} GFLOP/s "
        f"on 1 thread, {peak:.0f} on {lim['threads']} (the higher of {lim['fma_gflops_before']:.0f} before the "
        f"GEMM benchmarks and {lim['fma_gflops_after']:.0f} right after ours; W1's fractions are of it); triad {triad:.1f} GB/s (STREAM's count, 12 bytes per element; "
        "with write-allocate the hardware moves 16, so an in-place optimizer step, which reads everything it "
        "writes, can pass 100% of it).",
        "",
        "| workload | backprop | PyTorch | ratio (backprop / PyTorch) | fraction of the limit |",
        "|---|---|---|---|---|",
    ]
    return "\n".join(head + rows) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="print the table without editing BENCHMARKS.md")
    args = ap.parse_args()
    when = datetime.date.today().isoformat()
    b = backprop()
    t = torch_side()
    text = table(b, t, when)
    print(text)
    if args.no_write:
        return
    path = os.path.join(ROOT, "BENCHMARKS.md")
    with open(path) as f:
        doc = f.read()
    begin, end = "<!-- compare:begin -->", "<!-- compare:end -->"
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin) + len(begin)] + "\n" + text + doc[doc.index(end):]
    else:
        doc = doc.rstrip("\n") + f"\n\n## All workloads in one run\n\n{begin}\n{text}{end}\n"
    with open(path, "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
