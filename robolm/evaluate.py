"""Evaluate RoboLM on held-out prompts: does its code compile, use the real API, and do the job?

    python -m robolm.evaluate --backend torch --model out/cpu_default_sft/ckpt.pt
    python -m robolm.evaluate --backend native --model exports/robolm-q4_0.gguf --out out/eval-q4_0

For each prompt of data/raw/syllabus/test_prompts.json (held out by project, several languages):
  syntax      the first candidate compiles with the real MicroPython compiler (mpy-cross)
  api         ... and passes the robot/MicroPython API checker (robolm/validate.py)
  behaviour   ... and passes the prompt's behaviour check in the simulator (robolm/sim)
  resampled   a valid program within --candidates samples (validation-guided generation)
  chosen_behaviour  the program validation-guided generation returns (sample.py's choice: valid
              and using every number of the prompt) passes the behaviour check
Rates are reported overall, per language and per grade, as JSON, a markdown table and a chart.
Explanations: the reference programs of --explain-programs test projects, explained in every
language: in_language (the greedy text is in the requested language: its script, and word hints
for en/es/fr/pt), numbers_from_code (every number it mentions is in the program, in some unit: a
rough check that it does not invent pins or times), accepted (both, and no program lines in the
text), accepted_after_resampling (validation-guided explanation, as sample.py, finds such a text).
With the torch backend it also reports perplexity per language and data type on corpus.jsonl's
validation examples. The same report runs on any backend and any GGUF type, so the cost of
INT8/INT4 shows in task terms.
"""
import argparse
import functools
import json
import math
import os
import sys
import time
from collections import defaultdict

RATES = ("syntax", "api", "behaviour", "resampled", "chosen_behaviour")
# which part of the robot a check kind looks at (the others are scenario pin roles already)
CHECK_PART = {"pin_level": "led", "toggles": "led", "buzzer": "buzzer", "servo_angle": "servo",
              "servo_sweep": "servo", "pixels": "neopixel"}


@functools.lru_cache(maxsize=1)
def _slot_defaults():
    """{family id: the default numbers of its slots} from data/raw/tasks (the corpus's own source)."""
    from robolm.corpus import load_families
    out = {}
    for f in load_families():
        nums = []
        for slot in f["slots"].values():
            d = slot["default"]
            nums += [x for x in (d if isinstance(d, list) else [d]) if isinstance(x, (int, float)) and not isinstance(x, bool)]
        out[f["id"]] = tuple(nums)
    return out


def unstated_facts(p):
    """The pins and frequencies that the prompt's check and scenario depend on but neither the
    prompt nor its hardware list states (the robot firmware's default pin for that part counts
    as stated: the robot.* API uses it, and so does the default value of the task's slot, which is
    what a request that names no value means). test_prompts.json is built so that a paraphrase that
    leaves a value unsaid is checked against the default (corpus.build_test_prompts); what is left
    here is mostly a translation that drops a number, so the behaviour rate is also reported over
    the fully specified prompts."""
    import re
    from robolm.sim.scenario import DEFAULT_PINS          # the firmware's default pin map
    said = set(re.findall(r"\d+", p["prompt"] + " " + " ".join(map(str, p.get("hardware") or []))))
    said |= {str(int(v)) for v in _slot_defaults().get(p.get("family"), ())}
    missing = []

    def need(role, v, what):
        if str(v) not in said and DEFAULT_PINS.get(CHECK_PART.get(role, role)) != v:
            missing.append(what)

    def walk(c):
        if isinstance(c, dict):
            for k, v in c.items():
                if k == "pin" and isinstance(v, int):
                    need(c.get("kind"), v, f"pin {v}")
                elif k == "freq" and isinstance(v, (int, float)):
                    need(None, int(v), f"{int(v)} Hz")
                else:
                    walk(v)
        elif isinstance(c, list):
            for v in c:
                walk(v)
    walk(p.get("check") or {})
    for role, v in ((p.get("scenario") or {}).get("pins") or {}).items():
        if isinstance(v, int):
            need(role, v, f"{role} pin {v}")
    return missing


def generate(engine, tok, ids, n, temperature, seed, stop):
    out = []
    for t in engine.stream(ids, n, temperature, 40, 0.95, seed, stop):
        if t in stop:
            break
        out.append(t)
    return tok.decode(out, skip_special=True).strip("\n")


