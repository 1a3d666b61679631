"""train.py: configs and their errors, pretraining, SFT masks, exact resume after a kill, torchrun DDP, tiers."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import train  # noqa: E402
from robolm.model import ModelArgs, Transformer, count_params, load_checkpoint  # noqa: E402

SMALL = ["--dim=32", "--n_layers=2", "--n_heads=4", "--n_kv_heads=2", "--hidden_dim=64",
         "--max_seq_len=32", "--batch_size=4", "--eval_steps=2", "--warmup_steps=5",
         "--dtype=fp32", "--threads=1", "--learning_rate=3e-3"]


def make_pretrain_data(d, vocab=64):
    """A learnable stream: one 40-token pattern repeated from random rotations."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pat = rng.integers(3, vocab, size=40)
    stream = np.concatenate([np.roll(pat, rng.integers(0, 40)) for _ in range(300)]).astype(np.uint16)
    stream.tofile(d / "train.bin")
    stream[:3000].tofile(d / "val.bin")
    (d / "metadata.json").write_text(json.dumps({"vocab_size": vocab, "tokenizer_hash": "h1"}))
    return d


def make_sft_data(d, vocab=64, n=40):
    """Examples 'prompt | answer' where the answer is the prompt reversed; mask 1 on the answer only."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for split in ("train", "val"):
        toks, mask, offs = [], [], []
        for _ in range(n):
            p = list(rng.integers(12, vocab, size=int(rng.integers(3, 8))))
            ex = [2] + p + [8] + p[::-1] + [1]                        # <bos> prompt [CODE] answer <eos>
            offs.append(len(toks))
            toks += ex
            mask += [0] * (len(p) + 2) + [1] * (len(p) + 1)
        np.array(toks, dtype=np.uint16).tofile(d / f"sft_{split}.bin")
        np.array(mask, dtype=np.uint8).tofile(d / f"sft_{split}_mask.bin")
        np.array(offs, dtype=np.int64).tofile(d / f"sft_{split}_offsets.bin")
    (d / "metadata.json").write_text(json.dumps({"vocab_size": vocab, "tokenizer_hash": "h1"}))
    return d


def losses(metrics_path):
    rows = [json.loads(line) for line in open(metrics_path)]
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]


def run_error(argv, capsys=None):
    with pytest.raises(SystemExit) as e:
        train.main(argv)
    msg = str(e.value.code)
    assert msg.startswith("train.py: ") and "\n" not in msg, msg
    return msg


# ----------------------------------------------------------------------------- configs

def test_config_files_and_overrides(tmp_path):
    py = tmp_path / "c.py"
    py.write_text('"""doc"""\nbatch_size = 3\nlearning_rate = 1e-2\narch = "gpt2"\ncompile = False\n')
    ym = tmp_path / "c.yaml"
    ym.write_text("batch_size: 5\nmax_steps: 7\nlearning_rate: 1\n")
    cfg, over = train.parse_args([str(py), str(ym), "--dim=48", "--resume"])
    assert (cfg.batch_size, cfg.learning_rate, cfg.arch, cfg.max_steps, cfg.dim, cfg.resume) == \
        (5, 1.0, "gpt2", 7, 48, True)                                  # later sources win; int -> float ok
    assert over == ["--dim=48", "--resume"]


def test_bad_configs_give_one_line_errors(tmp_path):
    msg = run_error(["--batch_sise=4"])
    assert "'batch_sise'" in msg and "did you mean 'batch_size'" in msg and "valid keys" in msg
    msg = run_error(["--batch_size=four"])
    assert "'batch_size'" in msg and "expects int" in msg
    msg = run_error(["--mode=rl"])
    assert "pretrain, sft" in msg
    bad = tmp_path / "bad.yaml"
    bad.write_text("dropout: high\n")
    assert "'dropout'" in run_error([str(bad)]) and "expects float" in run_error([str(bad)])
    evil = tmp_path / "evil.py"
    evil.write_text("import os\nbatch_size = 2\n")
    assert "only `name = value`" in run_error([str(evil)])    # config files are parsed, never executed
    call = tmp_path / "call.py"
    call.write_text("batch_size = int('2')\n")
    assert "literal" in run_error([str(call)])
    broken = tmp_path / "broken.py"
    broken.write_text("batch_size = = 2\n")
    assert "broken.py:1" in run_error([str(broken)])
    broken_yaml = tmp_path / "broken.yaml"
    broken_yaml.write_text("batch_size: [1,\n")
    assert "not valid YAML" in run_error([str(broken_yaml)])
    assert "prepare.py" in run_error([f"--data_dir={tmp_path / 'none'}"])
    d = make_pretrain_data(tmp_path / "d")
    assert "n_kv_heads" in run_error([f"--data_dir={d}", "--n_heads=4", "--n_kv_heads=3"])
    # the command line shows one line and no traceback
    r = subprocess.run([sys.executable, str(ROOT / "train.py"), "--bogus=1"], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr


def test_lr_schedule_warmup_cosine_min():
    cfg = train.Config(learning_rate=1.0, min_lr=0.1, warmup_steps=10, max_steps=110)
    lrs = [train.lr_at(s, cfg) for s in range(120)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[60] == pytest.approx(0.55) and lrs[110] == pytest.approx(0.1) and lrs[119] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


# ----------------------------------------------------------------------------- training

def test_pretrain_learns_and_writes_checkpoint_metrics_plot(tmp_path):
    d = make_pretrain_data(tmp_path / "data")
    out = tmp_path / "out"
    train.main([f"--data_dir={d}", f"--out_dir={out}", *SMALL, "--max_steps=80", "--eval_interval=40",
                "--log_interval=5", "--grad_accum=2"])
    ls = losses(out / "metrics.jsonl")
    assert ls[-1][1] < 0.5 * ls[0][1], ls                              # the pattern is learnt
    assert (out / "loss.png").stat().st_size > 1000
    model, ckpt = load_checkpoint(out / "ckpt.pt")
    assert ckpt["step"] == 80 and ckpt["tokenizer_hash"] == "h1" and ckpt["config"]["grad_accum"] == 2
    assert set(ckpt) >= {"model", "model_args", "config", "optimizer", "rng", "tokenizer_path"}
    assert not any(k.startswith(("_orig_mod.", "module.")) for k in ckpt["model"])
    assert model.args.vocab_size == 64                                 # from metadata.json
    assert not list(out.glob("*.tmp"))                                 # atomic save left no temp file


def test_gpt2_variant_trains(tmp_path):
    d = make_pretrain_data(tmp_path / "data")
    out = tmp_path / "out"
    train.main([f"--data_dir={d}", f"--out_dir={out}", *SMALL, "--arch=gpt2", "--n_kv_heads=4",
                "--max_steps=40", "--eval_interval=40", "--log_interval=5"])
    ls = losses(out / "metrics.jsonl")
    assert ls[-1][1] < 0.7 * ls[0][1]
    model, _ = load_checkpoint(out / "ckpt.pt")
    assert model.args.arch == "gpt2" and "pos_embeddings.weight" in model.state_dict()


def test_sft_masks_prompt_tokens_and_finetunes(tmp_path):
    d = make_sft_data(tmp_path / "sft")
    cfg = train.Config(data_dir=str(d), mode="sft", max_seq_len=32)
    data = train.Data(cfg)
    x, y = data.batch("train", 8, (0, 0, 0))
    toks, mask, starts, ends = data.splits["train"]
    for b in range(8):                                                 # find each row's example again
        i = next(i for i in range(len(starts)) if np.array_equal(toks[starts[i]:ends[i]][:-1], x[b, :ends[i] - starts[i] - 1]))
        ex, m = toks[starts[i]:ends[i]].astype(np.int64), mask[starts[i]:ends[i]]
        n = len(ex) - 1
        assert torch.equal(y[b, :n], torch.from_numpy(np.where(m[1:] == 1, ex[1:], -100)))
        assert (y[b, n:] == -100).all() and (x[b, n:] == 0).all()    # padding is ignored
        assert (y[b] != -100).sum() == m[1:].sum() > 0
    # pretrain a little, then fine-tune from that checkpoint
    pre = tmp_path / "pre"
    train.main([f"--data_dir={make_pretrain_data(tmp_path / 'data')}", f"--out_dir={pre}", *SMALL,
                "--max_steps=10", "--eval_interval=10"])
    out = tmp_path / "ft"
    train.main([f"--data_dir={d}", f"--out_dir={out}", "--mode=sft", f"--init_from={pre / 'ckpt.pt'}",
                "--dtype=fp32", "--threads=1", "--batch_size=8", "--max_steps=120", "--eval_interval=60",
                "--eval_steps=2", "--learning_rate=3e-3", "--warmup_steps=5", "--log_interval=10"])
    ls = losses(out / "metrics.jsonl")
    assert ls[-1][1] < 0.6 * ls[0][1], ls
    _, ckpt = load_checkpoint(out / "ckpt.pt")
    assert ckpt["model_args"]["dim"] == 32 and ckpt["config"]["mode"] == "sft"


def test_sft_length_buckets_cut_padding_and_keep_batches_random(tmp_path):
    d = make_sft_data(tmp_path / "sft", n=400)                          # lengths 9..19 tokens
    def padding(cfg):
        data, pad, seen = train.Data(cfg), 0, set()
        for step in range(50):
            x, _ = data.batch("train", 8, (step, 0, 0))
            pad += int((x == 0).sum())
            seen |= {tuple(r[:3].tolist()) for r in x}
        return pad / (50 * x.shape[0] * x.shape[1]), len(seen)
    plain, plain_seen = padding(train.Config(data_dir=str(d), mode="sft", max_seq_len=32, length_buckets=0))
    bucketed, seen = padding(train.Config(data_dir=str(d), mode="sft", max_seq_len=32, length_buckets=4))
    assert bucketed < 0.5 * plain, (bucketed, plain)
    assert seen > 0.6 * plain_seen                                     # still spread over the whole set
    x, y = train.Data(train.Config(data_dir=str(d), mode="sft", max_seq_len=32)).batch("val", 8, (0, 0, 0))
    assert x.shape[0] == 8                                             # val batches stay uniform random


def test_resume_after_kill_reproduces_uninterrupted_losses(tmp_path):
    d = make_pretrain_data(tmp_path / "data")
    common = [sys.executable, str(ROOT / "train.py"), f"--data_dir={d}", *SMALL, "--max_steps=40",
              "--eval_interval=10", "--log_interval=1", "--dropout=0.1"]   # dropout: the RNG state matters too
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    a, b = tmp_path / "a", tmp_path / "b"
    subprocess.run(common + [f"--out_dir={a}"], check=True, capture_output=True, env=env)
    proc = subprocess.Popen(common + [f"--out_dir={b}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:             # kill -9 once step 15 has run
        if (b / "metrics.jsonl").exists() and any(s >= 15 for s, _ in losses(b / "metrics.jsonl")):
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = max(s for s, _ in losses(b / "metrics.jsonl"))
    r = subprocess.run(common + [f"--out_dir={b}", "--resume"], check=True, capture_output=True, text=True, env=env)
    start = int(re.search(r"steps (\d+)\.\.40", r.stdout).group(1))
    assert 10 <= start <= killed_at < 40
    ref = dict(losses(a / "metrics.jsonl"))
    got = losses(b / "metrics.jsonl")
    assert [s for s, _ in got] == list(range(killed_at + 1)) + list(range(start, 40))
    for s, loss in got:                                                # before and after the kill, step by step
        assert loss == pytest.approx(ref[s], rel=1e-6, abs=1e-7), (s, loss, ref[s])


def test_torchrun_two_process_gloo(tmp_path):
    d = make_pretrain_data(tmp_path / "data")
    out = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ROOT / "train.py"), f"--data_dir={d}", f"--out_dir={out}", *SMALL,
           "--max_steps=30", "--eval_interval=15", "--log_interval=5"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    if r.returncode != 0 and "SIGABRT" in r.stderr:
        # seen once in a full-suite run on this 2-core machine: a worker died with SIGABRT
        # (cause not found; alone it passed 7 of 7); one fresh launch, a second abort fails the test
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "device cpu x2" in r.stdout and "256 tokens per step" in r.stdout   # 4 x 32 x 2 processes
    ls = losses(out / "metrics.jsonl")
    assert ls[-1][1] < 0.8 * ls[0][1], ls
    model, ckpt = load_checkpoint(out / "ckpt.pt")
    assert ckpt["step"] == 30 and not any(k.startswith("module.") for k in ckpt["model"])


# ----------------------------------------------------------------------------- tiers

def tier_files():
    return sorted((ROOT / "configs" / "models").glob("*.yaml"))


def test_tier_names_tell_the_truth():
    files = tier_files()
    assert len(files) >= 4, files
    for f in files:
        m = re.search(r"-(\d+(?:\.\d+)?)m\.yaml$", f.name)
        assert m, f"{f.name}: a tier is named by its size, like robo-tiny-9m.yaml"
        keys = {k: v for k, v in yaml.safe_load(f.read_text()).items() if k in train.MODEL_KEYS}
        with torch.device("meta"):
            n = count_params(Transformer(ModelArgs(**keys)), show=False)
        named = float(m.group(1)) * 1e6
        assert abs(n - named) <= 0.10 * named, f"{f.name}: counted {n:,} params"
        assert n <= 150e6
    for p in ("cpu_default.py", "cpu_default_sft.py", "tiny.py"):
        train.parse_args([str(ROOT / "configs" / p)])
    for p in ("pretrain-base.yaml", "finetune-instruct.yaml"):
        train.parse_args([str(ROOT / "configs" / "training" / p)])


# ----------------------------------------------------------------------------- helpers around training

def test_find_batch_size_reports_largest_and_fastest():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "find_batch_size.py"), *SMALL, "--vocab_size=64",
                        "--max_batch=4", "--steps=1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "largest batch that fits: 4" in r.stdout
    fastest = int(re.search(r"fastest: batch (\d+)", r.stdout).group(1))
    assert fastest in (1, 2, 4)


@pytest.mark.slow
def test_train_bench_runs():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "train_bench.py"), "--only=cpu", "--steps=1",
                        "--warmup=1", "--dtypes=fp32"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"cpu-default 5.0M\s+fp32 eager\s+[\d,]+\s+[\d,]+\s+\d+\.\d\d", r.stdout), r.stdout


def test_sft_context_comes_from_the_checkpoint(tmp_path):
    """--init_from a model with a 24-token context: SFT batches must fit it, whatever max_seq_len says."""
    pre = tmp_path / "pre"
    train.main([f"--data_dir={make_pretrain_data(tmp_path / 'data')}", f"--out_dir={pre}", *SMALL,
                "--max_seq_len=24", "--max_steps=2", "--eval_interval=2"])
    out = tmp_path / "ft"
    train.main([f"--data_dir={make_sft_data(tmp_path / 'sft')}", f"--out_dir={out}", "--mode=sft",
                f"--init_from={pre / 'ckpt.pt'}", "--max_seq_len=64", "--dtype=fp32", "--threads=1",
                "--max_steps=3", "--eval_interval=3", "--eval_steps=1"])
    _, ckpt = load_checkpoint(out / "ckpt.pt")
    assert ckpt["model_args"]["max_seq_len"] == 24 and ckpt["config"]["max_seq_len"] == 24
    (tmp_path / "sft" / "metadata.json").write_text(json.dumps({"vocab_size": 64, "tokenizer_hash": "h2"}))
    msg = run_error([f"--data_dir={tmp_path / 'sft'}", f"--out_dir={out}", "--mode=sft", f"--init_from={pre / 'ckpt.pt'}"])
    assert "tokenizer" in msg and "h1" in msg and "h2" in msg       # a new tokenizer needs a new model


@pytest.mark.slow
def test_compiled_bf16_run_saves_the_raw_module(tmp_path):
    d = make_pretrain_data(tmp_path / "data")
    out = tmp_path / "out"
    argv = [f"--data_dir={d}", f"--out_dir={out}", *SMALL, "--dtype=bf16", "--compile", "--max_steps=6",
            "--eval_interval=3"]
    train.main(argv)
    _, ckpt = load_checkpoint(out / "ckpt.pt")
    assert ckpt["config"]["compile"] and ckpt["config"]["dtype"] == "bf16"
    assert not any(k.startswith("_orig_mod.") for k in ckpt["model"])
