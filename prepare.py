"""prepare.py: authored data -> validated, augmented, language-mixed corpus -> token files.

    python prepare.py                                    # all 25 languages, default sizes
    python prepare.py --language-config configs/languages/indian-only.yaml
    python prepare.py --tiny --out /tmp/corpus          # seconds, for tests and a first look
    python prepare.py --tokenizer tokenizers/robo-code-8k  # reuse a tokenizer instead of training one

The steps (seed sections 5 and 7, folded into one script as the errata ask):
  1. load + validate   task families, the 100 graded projects, instruction pairs, i18n, docs
  2. augment           family instances with the seed's eight techniques, each program
                       re-validated (mpy-cross + API checker, cached by hash)
  3. mix languages     each example's language drawn from the config's target shares
  4. split             by project / family instance / instruction id; held-out slot values and
                       paraphrases stay out of training (test_prompts.json uses them)
  5. simulate          the 100 projects and a sample of augmented programs in the simulator
  6. tokenizer         trained on this corpus unless --tokenizer is given
  7. tokenize          train.bin / val.bin (pretraining stream), sft_*.bin (+ mask, offsets)
  8. write             corpus.jsonl, metadata.json (sizes, shares, hashes, what fell back)
Deterministic for a given --seed: two runs give byte-identical files.
"""
import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from robolm import corpus as C
from robolm import prompt as P
from robolm.languages import LANG_CODES, load_language_config

ROOT = Path(__file__).resolve().parent
RAW = ROOT / "data" / "raw"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--language-config", default=str(ROOT / "configs/languages/all-languages.yaml"),
                    help="which languages and how they are mixed (configs/languages/*.yaml)")
    ap.add_argument("--out", default=str(ROOT / "data/processed"), help="where the token files go")
    ap.add_argument("--tokenizer", default=None, help="directory of an existing tokenizer (skip training)")
    ap.add_argument("--tokenizer-config", default=str(ROOT / "configs/tokenizers/robo-code-8k.yaml"),
                    help="settings of the tokenizer trained when --tokenizer is not given")
    ap.add_argument("--vocab-size", type=int, default=None, help="override the tokenizer config's vocab size")
    ap.add_argument("--samples-per-family", type=int, default=250, help="augmented programs per task family")
    ap.add_argument("--range-share", type=float, default=C.RANGE_SHARE,
                    help="share of training slot values drawn from the slot's whole range (corpus.range_value)")
    ap.add_argument("--prompts-per-program", type=int, default=3, help="prompts (paraphrases/languages) per program")
    ap.add_argument("--explain-ratio", type=float, default=0.5, help="share of programs that also get an explain example")
    ap.add_argument("--hardware-dropout", type=float, default=0.4,
                    help="share of code examples trained with an empty [HARDWARE] list (learners often name no parts)")
    ap.add_argument("--project-copies", type=int, default=12, help="augmented copies of each training project")
    ap.add_argument("--code-doc-repeats", type=int, default=1, help="times each unique program is in the pretraining stream")
    ap.add_argument("--sim-sample", type=int, default=300, help="augmented programs re-simulated (0: none)")
    ap.add_argument("--no-sim", action="store_true", help="skip the simulator entirely")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--tiny", action="store_true", help="small sizes for tests: a few seconds")
    ap.add_argument("--raw", default=str(RAW), help="the authored data folder")
    ap.add_argument("--write-i18n", action="store_true", help="rewrite data/raw/i18n/en.yaml and stop")
    ap.add_argument("--write-test-prompts", action="store_true",
                    help="also write data/raw/syllabus/test_prompts.json (held-out prompts, all languages present)")
    args = ap.parse_args(argv)
    if not 0.0 <= args.range_share <= 1.0:
        ap.error(f"--range-share must be between 0 and 1, got {args.range_share}")
    if args.tiny:
        args.samples_per_family, args.project_copies, args.sim_sample = 6, 2, 20
        args.vocab_size = args.vocab_size or 1024
    return args