def evaluate_prompts(engine, prompts, candidates=4, max_new_tokens=400, progress=True):
    """One row per prompt: the first (greedy) candidate's code and verdicts, and the program that
    validation-guided generation returns (as sample.py: the first candidate that is valid and uses
    every number and every listed part of the request, else the fewest errors, then the fewest
    ignored numbers and parts)."""
    from robolm.prompt import build_prompt
    from robolm.sim import run_many
    from robolm.sim.checks import run_check
    from robolm.validate import check_candidate
    tok = engine.tok
    stop = {tok.special_tokens["[/CODE]"], tok.special_tokens["<eos>"]}
    rows, t0 = [], time.time()
    for i, p in enumerate(prompts):
        ids = build_prompt(tok, p["prompt"], p.get("hardware") or "", p["lang"])
        tried = []                                                   # (rank, code, report)
        for k in range(candidates):                                  # greedy first, then samples at 0.7
            code = generate(engine, tok, ids, max_new_tokens, 0.0 if k == 0 else 0.7, 1 + k, stop)
            report, missing, rank = check_candidate(code, p["prompt"], p.get("hardware") or ())
            tried.append((rank, code, report))
            if report.ok and not missing:
                break
        (_, code, report), chosen = tried[0], min(tried, key=lambda t: t[0])
        rows.append({"id": p["id"], "lang": p["lang"], "grade": p.get("grade"), "code": code,
                     "unstated": unstated_facts(p), "chosen_code": chosen[1], "chosen_compiles": chosen[2].syntax_ok,
                     "candidates": len(tried),
                     "syntax": report.syntax_ok, "api": report.ok, "resampled": any(t[2].ok for t in tried),
                     "diagnostics": [f"{d.line}: [{d.kind}] {d.message}" for d in report.diagnostics][:5]})
        if progress and (i + 1 == len(prompts) or (i + 1) % 20 == 0):
            el = time.time() - t0
            print(f"  {i + 1}/{len(prompts)} prompts, {el:.0f} s, ETA {el / (i + 1) * (len(prompts) - i - 1):.0f} s",
                  file=sys.stderr, flush=True)
    codes = [r["code"] for r in rows] + [r["chosen_code"] for r in rows if r["chosen_code"] != r["code"]]
    scenarios = [p.get("scenario") or {} for p in prompts]
    scenarios += [sc for r, sc in zip(rows, scenarios) if r["chosen_code"] != r["code"]]
    results = iter(run_many(codes, scenarios, budget_s=max(float(p.get("budget_s", 5.0)) for p in prompts)
                            if prompts else 5.0))
    first = [next(results) for _ in rows]
    for row, p, res in zip(rows, prompts, first):
        ok, msg = run_check(p["check"], res) if row["syntax"] else (False, "does not compile")
        row["behaviour"], row["behaviour_msg"], row["sim_status"] = bool(ok), msg, res.status
    for row, p in zip(rows, prompts):
        if row["chosen_code"] == row["code"]:
            row["chosen_behaviour"] = row["behaviour"]
        else:
            res = next(results)
            row["chosen_behaviour"] = bool(row["chosen_compiles"] and run_check(p["check"], res)[0])
    return rows


def explain_programs(n):
    """(project id, program) for n test projects spread over the grades, titled as in training."""
    import re
    from robolm.corpus import load_families, load_syllabus, titled
    titles = {f["id"]: f["title"] for f in load_families()}
    tests = [p for p in load_syllabus() if p["split"] == "test"]
    if n < len(tests):
        tests = [tests[int(i * len(tests) / n)] for i in range(n)]
    return [(p["id"], titled(p["micropython_code"], titles.get(p.get("family")) or
                            re.sub(r"\s*\(.*\)$", "", p["project_title"]))) for p in tests]


EXPLAIN_RATES = ("in_language", "numbers_from_code", "accepted", "accepted_after_resampling")


