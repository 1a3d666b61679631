"""Find the largest batch size that fits and the one with the fastest tokens/s for a train.py config.

    .venv/bin/python scripts/find_batch_size.py configs/cpu_default.py
    .venv/bin/python scripts/find_batch_size.py configs/tiny.py --max_batch=64 --mem_fraction=0.5

Doubles the batch (1, 2, 4, ...) and times full training steps (forward, backward, AdamW) on random
tokens with the config's model, dtype and device. A batch "fits" if it runs without an out-of-memory
error and, on CPU, keeps the process's peak memory under --mem_fraction of the machine's RAM (CPUs
do not raise OOM; the kernel kills the process instead, so we stop before that). Prints a table and
the two answers; set batch_size (and grad_accum for the tokens per step you want) from them.
"""
import argparse
import os
import resource
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402  (the same Config and dtype choice as training)
from robolm.model import ModelArgs, Transformer  # noqa: E402


def total_ram_bytes():
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux reports KiB


def try_batch(model, opt, batch, cfg, device, autocast, steps):
    """Seconds per step for `batch` sequences, or None if it does not fit."""
    T, V = cfg.max_seq_len, model.args.vocab_size
    try:
        for i in range(steps + 1):                                    # the first step warms up
            if i == 1:
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t = time.perf_counter()
            x = torch.randint(0, V, (batch, T + 1), device=device)    # (B, T+1)
            with autocast:
                _, loss = model(x[:, :-1], x[:, 1:])
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return (time.perf_counter() - t) / steps
    except torch.OutOfMemoryError:
        return None
    except RuntimeError as e:                                         # MPS and older CUDA messages
        if "out of memory" in str(e).lower():
            return None
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config", nargs="*", help="train.py config files and --key=value overrides")
    ap.add_argument("--max_batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per batch size")
    ap.add_argument("--mem_fraction", type=float, default=0.6, help="CPU: stop above this share of RAM")
    opt_args, rest = ap.parse_known_args()
    cfg, _ = train.parse_args(opt_args.config + rest)
    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.vocab_size == 0:
        cfg.vocab_size = 8192                                         # no data needed: random tokens
    args = ModelArgs(**{k: getattr(cfg, k) for k in train.MODEL_KEYS})
    dtype = train.pick_dtype(device) if cfg.dtype == "auto" else cfg.dtype
    autocast = torch.autocast(device.split(":")[0], dtype=torch.bfloat16) if dtype == "bf16" else nullcontext()
    model = Transformer(args).to(device)
    step_model = torch.compile(model) if cfg.compile else model
    step_model.args = args
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    limit = opt_args.mem_fraction * total_ram_bytes()
    print(f"{device}, {dtype}, compile {cfg.compile}, context {cfg.max_seq_len}; CPU memory limit "
          f"{limit / 2**30:.1f} GiB")
    print(f"{'batch':>6}{'s/step':>10}{'tokens/s':>12}{'peak memory':>14}")
    results, batch = {}, 1
    while batch <= opt_args.max_batch:
        sec = try_batch(step_model, opt, batch, cfg, device, autocast, opt_args.steps)
        mem = torch.cuda.max_memory_allocated() if device.startswith("cuda") else peak_rss_bytes()
        if sec is None:
            print(f"{batch:>6}  out of memory")
            break
        results[batch] = batch * cfg.max_seq_len / sec
        print(f"{batch:>6}{sec:>10.3f}{results[batch]:>12,.0f}{mem / 2**30:>11.2f} GiB", flush=True)
        if not device.startswith("cuda") and mem > limit:
            print(f"peak memory passed {opt_args.mem_fraction:.0%} of RAM; stopping")
            break
        batch *= 2
    if not results:
        raise SystemExit("find_batch_size: not even batch 1 fits")
    fastest = max(results, key=results.get)
    print(f"largest batch that fits: {max(results)}; fastest: batch {fastest} at {results[fastest]:,.0f} tokens/s")


if __name__ == "__main__":
    main()
