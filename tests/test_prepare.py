"""prepare.py end to end in --tiny mode: file formats, loss masks, language shares vs the config,
no leakage of held-out projects/values/paraphrases into training, determinism."""
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from robolm import corpus as C
from robolm.languages import load_language_config

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"


def run_prepare(out, *extra):
    cmd = [sys.executable, str(ROOT / "prepare.py"), "--tiny", "--out", str(out), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return p.stdout


@pytest.fixture(scope="module")
def raw_snapshot(tmp_path_factory):
    """A copy of data/raw: translators commit while tests run, and both runs must see one state."""
    raw = tmp_path_factory.mktemp("raw") / "raw"
    shutil.copytree(RAW, raw)
    return raw


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, raw_snapshot):
    out = tmp_path_factory.mktemp("tiny")
    log = run_prepare(out, "--raw", str(raw_snapshot), "--no-sim")   # the slow test runs the simulator step
    return out, log


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_outputs_and_formats(tiny):
    out, log = tiny
    for step in ("load + validate", "augment", "tokenizer", "tokenize", "write"):
        assert step in log
    meta = json.loads((out / "metadata.json").read_text())
    from robolm.tokenizer import Tokenizer
    tok = Tokenizer.load(meta["tokenizer_path"])
    assert meta["vocab_size"] == tok.vocab_size and meta["tokenizer_hash"] == tok.hash
    for split in ("train", "val"):
        ids = np.fromfile(out / f"sft_{split}.bin", dtype=np.uint16)
        mask = np.fromfile(out / f"sft_{split}_mask.bin", dtype=np.uint8)
        offs = np.fromfile(out / f"sft_{split}_offsets.bin", dtype=np.int64)
        assert len(ids) == len(mask) == meta["tokens"]["sft"][split]["tokens"] and len(offs) > 0
        assert set(np.unique(mask)) <= {0, 1} and np.all(np.diff(offs) > 0) and offs[0] == 0
        assert ids.max() < tok.vocab_size
        ends = list(offs[1:]) + [len(ids)]
        for a, b in list(zip(offs, ends))[:50]:
            ex, m = ids[a:b].tolist(), mask[a:b].tolist()
            assert ex[0] == tok.special_tokens["<bos>"] and ex[-1] == tok.special_tokens["<eos>"]
            first = m.index(1)
            assert ex[first - 1] in (tok.special_tokens["[CODE]"], tok.special_tokens["[EXPLAIN]"])
            assert all(m[first:])
    train = np.fromfile(out / "train.bin", dtype=np.uint16)
    assert len(train) == meta["tokens"]["pretrain_train"] and (train == tok.special_tokens["<eos>"]).sum() > 100
    rows = [json.loads(l) for l in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"code", "explain", "instruction", "doc"} <= {r["type"] for r in rows}
    code = next(r for r in rows if r["type"] == "code")
    assert {"type", "grade", "prompt", "code", "hardware", "api_functions", "lang"} <= set(code)