def evaluate_explanations(engine, programs, langs, candidates=4, max_new_tokens=200):
    """One row per (program, language): the greedy explanation and its checks
    (validate.explanation_problems), and whether validation-guided explanation (sample.py's
    explain_code: up to `candidates` texts, then sampled at 0.7) finds one with no problem."""
    from robolm.prompt import build_explain_prompt
    from robolm.validate import explanation_problems
    tok = engine.tok
    stop = {tok.special_tokens["[/EXPLAIN]"], tok.special_tokens["<eos>"]}
    rows = []
    for pid, code in programs:
        for lang in langs:
            ids = build_explain_prompt(tok, code, lang)
            tried = []                                                   # (problems, text)
            for k in range(candidates):
                text = generate(engine, tok, ids, max_new_tokens, 0.0 if k == 0 else 0.7, 1 + k, stop).strip()
                tried.append((explanation_problems(text, code, lang), text))
                if not tried[-1][0]:
                    break
            problems, text = tried[0]
            chosen = min(tried, key=lambda t: len(t[0]))
            rows.append({"program": pid, "lang": lang, "text": text, "problems": problems,
                         "in_language": not any(p.startswith("not in") for p in problems),
                         "numbers_from_code": not any(p.startswith("numbers") for p in problems),
                         "accepted": not problems, "candidates": len(tried), "chosen_text": chosen[1],
                         "accepted_after_resampling": not chosen[0]})
    return rows


def summarize_explanations(rows):
    def rates(sub):
        return {"n": len(sub), **{k: sum(r[k] for r in sub) / len(sub) for k in EXPLAIN_RATES}}
    langs = sorted({r["lang"] for r in rows})
    return {"overall": rates(rows), "by_lang": {l: rates([r for r in rows if r["lang"] == l]) for l in langs}}


def markdown_explanations(summary):
    lines = ["", "Explanations of test programs: the greedy one in the requested language, mentioning only numbers "
             "of the program, accepted (both, and no program lines), and accepted for what validation-guided explanation keeps", "",
             "| lang | n | in language | numbers from the program | accepted | accepted after resampling |",
             "|---|---|---|---|---|---|"]
    for name, r in [("**all**", summary["overall"])] + list(summary["by_lang"].items()):
        lines.append(f"| {name} | {r['n']} | " + " | ".join(f"{100 * r[k]:.1f}%" for k in EXPLAIN_RATES) + " |")
    return "\n".join(lines) + "\n"


def summarize(rows):
    """Rates overall, per language and per grade."""
    def rates(sub):
        return {"n": len(sub), **{k: sum(r[k] for r in sub) / len(sub) for k in RATES}} if sub else {"n": 0}
    by_lang, by_grade = defaultdict(list), defaultdict(list)
    for r in rows:
        by_lang[r["lang"]].append(r)
        by_grade[r["grade"]].append(r)
    specified = [r for r in rows if not r.get("unstated")]
    return {"overall": rates(rows), "specified": rates(specified),
            "by_lang": {k: rates(v) for k, v in sorted(by_lang.items())},
            "by_grade": {str(k): rates(v) for k, v in sorted(by_grade.items(), key=lambda kv: str(kv[0]))}}


def perplexity(engine, corpus_path, per_group=20):
    """exp(mean loss on answer tokens) of validation examples in corpus.jsonl, by (lang, type); torch only."""
    import torch
    from robolm.prompt import build_codegen_example, build_explain_example
    groups = defaultdict(list)
    with open(corpus_path, encoding="utf-8") as f:
        for line in f:
            ex = json.loads(line)
            if ex.get("split") == "val" and len(groups[(ex.get("lang"), ex.get("type"))]) < per_group:
                groups[(ex.get("lang"), ex.get("type"))].append(ex)
    out, model, L = {}, engine.model, engine.model.args.max_seq_len
    for (lang, kind), exs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        nll, count = 0.0, 0
        for ex in exs:
            if kind == "code" and ex.get("code"):
                ids, mask = build_codegen_example(engine.tok, ex["prompt"], ex["code"], ex.get("hardware"), lang)
            elif kind == "explain" and ex.get("explanation"):
                ids, mask = build_explain_example(engine.tok, ex["code"], ex["explanation"], lang)
            else:
                text = ex.get("content") or ex.get("text") or ""
                ids = [engine.tok.special_tokens["<bos>"]] + engine.tok.encode(text)
                mask = [1] * len(ids)
            ids, mask = ids[:L + 1], mask[:L + 1]
            if len(ids) < 2:
                continue
            x, y = torch.tensor([ids[:-1]]), torch.tensor([ids[1:]])
            with torch.no_grad():
                logits, _ = model(x)
            lp = torch.log_softmax(logits.float()[0], -1).gather(1, y[0][:, None])[:, 0]
            m = torch.tensor(mask[1:], dtype=torch.bool)
            nll += float(-lp[m].sum())
            count += int(m.sum())
        if count:
            out[f"{lang}/{kind}"] = math.exp(nll / count)
    return out


