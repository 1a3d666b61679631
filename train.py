"""Train RoboLM: pretraining on packed token streams, or instruction fine-tuning (SFT) from a checkpoint.

    python train.py configs/cpu_default.py --batch_size=16        # a Python config file (plain assignments)
    python train.py configs/models/robo-tiny-9m.yaml configs/training/pretrain-base.yaml
    python train.py configs/cpu_default.py --resume               # continue out_dir/ckpt.pt exactly
    python train.py configs/training/finetune-instruct.yaml --init_from=out/cpu_default/ckpt.pt
    torchrun --nproc_per_node=2 train.py configs/tiny.py          # DDP: gloo on CPU, nccl on GPU

Config files and --key=value overrides are applied in order onto one dataclass, Config, below.
Python config files are parsed (ast.literal_eval of `name = value` lines), never executed.
Weight decay: on the 2-D matmul weights (which include the tied embedding/output head, as in
nanoGPT); none on norms, biases and GPT-2's learned positions.
"""
import ast, difflib, json, math, os, sys, time  # noqa: E401  (one line: this file's budget is ~400 lines)
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from robolm.model import ModelArgs, Transformer, count_params, model_args_from_dict


@dataclass
class Config:
    # data and run
    data_dir: str = "data/processed"
    out_dir: str = "out/run"
    mode: str = "pretrain"          # pretrain: train.bin/val.bin; sft: sft_*.bin with loss masks
    init_from: str = "scratch"      # scratch, or a ckpt.pt whose weights start this run (SFT)
    resume: bool = False            # continue out_dir/ckpt.pt (weights, optimizer, step, RNG)
    # model (ModelArgs); vocab_size 0 = read it from data_dir/metadata.json
    arch: str = "llama"
    dim: int = 256
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int = 2
    hidden_dim: int = 704
    vocab_size: int = 0
    max_seq_len: int = 256          # the training context length
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    dropout: float = 0.0
    # optimisation
    batch_size: int = 16            # sequences per micro-step (per process)
    grad_accum: int = 1             # micro-steps per optimizer step
    length_buckets: int = 16        # sft: batches from batch_size * this examples of similar length; 0 = off
    max_steps: int = 2000
    max_minutes: float = 0.0        # > 0: fit max_steps to this budget (step 10, then every 25); hard stop too
    learning_rate: float = 1e-3
    min_lr: float = 1e-4            # the cosine schedule ends here
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0          # 0 = off
    # evaluation, logging, checkpoints
    eval_interval: int = 200
    eval_steps: int = 20            # val batches per evaluation (the same ones every time)
    ckpt_interval: int = 0          # 0 = checkpoint at every evaluation
    log_interval: int = 10
    # system
    device: str = "auto"            # auto picks cuda, then mps, then cpu
    dtype: str = "auto"             # auto: bf16 autocast where the hardware has bf16 math (see pick_dtype)
    compile: bool = False           # torch.compile: 15-35 s to start, ~15% faster bf16 steps on CPU
    threads: int = 0                # torch threads per process; 0 = cores / processes
    seed: int = 1337


CHOICES = {"mode": ("pretrain", "sft"), "arch": ("llama", "gpt2"),
           "device": ("auto", "cpu", "cuda", "mps"), "dtype": ("auto", "bf16", "fp32")}
MODEL_KEYS = [f.name for f in fields(ModelArgs)]
BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def die(msg):
    raise SystemExit(f"train.py: {msg}")


# ----------------------------------------------------------------------------- configuration

