"""robolm_run against llama.cpp on the same GGUF files, in one run.

For each tier (the CPU default and the seed's tiny and small, random weights) and each
type (F32, F16, Q8_0, Q4_0) it writes one GGUF file, then measures both engines at 1 and
2 threads: prompt processing of 128 tokens, generation of 128 tokens (tokens/s), peak RSS,
file size, the ratio RoboLM / llama.cpp, and how close each is to the compute ceiling
(model FLOPs per token against an fp32 matmul peak measured in the same run). It also times
generation at position 0 and at position 500 to show that the KV cache keeps the cost per
token flat.

    python bench/runtime_bench.py                      # everything (minutes)
    python bench/runtime_bench.py --tiers tiny --types q4_0 --threads 1 --quick

llama.cpp comes from PyPI (`llama-cpp-python`, benchmark-only; installed here if missing,
which compiles llama.cpp for a few minutes). Each engine runs in its own child process;
peak RSS is that process's (llama.cpp's includes the Python interpreter: the row
"python baseline" gives that share).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# name: (dim, n_layers, n_heads, n_kv_heads, hidden_dim, vocab)
TIERS = {
    "cpu-default": (256, 4, 4, 2, 704, 8192),   # train.py's defaults, 5.05M parameters
    "tiny": (384, 4, 6, 2, 1024, 8192),         # the seed's tiny tier, 9.44M
    "small": (512, 6, 8, 2, 1408, 8192),        # the seed's small tier, ~21M
}
TYPES = ["f32", "f16", "q8_0", "q4_0"]
CTX = 1024            # room for 500 + 128 positions
N_PROMPT = 128
N_GEN = 128
FAR = 500             # the "context filled" position


# ============================================================================ files
class SyntheticTokenizer:
    """Just enough of a tokenizer for a valid GGUF: 256 bytes + distinct merged tokens, no
    special tokens (so no stop token ends a timed generation early)."""

    def __init__(self, vocab_size):
        self.special_tokens = {}
        self.vocab = [(bytes([b]), 1) for b in range(256)]
        self.pairs = []
        for k in range(vocab_size - 256):                  # distinct two-byte tokens
            i, j = 32 + (k // 224) % 224, 32 + k % 224
            self.pairs.append((i, j))
            self.vocab.append((bytes([i, j]), 1))
        self.vocab_size = len(self.vocab)
        self.hash = "synthetic"

    def gguf_vocab(self):
        """export_gguf's tokenizer fields: tokens in GPT-2 bytes_to_unicode form, merges "a b"."""
        b2u = bytes_to_unicode()
        tokens = ["".join(b2u[x] for x in v) for v, _ in self.vocab]
        return {"model": "gpt2", "pre": "qwen35", "tokens": tokens, "token_type": [t for _, t in self.vocab],
                "merges": [tokens[i] + " " + tokens[j] for i, j in self.pairs]}


def bytes_to_unicode():
    """GPT-2's byte -> printable character table."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def make_files(tiers, types, out_dir):
    import torch

    import export_gguf
    from robolm.model import ModelArgs, Transformer
    files = {}
    for tier in tiers:
        dim, L, H, KV, F, V = TIERS[tier]
        tok = SyntheticTokenizer(V)
        torch.manual_seed(0)
        args = ModelArgs(dim=dim, n_layers=L, n_heads=H, n_kv_heads=KV, hidden_dim=F, vocab_size=V, max_seq_len=CTX)
        model = Transformer(args)
        state = model.state_dict()
        from dataclasses import asdict
        for t in types:
            path = out_dir / f"{tier}-{t}.gguf"
            export_gguf.build_writer(state, asdict(args), tok, t, name=f"bench-{tier}").write(str(path))
            files[(tier, t)] = path
        n_params = sum(p.numel() for n, p in model.named_parameters() if n != "output.weight")
        files[(tier, "params")] = n_params
    return files


def flops_per_token(tier, pos):
    """Multiply-adds x 2 of one token at position pos: every matrix once (the tied head too)
    plus attention over pos+1 cached positions."""
    dim, L, H, KV, F, V = TIERS[tier]
    hd = dim // H
    mat = L * (dim * H * hd + 2 * dim * KV * hd + H * hd * dim + 3 * dim * F) + V * dim
    att = L * H * (pos + 1) * hd * 2
    return 2 * (mat + att)


# ============================================================================ peers
def ensure_llama_cpp():
    try:
        import llama_cpp  # noqa: F401
        return True
    except ImportError:
        pass
    print("installing llama-cpp-python (benchmark-only; compiles llama.cpp, a few minutes) ...", flush=True)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "llama-cpp-python"])
    if r.returncode != 0:
        print("could not install llama-cpp-python; llama.cpp columns will be empty")
        return False
    return True


# Runs in a child process: llama.cpp through llama-cpp-python's low-level API (no sampling
# or Python work per token beyond one decode call), prints one JSON line.
LLAMA_CHILD = r"""
import json, sys, time, ctypes
import llama_cpp as L
path, threads, n_prompt, n_gen, far = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
repeats = int(sys.argv[6]) if len(sys.argv) > 6 else 3
L.llama_backend_init()
mp = L.llama_model_default_params()
model = L.llama_model_load_from_file(path.encode(), mp)
cp = L.llama_context_default_params()
cp.n_ctx = 1024; cp.n_batch = 512; cp.n_ubatch = 512
cp.n_threads = threads; cp.n_threads_batch = threads
ctx = L.llama_init_from_model(model, cp)
vocab = L.llama_model_get_vocab(model)
n_vocab = L.llama_vocab_n_tokens(vocab)
def clear():
    mem = L.llama_get_memory(ctx)
    L.llama_memory_clear(mem, True)