def test_no_leakage_into_training(tiny, raw_snapshot):
    out, _ = tiny
    rows = [json.loads(l) for l in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    train = [r for r in rows if r.get("split") == "train" and r["type"] != "doc"]
    projects = C.load_syllabus(raw_snapshot / "syllabus")
    held_projects = {p["id"] for p in projects if p["split"] != "train"}
    assert not any(r.get("project") in held_projects for r in train)
    fams = C.load_families(raw_snapshot / "tasks")
    test_codes = {p["micropython_code"] for p in projects if p["split"] == "test"} | C.test_instance_codes(fams)
    untitled = [re.sub(r"\A# [^\n]*\n", "", r["code"]) for r in rows if r.get("split") == "train" and r.get("code")]
    assert not any(c in test_codes for c in untitled)     # training programs start with "# <task title>"
    families = {f["id"]: f for f in fams}
    tests = json.loads((out / "test_prompts.json").read_text(encoding="utf-8"))
    train_instances = {r["instance"] for r in train if r.get("instance")}
    # a test instance with a held-out value, and every test project's own instance, never trains;
    # a paraphrase that leaves values unsaid is checked against the defaults, which do train
    held = {C.instance_key(t["family"], t["slots"]) for t in tests if t.get("family")
            and any(t["slots"].get(k) == v for k, v in C.held_values(families[t["family"]]).items())}
    held |= {C.instance_key(p["family"], p["slots"]) for p in projects if p["split"] == "test"}
    assert held and not (held & train_instances)
    # ... and every family's default instance (what a request naming no value means) does train
    assert {C.default_key(f) for f in fams} <= train_instances
    train_prompts = {r["prompt"] for r in train if "prompt" in r}
    assert not any(t["prompt"] in train_prompts for t in tests)
    # the held-out paraphrase template of each family never appears in training
    for r in train:
        fam = families.get(r.get("family"))
        if fam and r["type"] == "code" and r["lang"] == "en" and r.get("source", "").startswith("family:"):
            held = C.held_prompt_index(fam["prompts"])
            if held is not None:
                pattern = C.fill(fam["prompts"][held], {k: "\0" for k in fam["slots"]})
                pieces = [p for p in pattern.split("\0") if len(p) > 3]
                assert not all(p in r["prompt"] for p in pieces), (fam["id"], r["prompt"])


def test_deterministic(tiny, tmp_path, raw_snapshot):
    out, _ = tiny
    run_prepare(tmp_path / "again", "--raw", str(raw_snapshot), "--no-sim")
    for name in ("train.bin", "val.bin", "sft_train.bin", "sft_train_mask.bin", "sft_val.bin", "corpus.jsonl",
                 "test_prompts.json", "tokenizer/tokenizer.json"):
        assert sha(out / name) == sha(tmp_path / "again" / name), name


def _fake_translations(raw, langs):
    """Synthetic i18n files (a marker word in the language's script + the English) so the
    mixing can be measured before the real translations exist."""
    en = yaml.safe_load((raw / "i18n" / "en.yaml").read_text(encoding="utf-8"))
    marks = {"hi": "परीक्षण", "es": "prueba", "ta": "சோதனை"}
    for lang in langs:
        fams = {k: {"prompts": [f"{marks[lang]} {p}" for p in v["prompts"]], "explain": f"{marks[lang]} {v['explain']}"}
                for k, v in en["families"].items()}
        (raw / "i18n" / f"{lang}.yaml").write_text(yaml.safe_dump({"lang": lang, "families": fams}, allow_unicode=True),
                                                  encoding="utf-8")


def test_language_shares_follow_the_config(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    for f in (raw / "i18n").glob("*.yaml"):   # only the synthetic translations below, so the test
        if f.name != "en.yaml":               # does not depend on the translators' files of the day
            f.unlink()
    _fake_translations(raw, ["hi", "es"])
    cfg = tmp_path / "lang.yaml"
    cfg.write_text("name: t\nenabled_languages:\n  - {code: hi, weight: 3}\n  - {code: es, weight: 1}\n  - {code: en}\n"
                   "mixing_strategy: proportional\nenglish_ratio: 0.4\n")
    out = tmp_path / "out"
    run_prepare(out, "--raw", str(raw), "--language-config", str(cfg), "--no-sim", "--samples-per-family", "12")
    rows = [json.loads(l) for l in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    fam_rows = [r for r in rows if r["type"] in ("code", "explain") and r.get("source", "").startswith("family:")]
    n = len(fam_rows)
    target = load_language_config(cfg).target_shares()
    for lang, share in target.items():
        got = sum(r["lang"] == lang for r in fam_rows) / n
        assert abs(got - share) < 0.05, (lang, got, share, n)
    meta = json.loads((out / "metadata.json").read_text())
    assert set(meta["language_shares"]) == {"hi", "es", "en"}
    hi = next(r for r in fam_rows if r["lang"] == "hi" and r["type"] == "code")
    assert "परीक्षण" in hi["prompt"]


@pytest.mark.slow
def test_default_size_corpus(tmp_path):
    """The default prepare (all languages): a few minutes at most, millions of tokens, the
    instruction part dominant, every project passing in the simulator."""
    import time
    t = time.time()
    cmd = [sys.executable, str(ROOT / "prepare.py"), "--out", str(tmp_path)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    meta = json.loads((tmp_path / "metadata.json").read_text())
    tokens = meta["tokens"]
    print(f"prepare: {time.time() - t:.0f} s, {tokens['total']:,} tokens, shares "
          + ", ".join(f"{k} {v['actual']:.3f}/{v['target']:.3f}" for k, v in meta["language_shares"].items()))
    assert time.time() - t < 300
    assert tokens["total"] > 4_000_000
    assert tokens["sft"]["train"]["tokens"] > tokens["pretrain_train"]
    assert meta["simulation"]["projects"]["passed"] == 100
    assert meta["simulation"]["augmented_sample"]["passed"] >= 0.98 * meta["simulation"]["augmented_sample"]["n"]


def test_prompts_state_every_value_their_program_differs_in(tiny, raw_snapshot):
    """A training prompt states every slot value that differs from the default (a request that
    names no pin gets the robot's own pin), and so does every held-out prompt: the model is never
    asked to guess a value, in training or in the evaluation."""
    out, _ = tiny
    fams = {f["id"]: f for f in C.load_families(raw_snapshot / "tasks")}
    rows = [json.loads(l) for l in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    family_rows = [r for r in rows if r["type"] == "code" and r.get("source", "").startswith("family:")]
    assert family_rows
    for r in family_rows:
        fam = fams[r["family"]]
        values = json.loads(r["instance"].split(":", 1)[1])
        assert C.states_values(r["prompt"], fam, values), (r["prompt"], values)
    tests = json.loads((out / "test_prompts.json").read_text(encoding="utf-8"))
    for t in tests:
        if t.get("family"):
            assert C.states_values(t["prompt"], fams[t["family"]], t["slots"]), (t["id"], t["prompt"], t["slots"])


def test_range_share_is_checked_and_applied(tmp_path):
    """--range-share outside 0..1 is a one-line error; a share of 1 puts range values (never a
    held-out one) in the corpus."""
    ROOT = Path(__file__).resolve().parents[1]
    bad = subprocess.run([sys.executable, str(ROOT / "prepare.py"), "--range-share", "2", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--range-share must be between 0 and 1" in bad.stderr
    import random
    fam = next(f for f in C.load_families() if f["id"] == "neopixel_color")
    rng = random.Random(0)
    colours = [C.sample_slots(fam, rng, "train", range_share=1.0)["color"] for _ in range(50)]
    listed = fam["slots"]["color"]["values"]
    assert sum(c not in listed for c in colours) > 40 and [0, 0, 255] not in colours


def test_explanations_are_spread_evenly_over_the_languages(tiny):
    """Prompts are English-heavy (english_ratio 0.3); explanations are drawn evenly over the
    config's languages, so every language sees enough of them to answer in its own words."""
    from collections import Counter
    out, _ = tiny
    rows = [json.loads(l) for l in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    fam = Counter(r["lang"] for r in rows if r["type"] == "explain" and r["source"].startswith("family:"))
    meta = json.loads((out / "metadata.json").read_text())
    langs = meta["language_config"]["languages"]
    assert sum(fam.values()) >= 5 * len(langs)
    assert fam["en"] / sum(fam.values()) < 0.15          # 1/25 expected; English-heavy would be ~0.3
    assert len(fam) >= 0.8 * len(langs)
