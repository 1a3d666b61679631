"""Training throughput: train.py against a bare PyTorch loop over the same model, in one run.

    .venv/bin/python bench/train_bench.py                 # CPU default + seed tiny, bf16 and fp32 (~2 min idle)
    .venv/bin/python bench/train_bench.py --compile       # also bf16 + torch.compile (adds ~30 s per model)
    .venv/bin/python bench/train_bench.py --dtypes=bf16 --steps=20

For each shape it prints tokens/s and MFU (model FLOPs utilisation) against the peak matmul speed
measured at the start of the same run (2048 x 2048, fp32 and bf16). FLOPs per token are
6 * params + 12 * n_layers * dim * context (PaLM's formula: forward + backward, attention included).
The bare loop is the least a trainer can do: random tokens, forward, backward, AdamW (fused), no data
loading, no clipping, no logging. train.py runs as a subprocess on a synthetic train.bin.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from robolm.model import ModelArgs, Transformer, count_params  # noqa: E402

SHAPES = {  # name: (model args, batch size); the CPU default's and the seed tiny tier's shapes
    "cpu-default 5.0M": (dict(dim=256, n_layers=4, n_heads=4, n_kv_heads=2, hidden_dim=704, max_seq_len=256), 16),
    "seed tiny 9.4M": (dict(dim=384, n_layers=4, n_heads=6, n_kv_heads=2, hidden_dim=1024, max_seq_len=512), 8),
}
VOCAB = 8192


def peak_matmul(dtype, n=2048, reps=8):
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 1e9
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best                                          # FLOP/s


def flops_per_token(args, n_params):
    return 6 * n_params + 12 * args.n_layers * args.dim * args.max_seq_len


def bare_loop(args, batch, steps, warmup, dtype, compile_):
    torch.manual_seed(0)
    model = Transformer(args)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    step_model = torch.compile(model) if compile_ else model
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else nullcontext()
    T = args.max_seq_len

    def step():
        x = torch.randint(0, VOCAB, (batch, T + 1))                   # (B, T+1)
        with ctx:
            _, loss = step_model(x[:, :-1], x[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch * T / (time.perf_counter() - t)


def train_py(args, batch, steps, warmup, dtype, compile_, tmp):
    data = Path(tmp) / "data"
    data.mkdir(exist_ok=True)
    if not (data / "train.bin").exists():
        rng = np.random.default_rng(0)
        rng.integers(0, VOCAB, size=2_000_000, dtype=np.uint16).tofile(data / "train.bin")
        rng.integers(0, VOCAB, size=100_000, dtype=np.uint16).tofile(data / "val.bin")
    cmd = [sys.executable, str(ROOT / "train.py"), f"--data_dir={data}", f"--out_dir={Path(tmp) / 'out'}",
           f"--vocab_size={VOCAB}", f"--batch_size={batch}", f"--max_steps={warmup + steps}", f"--dtype={dtype}",
           f"--compile={compile_}", "--log_interval=1", "--eval_interval=100000", "--eval_steps=1",
           "--warmup_steps=2"] + [f"--{k}={v}" for k, v in args.items()]
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    rows = [json.loads(line) for line in open(Path(tmp) / "out" / "metrics.jsonl")]
    tok_s = [r["tok_per_s"] for r in rows if "tok_per_s" in r and r["step"] >= warmup]
    return len(tok_s) / sum(1.0 / t for t in tok_s)                   # harmonic mean = total tokens / total time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=6, help="timed steps per measurement")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (compile happens here)")
    ap.add_argument("--dtypes", default="bf16,fp32", help="comma-separated: bf16 (autocast), fp32")
    ap.add_argument("--compile", action="store_true", help="also measure with torch.compile")
    ap.add_argument("--only", default="", help="run only shapes whose name contains this")
    ap.add_argument("--repeat", type=int, default=1, help="alternate bare/train.py this often, keep the best")
    opt = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    peak = {"fp32": peak_matmul(torch.float32), "bf16": peak_matmul(torch.bfloat16)}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; "
          f"peak matmul 2048^3: "
          f"fp32 {peak['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.0f} GFLOP/s")
    print(f"{'model':<18}{'mode':<16}{'bare loop tok/s':>16}{'train.py tok/s':>16}{'ratio':>7}"
          f"{'MFU bare':>10}{'MFU train':>10}")
    dtypes = opt.dtypes.split(",")
    modes = [(d, False) for d in dtypes] + ([(dtypes[0], True)] if opt.compile else [])
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kw, batch) in SHAPES.items():
            if opt.only not in name:
                continue
            args = ModelArgs(vocab_size=VOCAB, **kw)
            with torch.device("meta"):
                fpt = flops_per_token(args, count_params(Transformer(args), show=False))
            for dtype, comp in modes:
                bare = ours = 0.0
                for _ in range(opt.repeat):                           # alternate, so load changes hit both
                    bare = max(bare, bare_loop(args, batch, opt.steps, opt.warmup + 4 * comp, dtype, comp))
                    ours = max(ours, train_py(kw, batch, opt.steps, opt.warmup + 4 * comp, dtype, comp, tmp))
                mode = dtype + (" compile" if comp else " eager")
                print(f"{name:<18}{mode:<16}{bare:>16,.0f}{ours:>16,.0f}{ours / bare:>7.2f}"
                      f"{bare * fpt / peak[dtype]:>10.1%}{ours * fpt / peak[dtype]:>10.1%}", flush=True)
    print("ratio = train.py / bare loop (best of --repeat each). On a shared machine compare within one run;\n"
          "when the load average exceeds the cores, even that is noisy: check `uptime` and repeat.")


if __name__ == "__main__":
    main()