def decode(tokens):
    arr = (L.llama_token * len(tokens))(*tokens)
    rc = L.llama_decode(ctx, L.llama_batch_get_one(arr, len(tokens)))
    if rc != 0: raise SystemExit(f"llama_decode failed: {rc}")
prompt = [(i * 37 + 11) % n_vocab for i in range(n_prompt)]
out = {"pp": 0.0, "tg": 0.0, "tg_far": 0.0, "tg_near": 0.0}
decode(prompt[:8]); clear()                          # warm up
filler = [(i * 13 + 1) % n_vocab for i in range(far)]
tok = 7
for rep in range(repeats):                           # best of N: the machine is shared
    clear()
    t = time.perf_counter(); decode(prompt); out["pp"] = max(out["pp"], n_prompt / (time.perf_counter() - t))
    t = time.perf_counter()
    for i in range(n_gen):
        decode([tok]); tok = (tok * 31 + 5) % n_vocab
    out["tg"] = max(out["tg"], n_gen / (time.perf_counter() - t))
    clear()
    decode(filler[:512] if far > 512 else filler)
    if far > 512: decode(filler[512:])
    t = time.perf_counter()
    for i in range(32):
        decode([tok]); tok = (tok * 31 + 5) % n_vocab
    out["tg_far"] = max(out["tg_far"], 32 / (time.perf_counter() - t))
    clear()
    decode(prompt[:8])
    t = time.perf_counter()
    for i in range(32):
        decode([tok]); tok = (tok * 31 + 5) % n_vocab
    out["tg_near"] = max(out["tg_near"], 32 / (time.perf_counter() - t))
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"): out["rss"] = int(line.split()[1]) / 1024   # peak RSS of this process (MB)
print(json.dumps(out))
"""


def run_child(cmd, env=None, timeout=600):
    """Run cmd; return (stdout, stderr, peak RSS in MB of that child alone)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env)
        t0 = time.time()
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() - t0 > timeout:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        return p.returncode, fo.read().decode(errors="replace"), fe.read().decode(errors="replace"), ru.ru_maxrss / 1024