def convert(key, value, source):
    """Check one value against Config's type for `key`; strings from the command line are parsed."""
    types = {f.name: f.type for f in fields(Config)}
    if key not in types:
        close = difflib.get_close_matches(key, types, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        die(f"unknown config key {key!r} in {source}{hint}; valid keys: {', '.join(types)}")
    want = types[key]
    if isinstance(value, str) and want is not str:                 # --key=value text
        try:
            value = BOOLS[value.strip().lower()] if want is bool else want(value)
        except (KeyError, ValueError):
            die(f"config key {key!r} in {source} expects {want.__name__}, got {value!r}")
    if want is float and type(value) is int:
        value = float(value)
    if type(value) is not want:
        die(f"config key {key!r} in {source} expects {want.__name__}, got {value!r} ({type(value).__name__})")
    if key in CHOICES and value not in CHOICES[key]:
        die(f"config key {key!r} in {source} must be one of {', '.join(CHOICES[key])}; got {value!r}")
    return value


def read_config_file(path):
    """A .py file of `name = literal` lines, or a YAML mapping -> dict."""
    p = Path(path)
    if not p.is_file():
        die(f"config file {path} not found")
    if p.suffix == ".py":
        values = {}
        try:
            body = ast.parse(p.read_text(), filename=str(p)).body
        except SyntaxError as e:
            die(f"{path}:{e.lineno}: {e.msg}")
        for node in body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # a docstring
                continue
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)):
                die(f"{path}:{node.lineno}: only `name = value` lines are allowed in a config file")
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                die(f"{path}:{node.lineno}: the value must be a literal (number, string, True/False)")
        return values
    if p.suffix in (".yaml", ".yml"):
        import yaml
        try:
            values = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            die(f"{path}: not valid YAML ({str(e).splitlines()[0]})")
        return values if isinstance(values, dict) else die(f"{path}: expected a mapping of config keys")
    die(f"config file {path}: use a .py or .yaml file")


def parse_args(argv):
    values, overrides = {}, []
    for arg in argv:
        if arg.startswith("--"):
            key, eq, val = arg[2:].partition("=")
            values[key] = convert(key, val if eq else "true", f"--{key}")
            overrides.append(arg)
        else:
            for key, val in read_config_file(arg).items():
                values[key] = convert(key, val, arg)
    return Config(**values), overrides


# ----------------------------------------------------------------------------- data

class Data:
    """Memory-mapped token files. Batches depend only on (seed, step, micro-step, rank): resumable."""

    def __init__(self, cfg: Config):
        d = Path(cfg.data_dir)
        names = (["train.bin", "val.bin"] if cfg.mode == "pretrain" else
                 [f"sft_{s}{x}.bin" for s in ("train", "val") for x in ("", "_mask", "_offsets")])
        for n in (n for n in names if not (d / n).is_file()):
            die(f"{d / n} not found; run `python prepare.py` first to build the token files")
        self.mode, self.T, self.seed, self.buckets = cfg.mode, cfg.max_seq_len, cfg.seed, cfg.length_buckets
        self.splits = {}
        for split in ("train", "val"):
            if cfg.mode == "pretrain":
                self.splits[split] = (np.memmap(d / f"{split}.bin", dtype=np.uint16, mode="r"),)
                if len(self.splits[split][0]) <= self.T + 1:
                    die(f"{d / split}.bin has too few tokens for max_seq_len={self.T}")
            else:
                toks = np.memmap(d / f"sft_{split}.bin", dtype=np.uint16, mode="r")
                mask = np.memmap(d / f"sft_{split}_mask.bin", dtype=np.uint8, mode="r")
                starts = np.fromfile(d / f"sft_{split}_offsets.bin", dtype=np.int64)
                if len(mask) != len(toks) or len(starts) == 0:
                    die(f"sft_{split}: {len(toks)} tokens but {len(mask)} mask bytes, {len(starts)} offsets")
                ends = np.append(starts[1:], len(toks))
                keep = [i for i, (s, e) in enumerate(zip(starts, np.minimum(ends, starts + self.T + 1)))
                        if mask[s + 1:e].any()]                        # some loss inside the context window
                if not keep:
                    die(f"sft_{split}: no example has a masked-in token within max_seq_len={self.T}")
                self.splits[split] = (toks, mask, starts[keep], ends[keep])
        if cfg.mode == "sft":   # train examples sorted by length, for batches with little padding
            _, _, s, e = self.splits["train"]
            self.by_length = np.argsort(np.minimum(e - s, self.T + 1), kind="stable")

    def batch(self, split, batch_size, key):
        """x: (B, T) inputs, y: (B, T) next tokens (-100 = no loss)."""
        rng = np.random.default_rng([self.seed, int(split == "val"), *key])
        if self.mode == "pretrain":
            toks, T = self.splits[split][0], self.T
            ix = rng.integers(0, len(toks) - T - 1, size=batch_size)
            chunk = np.stack([toks[i:i + T + 1] for i in ix]).astype(np.int64)    # (B, T+1)
            return torch.from_numpy(chunk[:, :-1]), torch.from_numpy(chunk[:, 1:])  # (B, T), (B, T)
        toks, mask, starts, ends = self.splits[split]
        window = batch_size * self.buckets                                  # of similar lengths: padding 35% -> 1%
        if split == "train" and batch_size < window < len(starts):         # a random window, a random batch in it
            lo = int(rng.integers(0, len(starts) - window + 1))
            ex = self.by_length[lo + rng.choice(window, size=batch_size, replace=False)]
        else:
            ex = rng.integers(0, len(starts), size=batch_size)
        lens = np.minimum(ends[ex] - starts[ex], self.T + 1)               # (B,) examples cut to the context
        L = max(2, int(lens.max()))
        x = np.zeros((batch_size, L - 1), dtype=np.int64)                  # (B, L-1) padded with <pad>=0
        y = np.full((batch_size, L - 1), -100, dtype=np.int64)             # (B, L-1) -100 = ignored
        for b, (s, n) in enumerate(zip(starts[ex], lens)):
            t, m = toks[s:s + n].astype(np.int64), mask[s:s + n]
            x[b, :n - 1] = t[:-1]
            y[b, :n - 1] = np.where(m[1:] == 1, t[1:], -100)               # loss only on masked-in targets
        return torch.from_numpy(x), torch.from_numpy(y)