class Steps:
    """Prints numbered steps with their time, so a long run shows where it is."""

    def __init__(self):
        self.t0 = time.time()
        self.t = self.t0
        self.n = 0
        self.timings = {}

    def start(self, name):
        self.n += 1
        self.name = name
        self.t = time.time()
        print(f"[{self.n}] {name} ...", flush=True)

    def done(self, msg=""):
        dt = time.time() - self.t
        self.timings[self.name] = round(dt, 2)
        print(f"    {msg}  ({dt:.1f} s)", flush=True)


def progress_bar(i, n, label, width=30):
    """One line per ~10% (readable in a terminal and in a log file)."""
    if i == 0 or (i + 1) * 10 // n != i * 10 // n:
        filled = int(width * (i + 1) / n)
        print(f"    [{'#' * filled}{'.' * (width - filled)}] {i + 1}/{n} families ({label})", flush=True)


def file_hash(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def load_docs(raw, langs):
    """Documentation topics of data/raw/docs/<lang>.yaml for the enabled languages."""
    docs = []
    for lang in langs:
        path = Path(raw) / "docs" / f"{lang}.yaml"
        if not path.exists():
            continue
        data = C.load_yaml(path) or {}
        for topic, t in (data.get("topics") or {}).items():
            docs.append({"type": "doc", "topic": topic, "content": f"{t['title']}\n\n{t['text']}", "lang": lang})
    return docs


def registry_docs():
    """The firmware's block registry and the MicroPython API registry as English doc text."""
    out = []
    try:
        from robolm import registry
    except ImportError:
        return out
    for b in registry.block_registry():
        params = ", ".join(f"{k} ({v.get('type')}, {v.get('range')})" for k, v in (b.get("parameters") or {}).items())
        text = (f"Block {b['block_name']} ({b['category']}): {b['description']}\n"
                f"Call: {b['function']}. Parameters: {params or 'none'}. Returns: {b.get('returns')}.\n"
                f"Hardware: {', '.join(b.get('hardware_required') or []) or 'none'}.\n"
                f"Example:\n{b['micropython_code']}")
        out.append({"type": "doc", "topic": f"block:{b['block_name']}", "content": text, "lang": "en"})
    try:
        api = registry.micropython_api()
    except Exception as e:  # the stubs package may be missing on a bare install
        print(f"    (MicroPython API registry unavailable: {e})")
        return out
    mods = api.get("modules", api) if isinstance(api, dict) else {}
    for name in sorted(mods):
        mod = mods[name]
        if not isinstance(mod, dict) or name.startswith("_"):
            continue
        lines = [f"Module {name}: {mod.get('doc', '') or ''}".strip()]
        for fn, spec in sorted((mod.get("functions") or {}).items()):
            lines.append(f"  {name}.{fn}{_sig(spec)}: {spec.get('doc', '') if isinstance(spec, dict) else ''}")
        for cls, cspec in sorted((mod.get("classes") or {}).items()):
            lines.append(f"  class {name}.{cls}: {cspec.get('doc', '') if isinstance(cspec, dict) else ''}")
            consts = sorted((cspec.get("constants") or {}) if isinstance(cspec, dict) else {})
            if consts:
                lines.append(f"    constants: {', '.join(f'{cls}.{c}' for c in consts)}")
            for m, mspec in sorted(((cspec.get("methods") or {}) if isinstance(cspec, dict) else {}).items()):
                if not m.startswith("_"):
                    lines.append(f"    {cls}.{m}{_sig(mspec)}: {mspec.get('doc', '') if isinstance(mspec, dict) else ''}")
        if len(lines) > 1:
            out.append({"type": "doc", "topic": f"api:{name}", "content": "\n".join(lines), "lang": "en"})
    return out


def _sig(spec):
    """'(pin, value=None)' from a registry entry (first signature of the stub)."""
    if not isinstance(spec, dict):
        return "()"
    sigs = spec.get("signatures") or [spec]
    params = sigs[0].get("params") or []
    out = []
    for p in params:
        if not isinstance(p, dict):
            out.append(str(p))
            continue
        name = p.get("name", "?")
        if p.get("kind") == "var_positional":
            name = "*" + name
        elif p.get("kind") == "var_keyword":
            name = "**" + name
        out.append(f"{name}={p['default']}" if p.get("default") is not None else name)
    return "(" + ", ".join(out) + ")"


def write_u16(path, ids):
    arr = np.asarray(ids, dtype=np.int64)
    if arr.size and (arr.min() < 0 or arr.max() > 65535):
        raise ValueError(f"{path}: token id out of uint16 range (vocab too large for .bin)")
    arr.astype(np.uint16).tofile(path)


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    raw = Path(args.raw)
    steps = Steps()

    if args.write_i18n:
        C.write_english(raw / "i18n" / "en.yaml")
        print(f"wrote {raw / 'i18n' / 'en.yaml'}")
        return 0

    # 1. load + validate ---------------------------------------------------------------------
    steps.start("load + validate the authored data")
    cfg = load_language_config(args.language_config)
    families = C.load_families(raw / "tasks")
    projects = C.load_syllabus(raw / "syllabus")
    instructions = C.load_instructions(raw / "instructions")
    i18n = C.load_i18n(raw / "i18n")
    checker = C.Checker()
    checker.validate_batch([p["micropython_code"] for p in projects] + [q["code"] for q in instructions if q["code"]])
    bad = [(p["id"], checker.validate(p["micropython_code"])[1]) for p in projects
           if not checker.validate(p["micropython_code"])[0]]
    if bad:
        raise SystemExit(f"syllabus programs fail validation: {bad[:5]}")
    missing = sorted(set(cfg.languages) - set(i18n))
    steps.done(f"{len(families)} families, {len(projects)} projects, {len(instructions)} instruction pairs; "
               f"languages {' '.join(cfg.languages)} ({cfg.mixing_strategy}, english_ratio {cfg.english_ratio}); "
               f"i18n present: {' '.join(sorted(i18n))}; no i18n file (English fallback): {' '.join(missing) or 'none'}; "
               f"checker: {checker.mode}")

    # 2-4. augment, mix languages, split -----------------------------------------------------
    steps.start("augment + mix languages + split")
    examples, stats = C.build_examples(cfg, i18n, checker, samples_per_family=args.samples_per_family,
                                       range_share=args.range_share,
                                       prompts_per_program=args.prompts_per_program,
                                       explain_ratio=args.explain_ratio, project_copies=args.project_copies,
                                       seed=args.seed, families=families, projects=projects,
                                       instructions=instructions, progress=progress_bar,
                                       hardware_dropout=args.hardware_dropout)
    before = len(examples)
    seen, unique = set(), []
    for ex in examples:   # duplicates removed (same type, language, prompt and answer)
        key = (ex["type"], ex["lang"], ex.get("prompt", ""), ex.get("code", ""), ex.get("explanation", ""))
        if key not in seen:
            seen.add(key)
            unique.append(ex)
    examples = unique
    steps.done(f"{len(examples)} examples ({before - len(examples)} duplicates removed), "
               f"{len(checker.cache)} distinct programs validated, {len(stats.rejected)} rejected; "
               f"augmentations {dict(sorted(stats.augment.items()))}")

    # 5. simulate ----------------------------------------------------------------------------
    sim = {"projects": None, "augmented_sample": None}
    if not args.no_sim:
        steps.start("simulate the projects and a sample of augmented programs")
        try:
            res = checker.simulate_many([(p["micropython_code"], p["scenario"], p["check"], p["budget_s"]) for p in projects])
            failed = [p["id"] for p, r in zip(projects, res) if not r[0]]
            sim["projects"] = {"n": len(projects), "passed": len(projects) - len(failed), "failed": failed}
            pool = sorted({ex["code"]: ex for ex in examples if ex["type"] == "code" and "check" in ex}.values(),
                          key=lambda e: C.code_hash(e["code"]))
            rng = random.Random(args.seed)
            sample = rng.sample(pool, min(args.sim_sample, len(pool)))
            res = checker.simulate_many([(e["code"], e["scenario"], e["check"], e["budget_s"]) for e in sample])
            bad_codes = {e["code"] for e, r in zip(sample, res) if not r[0]}
            fails = [(e.get("source"), r[1][:120]) for e, r in zip(sample, res) if not r[0]]
            examples = [ex for ex in examples if ex.get("code") not in bad_codes]
            sim["augmented_sample"] = {"n": len(sample), "passed": len(sample) - len(bad_codes), "failures": fails[:20]}
            steps.done(f"projects {sim['projects']['passed']}/{len(projects)} pass; augmented sample "
                       f"{sim['augmented_sample']['passed']}/{len(sample)} pass (failures removed)")
        except ImportError as e:
            steps.done(f"simulator not available ({e}); skipped")

    # pretraining documents -----------------------------------------------------------------
    steps.start("pretraining documents")
    docs = load_docs(raw, cfg.languages) + registry_docs()
    for p in projects:
        if p["split"] == "train":
            docs.append({"type": "doc", "topic": f"project:{p['id']}", "lang": "en",
                         "content": f"{p['project_title']}\n\n{p['description']}\n\n{p['micropython_code']}"})
    code_docs = sorted({ex["code"] for ex in examples if ex["type"] in ("code", "explain") and ex["split"] == "train"})
    val_code_docs = sorted({ex["code"] for ex in examples if ex["type"] in ("code", "explain") and ex["split"] == "val"})
    for d in docs:
        d["split"] = "val" if C.split_of("doc:" + d["lang"] + d["topic"], val=0.03, test=0.0) == "val" else "train"
    pre_train = [d["content"] for d in docs if d["split"] == "train"] + code_docs * args.code_doc_repeats
    pre_val = [d["content"] for d in docs if d["split"] == "val"] + val_code_docs
    rng = random.Random(args.seed)
    rng.shuffle(pre_train)
    steps.done(f"{len(docs)} doc topics ({sum(d['lang'] != 'en' for d in docs)} non-English), "
               f"{len(code_docs)} unique training programs")

    # 6. tokenizer ---------------------------------------------------------------------------
    from robolm.tokenizer import Tokenizer
    if args.tokenizer:
        steps.start(f"load tokenizer {args.tokenizer}")
        tok = Tokenizer.load(args.tokenizer)
        tok_dir = Path(args.tokenizer)
        steps.done(f"vocab {tok.vocab_size}")
    else:
        steps.start("train the tokenizer on this corpus")
        texts = pre_train + [ex.get("prompt", "") + "\n" + ex.get("explanation", "") for ex in examples
                             if ex["split"] == "train"]
        overrides = {"vocab_size": args.vocab_size} if args.vocab_size else {}
        tok = Tokenizer.from_config(args.tokenizer_config, texts, **overrides)
        tok_dir = out / "tokenizer"
        tok.save(tok_dir)
        steps.done(f"vocab {tok.vocab_size}, saved to {tok_dir}")
    if tok.vocab_size > 65536:
        raise SystemExit(f"vocab size {tok.vocab_size} does not fit uint16 token files")

    # 7. tokenize ----------------------------------------------------------------------------
    steps.start("tokenize")
    out.mkdir(parents=True, exist_ok=True)
    eos = tok.special_tokens["<eos>"]
    counts = {"pretrain": {}, "sft": {}}

    def stream(texts):
        ids = []
        for t in texts:
            ids += tok.encode(t)
            ids.append(eos)
        return ids

    train_ids, val_ids = stream(pre_train), stream(pre_val)
    write_u16(out / "train.bin", train_ids)
    write_u16(out / "val.bin", val_ids)
    for d in docs:
        counts["pretrain"][d["lang"]] = counts["pretrain"].get(d["lang"], 0)
    sft_counts, by_type, by_lang = {}, {}, {}
    for split in ("train", "val"):
        ids_all, mask_all, offsets = [], [], []
        for ex in examples:
            if ex["split"] != split:
                continue
            if ex["type"] == "explain":
                ids, mask = P.build_explain_example(tok, ex["code"], ex["explanation"], ex["lang"])
            else:
                ids, mask = P.build_codegen_example(tok, ex["prompt"], ex["code"], ex["hardware"], ex["lang"])
            offsets.append(len(ids_all))
            ids_all += ids
            mask_all += mask
            if split == "train":
                by_type[ex["type"]] = by_type.get(ex["type"], 0) + len(ids)
                by_lang[ex["lang"]] = by_lang.get(ex["lang"], 0) + len(ids)
        write_u16(out / f"sft_{split}.bin", ids_all)
        np.asarray(mask_all, dtype=np.uint8).tofile(out / f"sft_{split}_mask.bin")
        np.asarray(offsets, dtype=np.int64).tofile(out / f"sft_{split}_offsets.bin")
        sft_counts[split] = {"tokens": len(ids_all), "examples": len(offsets), "loss_tokens": int(sum(mask_all))}
    total = len(train_ids) + len(val_ids) + sum(v["tokens"] for v in sft_counts.values())
    steps.done(f"pretrain {len(train_ids):,} train + {len(val_ids):,} val tokens; "
               f"sft {sft_counts['train']['tokens']:,} train + {sft_counts['val']['tokens']:,} val tokens; "
               f"total {total:,}")

    # 8. write corpus.jsonl, metadata.json, test prompts ------------------------------------
    steps.start("write corpus.jsonl, metadata.json")
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for row in examples + docs:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    sft_train = [ex for ex in examples if ex["split"] == "train"]
    n_by_lang = {}
    for ex in sft_train:
        n_by_lang[ex["lang"]] = n_by_lang.get(ex["lang"], 0) + 1
    target = cfg.target_shares()
    shares = {c: {"target": round(target[c], 4), "actual": round(n_by_lang.get(c, 0) / max(1, len(sft_train)), 4),
                  "examples": n_by_lang.get(c, 0), "english_fallbacks": stats.fallback.get(c, 0)}
              for c in cfg.languages}
    test_prompts = C.build_test_prompts(families, projects, i18n, cfg.languages)
    with open(out / "test_prompts.json", "w", encoding="utf-8") as f:
        json.dump(test_prompts, f, ensure_ascii=False, indent=1)
    if args.write_test_prompts:
        all_prompts = C.build_test_prompts(families, projects, i18n, LANG_CODES)
        with open(raw / "syllabus" / "test_prompts.json", "w", encoding="utf-8") as f:
            json.dump(all_prompts, f, ensure_ascii=False, indent=1)
    sources = sorted(p for p in raw.rglob("*") if p.is_file() and p.suffix in (".yaml", ".json")
                     and p.name != "test_prompts.json")
    meta = {
        "vocab_size": tok.vocab_size, "tokenizer_path": str(tok_dir), "tokenizer_hash": tok.hash,
        "dtype": "uint16", "eos_id": eos,
        "language_config": {"path": str(args.language_config), "name": cfg.name, "languages": cfg.languages,
                            "mixing_strategy": cfg.mixing_strategy, "english_ratio": cfg.english_ratio},
        "tokens": {"pretrain_train": len(train_ids), "pretrain_val": len(val_ids),
                   "sft": sft_counts, "sft_train_by_type": by_type, "sft_train_by_language": by_lang, "total": total},
        "examples": {"by_type": _count(examples, "type"), "by_split": _count(examples, "split"),
                     "docs": len(docs), "unique_training_programs": len(code_docs)},
        "language_shares": shares,
        "english_fallbacks_total": sum(stats.fallback.values()),
        "augmentation": dict(sorted(stats.augment.items())),
        "validation": {"checker": checker.mode, "distinct_programs": len(checker.cache),
                       "rejected": len(stats.rejected), "rejected_examples": stats.rejected[:20]},
        "simulation": sim,
        "test_prompts": len(test_prompts),
        "source_hashes": {str(p.relative_to(raw)): file_hash(p) for p in sources},
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "raw")},
        "timings_s": steps.timings,
    }
    (out / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    steps.done(f"{out / 'corpus.jsonl'}, {out / 'metadata.json'}, {len(test_prompts)} test prompts")
    print(f"done in {time.time() - steps.t0:.1f} s; total tokens {total:,}")
    return 0


def _count(rows, key):
    out = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0) + 1
    return dict(sorted(out.items()))


if __name__ == "__main__":
    sys.exit(main())