def bench_llama(path, threads, repeats=3):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    rc, out, err, rss = run_child([sys.executable, "-c", LLAMA_CHILD, str(path), str(threads),
                                   str(N_PROMPT), str(N_GEN), str(FAR), str(repeats)], env=env)
    if rc != 0:
        return {"error": (err.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.strip().splitlines()[-1])


def robolm_run_path():
    exe = Path(sys.executable).parent / "robolm_run"
    return str(exe) if exe.exists() else None


def parse_stats(err):
    import re
    m = re.search(r"prompt: (\d+) tokens, ([\d.]+) tok/s \| generation: (\d+) tokens, ([\d.]+) tok/s.*peak RSS ([\d.]+) MB", err)
    if not m:
        return None
    return int(m.group(1)), float(m.group(2)), int(m.group(3)), float(m.group(4)), float(m.group(5))


def bench_robolm(exe, path, threads, repeats=3):
    """Best of `repeats` runs. robolm_run is started by a small shell (not exec'd straight
    from this big Python process), so its own peak-RSS report is its own."""
    def run(n_prompt, n_gen):
        ids = ",".join(str((i * 37 + 11) % 8000) for i in range(n_prompt))
        best = None
        for _ in range(repeats):
            rc, out, err, _ = run_child(["sh", "-c", '"$@"; exit $?', "sh", exe, str(path), "--tokens", ids,
                                         "-n", str(n_gen), "--ids", "--stats", "--threads", str(threads)])
            s = parse_stats(err) if rc == 0 else None
            if s is None:
                return None, (err.strip().splitlines() or ["?"])[-1]
            best = s if best is None else (s[0], max(s[1], best[1]), s[2], max(s[3], best[3]), min(s[4], best[4]))
        return best, None
    s, e = run(N_PROMPT, N_GEN)
    if s is None:
        return {"error": e}
    r = {"pp": s[1], "tg": s[3], "rss": s[4], "n_gen": s[2]}
    near, _ = run(8, 32)
    far, _ = run(FAR, 32)
    r["tg_near"] = near[3] if near else float("nan")
    r["tg_far"] = far[3] if far else float("nan")
    return r


def measure_peak_gflops():
    """fp32 matmul peak at 1 thread (NumPy/BLAS, 1024x1024), as the compute ceiling."""
    code = ("import numpy as np, time; a=np.random.rand(1024,1024).astype(np.float32); b=a.copy(); a@b; "
            "t=time.perf_counter(); [a@b for _ in range(10)]; print(2*1024**3*10/(time.perf_counter()-t)/1e9)")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rc, out, err, _ = run_child([sys.executable, "-c", code], env=env)
    return float(out.strip()) if rc == 0 else float("nan")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiers", default="cpu-default,tiny,small")
    p.add_argument("--types", default=",".join(TYPES))
    p.add_argument("--threads", default="1,2")
    p.add_argument("--no-llama", action="store_true", help="skip llama.cpp")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--exe", default=None, help="the robolm_run to measure (default: the one pip installed)")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs, for both engines")
    a = p.parse_args(argv)
    tiers = [t for t in a.tiers.split(",") if t]
    types = [t for t in a.types.split(",") if t]
    threads = [int(t) for t in a.threads.split(",") if t]
    exe = a.exe or robolm_run_path()
    if exe is None:
        print("robolm_run is not built: pip install -e . first")
        return 1
    have_llama = not a.no_llama and ensure_llama_cpp()
    peak = measure_peak_gflops()
    py_rss = float(run_child([sys.executable, "-c", "import llama_cpp\nfor l in open('/proc/self/status'):\n"
                              " if l.startswith('VmHWM:'): print(int(l.split()[1]) / 1024)"])[1] or "nan") if have_llama else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (the machine is shared: compare "
          f"engines within a run); fp32 matmul peak (1 thread, NumPy) {peak:.1f} GFLOP/s; "
          f"python baseline RSS (import llama_cpp) {py_rss:.1f} MB")
    with tempfile.TemporaryDirectory() as d:
        files = make_files(tiers, types, Path(d))
        rows = []
        print("| tier | type | size MB | thr | engine | pp128 tok/s | tg128 tok/s | tg @0 | tg @500 | "
              "peak RSS MB | fp32 peak GFLOP/s now | % of it (tg) | RoboLM/llama tg | RoboLM/llama pp |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for tier in tiers:
            for t in types:
                path = files[(tier, t)]
                size = path.stat().st_size / 1e6
                for th in threads:
                    peak = measure_peak_gflops()          # again for every row: the machine is shared
                    r = bench_robolm(exe, path, th, a.repeats)
                    l = bench_llama(path, th, a.repeats) if have_llama else {"error": "not run"}
                    for name, res in (("robolm_run", r), ("llama.cpp", l)):
                        if "error" in res:
                            print(f"| {tier} | {t} | {size:.1f} | {th} | {name} | error: {res['error'][:60]} ||||||||")
                            continue
                        fl = flops_per_token(tier, N_PROMPT + N_GEN // 2)
                        ceil_pct = res["tg"] * fl / (peak * th * 1e9) * 100
                        ratio_tg = ratio_pp = ""
                        if name == "robolm_run" and "error" not in l:
                            ratio_tg = f"{r['tg'] / l['tg']:.2f}x"
                            ratio_pp = f"{r['pp'] / l['pp']:.2f}x"
                        print(f"| {tier} | {t} | {size:.1f} | {th} | {name} | {res['pp']:.0f} | {res['tg']:.0f} | "
                              f"{res['tg_near']:.0f} | {res['tg_far']:.0f} | {res['rss']:.1f} | {peak:.0f} | {ceil_pct:.1f}% | "
                              f"{ratio_tg} | {ratio_pp} |", flush=True)
                    rows.append({"tier": tier, "type": t, "size_mb": size, "threads": th, "robolm": r, "llama": l,
                                 "peak_gflops": peak})
    if a.json:
        Path(a.json).write_text(json.dumps({"peak_gflops": peak, "rows": rows}, indent=1))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    exe_kb = Path(exe).stat().st_size / 1024
    print(f"robolm_run binary: {exe_kb:.0f} KB (target < 300 KB)")
    print("targets (issue 7): robolm_run >= 1.5x llama.cpp generation at 1 thread on tiny, prompt no slower, "
          "peak RSS <= file size + 16 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