# ----------------------------------------------------------------------------- helpers

def lr_at(step, cfg):
    """Linear warmup, then cosine decay from learning_rate to min_lr at max_steps."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    r = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * r)) * (cfg.learning_rate - cfg.min_lr)


def pick_dtype(device):
    """bf16 autocast where the hardware has bf16 math: on a 2-core Zen 4 (AVX-512 BF16) training runs
    ~1.45x faster than fp32 (bench/train_bench.py measures both); CPUs without it emulate bf16, slower."""
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if device == "cpu" and cpuinfo.is_file() else ""
    return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "fp32"


def plot_metrics(metrics_path, png_path):
    """Train/val loss and the learning rate against the step, saved beside the checkpoint."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [json.loads(line) for line in open(metrics_path)]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, layout="tight")
    for ax, key, label, marker in ((ax1, "loss", "train", None), (ax1, "val_loss", "val", "o"), (ax2, "lr", "lr", None)):
        ax.plot(*zip(*[(r["step"], r[key]) for r in rows if key in r] or [(0, 0)]), label=label, marker=marker)
    ax1.set(ylabel="loss")
    ax1.legend()
    ax2.set(ylabel="learning rate", xlabel="step")
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------- training

def main(argv):
    cfg, overrides = parse_args(argv)
    rank, local_rank, world = (int(os.environ.get(k, d)) for k, d in
                               (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1")))
    ddp, master = world > 1, rank == 0
    log = print if master else (lambda *a, **k: None)
    device = cfg.device
    if device == "auto":
        device = ("cuda" if torch.cuda.is_available() else
                  "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu")
    if ddp:
        torch.distributed.init_process_group("nccl" if device == "cuda" else "gloo")
        device = f"cuda:{local_rank}" if device == "cuda" else device
    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    if device == "cpu":                                                # share the cores between processes
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // local_world))
    out_dir = Path(cfg.out_dir)
    ckpt_path, metrics_path = out_dir / "ckpt.pt", out_dir / "metrics.jsonl"
    meta_path = Path(cfg.data_dir) / "metadata.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}

    # the model: resumed, initialised from a checkpoint, or new
    ckpt, start_step = None, 0
    if cfg.resume or cfg.init_from != "scratch":
        src = ckpt_path if cfg.resume else Path(cfg.init_from)
        if not src.is_file():
            die(f"{src} not found" + ("; train without --resume first" if cfg.resume else ""))
        ckpt = torch.load(src, map_location="cpu", weights_only=True)
        args = model_args_from_dict(ckpt["model_args"])
        args.dropout = cfg.dropout
        for k in MODEL_KEYS:                                           # the checkpoint's shape wins
            setattr(cfg, k, getattr(args, k))
        if cfg.resume:                                                 # same schedule and dtype as before
            start_step = ckpt["step"]
            if not any(o.startswith("--max_steps") for o in overrides):
                cfg.max_steps = ckpt["config"]["max_steps"]
            if cfg.dtype == "auto":
                cfg.dtype = ckpt["config"]["dtype"]
    else:
        cfg.vocab_size = cfg.vocab_size or int(meta.get("vocab_size", 0))
        if not cfg.vocab_size:
            die(f"vocab_size is 0 and {meta_path} gives none; run `python prepare.py` or set --vocab_size")
        try:
            args = ModelArgs(**{k: getattr(cfg, k) for k in MODEL_KEYS})
        except ValueError as e:
            die(str(e))
    tok_hash = meta.get("tokenizer_hash", "")
    if ckpt and tok_hash and ckpt.get("tokenizer_hash") and ckpt["tokenizer_hash"] != tok_hash:
        die(f"the checkpoint's tokenizer ({ckpt['tokenizer_hash'][:15]}) is not the data's ({tok_hash[:15]}); "
            "prepare.py has run since: train the checkpoint again on this data")
    if meta.get("vocab_size") and int(meta["vocab_size"]) > args.vocab_size:
        die(f"the data's vocab_size {meta['vocab_size']} exceeds the model's {args.vocab_size}")
    if cfg.dtype == "auto":
        cfg.dtype = pick_dtype(device)
    data = Data(cfg)                                                   # after the context length is settled
    torch.manual_seed(cfg.seed + rank)
    model = Transformer(args)
    if ckpt:
        model.load_state_dict(ckpt["model"])
    model.to(device)
    raw_model = model                                                  # saved without compile/DDP wrappers
    log(f"device {device} x{world}, dtype {cfg.dtype}, compile {cfg.compile}, "
        f"threads {torch.get_num_threads()}, overrides: {' '.join(overrides) or 'none'}")
    count_params(raw_model, show=master)

    decay = [p for n, p in raw_model.named_parameters() if p.dim() >= 2 and not n.startswith("pos_embeddings")]
    no_decay = [p for n, p in raw_model.named_parameters() if p.dim() < 2 or n.startswith("pos_embeddings")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2),
                            fused=device.startswith("cuda") or device == "cpu")
    best_val = float("inf")
    if cfg.resume:                                                     # optimizer moments, RNG, best so far
        opt.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if ckpt["rng"].get("cuda") and device.startswith("cuda"):
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
        best_val = ckpt.get("best_val_loss", best_val)
    ckpt = None                                                        # free the loaded copy

    if cfg.compile:
        model = torch.compile(model)
    if ddp:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if "cuda" in device else None)
    dev_type = "cuda" if device.startswith("cuda") else device
    autocast = (torch.autocast(dev_type, dtype=torch.bfloat16) if cfg.dtype == "bf16" else nullcontext())

    def to_dev(x, y):                                                  # (B, T) each, onto the device
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    @torch.no_grad()
    def evaluate():
        model.eval()
        losses = torch.zeros(cfg.eval_steps, device=device)
        for i in range(cfg.eval_steps):
            x, y = to_dev(*data.batch("val", cfg.batch_size, (i, rank)))
            with autocast:
                losses[i] = model(x, y)[1]
        if ddp:
            torch.distributed.all_reduce(losses, op=torch.distributed.ReduceOp.AVG)
        model.train()
        return losses.mean().item()

    def checkpoint(step):                                              # tmp file + rename: a kill never
        tmp = Path(f"{ckpt_path}.tmp")                                 # leaves half a checkpoint behind
        torch.save({
            "model": raw_model.state_dict(), "model_args": asdict(args), "config": asdict(cfg),
            "step": step, "optimizer": opt.state_dict(), "best_val_loss": best_val,
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if dev_type == "cuda" else []},
            "tokenizer_hash": tok_hash, "tokenizer_path": str(meta.get("tokenizer_path", ""))}, tmp)
        os.replace(tmp, ckpt_path)
        plot_metrics(metrics_path, out_dir / "loss.png")

    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = open(metrics_path, "a" if cfg.resume else "w") if master else None  # a new run, a new log

    def agree(value, op="MAX"):                                      # DDP: every rank takes the same decision
        if ddp:
            t = torch.tensor(float(value), device=device)
            torch.distributed.all_reduce(t, op=getattr(torch.distributed.ReduceOp, op))
            value = type(value)(t.item())
        return value

    def record(**row):
        if master:
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()

    tokens_per_step = cfg.batch_size * cfg.max_seq_len * cfg.grad_accum * world   # SFT: at most this
    log(f"{tokens_per_step:,} tokens per step, steps {start_step}..{cfg.max_steps}, out {out_dir}")
    model.train()
    step, t_start, max_steps_cap = start_step, time.time(), cfg.max_steps
    tokens_since_log, train_time, time_since_log = 0, 0.0, 0.0       # tok/s counts training time only
    while True:
        last = step >= cfg.max_steps
        over_time = cfg.max_minutes > 0 and agree(time.time() - t_start > cfg.max_minutes * 60)
        if over_time:
            log(f"time budget of {cfg.max_minutes} min reached at step {step}")
        if (step % cfg.eval_interval == 0 or last or over_time) and not (cfg.resume and step == start_step):
            val = evaluate()
            best_val = min(best_val, val)
            record(step=step, val_loss=val, time=round(time.time() - t_start, 2))
            log(f"step {step}: val loss {val:.4f} (best {best_val:.4f})")
        interval = cfg.ckpt_interval or cfg.eval_interval
        if master and step > start_step and (step % interval == 0 or last or over_time):
            checkpoint(step)
        if last or over_time:
            break

        t0 = time.time()
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        loss_sum = 0.0
        for micro in range(cfg.grad_accum):
            x, y = to_dev(*data.batch("train", cfg.batch_size, (step, micro, rank)))
            if ddp:
                model.require_backward_grad_sync = micro == cfg.grad_accum - 1   # all-reduce once per step
            with autocast:
                _, loss = model(x, y)
            (loss / cfg.grad_accum).backward()
            loss_sum += loss.item() / cfg.grad_accum
            tokens_since_log += x.numel() * world                      # positions, padding included
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        train_time += time.time() - t0
        if step == start_step + 1:
            t_fit = t0                                                 # time steps 1..10 (step 0 may compile)
        if cfg.max_minutes > 0 and not cfg.resume and step >= start_step + 10 and (
                step == start_step + 10 or step % 25 == 0):            # fit the schedule to the budget
            per_step = (time.time() - t_fit) / (step - start_step) * (1.1 if step == start_step + 10 else 1.0)
            left_s = cfg.max_minutes * 60 - (time.time() - t_start)  # (+10% at first: evals, checkpoints)
            fit = agree(min(max_steps_cap, step + 1 + int(left_s / per_step)), "MIN")
            if abs(fit - cfg.max_steps) > 0.02 * cfg.max_steps:
                log(f"max_minutes={cfg.max_minutes}: {per_step:.2f} s/step, max_steps {cfg.max_steps} -> {fit}")
                cfg.max_steps = max(fit, step + 1)
        time_since_log += time.time() - t0
        if step % cfg.log_interval == 0 or step == cfg.max_steps - 1:
            tok_s = tokens_since_log / max(time_since_log, 1e-9)
            left = (cfg.max_steps - step - 1) * train_time / (step + 1 - start_step)
            if cfg.max_minutes > 0:
                left = min(left, max(0.0, cfg.max_minutes * 60 - (time.time() - t_start)))
            record(step=step, loss=loss_sum, lr=lr, tok_per_s=round(tok_s), time=round(time.time() - t_start, 2))
            log(f"step {step}/{cfg.max_steps} | loss {loss_sum:.4f} | lr {lr:.2e} | "
                f"{tok_s:,.0f} tok/s | ETA {int(left // 60)}m{int(left % 60):02d}s")
            tokens_since_log, time_since_log = 0, 0.0
        step += 1

    if master:
        metrics.close()
        log(f"done: {step} steps in {(time.time() - t_start) / 60:.1f} min, best val loss {best_val:.4f}, "
            + (f"checkpoint {ckpt_path}, plot {out_dir / 'loss.png'}" if step > start_step else "no step run"))
    if ddp:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