def markdown(summary, title):
    lines = [f"### {title}", "", "| group | n | syntax | API | behaviour | valid after resampling "
             "| behaviour after resampling |", "|---|---|---|---|---|---|---|"]
    def row(name, r):
        if r.get("n"):
            lines.append(f"| {name} | {r['n']} | " + " | ".join(f"{100 * r[k]:.1f}%" for k in RATES) + " |")
    row("**all**", summary["overall"])
    row("fully specified prompts", summary.get("specified", {}))
    for k, r in summary["by_lang"].items():
        row(f"lang {k}", r)
    for k, r in summary["by_grade"].items():
        row(f"grade {k}", r)
    return "\n".join(lines) + "\n"


def plot(summary, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    langs = list(summary["by_lang"])
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(langs) + 2), 3.5))
    width = 0.16
    for j, k in enumerate(RATES):
        ax.bar([i + (j - 2) * width for i in range(len(langs))],
               [100 * summary["by_lang"][l].get(k, 0) for l in langs], width, label=k)
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel("% of held-out prompts")
    ax.set_ylim(0, 105)
    ax.axhline(95, color="grey", lw=0.8, ls="--")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=4, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description="Evaluate RoboLM on held-out prompts (compiler, API, simulator).")
    p.add_argument("--backend", choices=["torch", "numpy", "native"], default="torch")
    p.add_argument("--model", help="checkpoint (.pt) or GGUF file; default as in sample.py")
    p.add_argument("--prompts", default="data/raw/syllabus/test_prompts.json")
    p.add_argument("--corpus", default="data/processed/corpus.jsonl", help="for perplexity (torch only)")
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N prompts (0 = all)")
    p.add_argument("--sample", type=int, default=0,
                   help="evaluate N prompts spread evenly over the file (all languages and grades; 0 = all)")
    p.add_argument("--candidates", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=400)
    p.add_argument("--explain-programs", type=int, default=10,
                   help="test programs to explain in every language (0 = no explanation check)")
    p.add_argument("--out", default="out/eval")
    a = p.parse_args(argv)
    sys.path.insert(0, os.getcwd())
    import sample
    engine = sample.load_engine(a.backend, a.model)
    with open(a.prompts, encoding="utf-8") as f:
        prompts = json.load(f)
    if a.limit:
        prompts = prompts[:a.limit]
    if a.sample and a.sample < len(prompts):
        step = len(prompts) / a.sample
        prompts = [prompts[int(i * step)] for i in range(a.sample)]
    if not prompts:
        sample.fail(f"{a.prompts} holds no prompts")
    rows = evaluate_prompts(engine, prompts, a.candidates, a.max_new_tokens)
    summary = summarize(rows)
    explanations = []
    if a.explain_programs > 0:
        from robolm.languages import LANGUAGES
        langs = sorted({p["lang"] for p in prompts} & set(LANGUAGES))
        print(f"explaining {a.explain_programs} test programs in {len(langs)} languages ...", file=sys.stderr)
        explanations = evaluate_explanations(engine, explain_programs(a.explain_programs), langs, a.candidates)
        summary["explain"] = summarize_explanations(explanations)
    if a.backend == "torch" and os.path.exists(a.corpus):
        summary["perplexity"] = perplexity(engine, a.corpus)
    model = a.model or (sample.DEFAULT_CKPT if a.backend == "torch" else sample.DEFAULT_GGUF)
    title = f"RoboLM evaluation: {a.backend}, {os.path.basename(model)}"
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "eval.json"), "w", encoding="utf-8") as f:
        json.dump({"model": model, "backend": a.backend, "summary": summary, "rows": rows,
                   "explanations": explanations}, f,
                  ensure_ascii=False, indent=1)
    md = markdown(summary, title)
    if "explain" in summary:
        md += markdown_explanations(summary["explain"])
    with open(os.path.join(a.out, "eval.md"), "w", encoding="utf-8") as f:
        f.write(md)
    plot(summary, os.path.join(a.out, "eval.png"), title)
    print(md)
    print("fully specified prompts: every pin and frequency the behaviour check needs is in the prompt, "
          "its hardware list or the robot's default pin map")
    if "perplexity" in summary:
        print("perplexity on val (lang/type): " + ", ".join(f"{k} {v:.2f}" for k, v in summary["perplexity"].items()))
    print(f"wrote {a.out}/eval.json, eval.md, eval.png")


if __name__ == "__main__":
    main()
