"""sample.py: bad input gets one line (never a traceback), the language is detected from the
prompt, and validation-guided generation runs end to end on every engine with a tiny model."""
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import sample  # noqa: E402
from test_gguf import make_model, make_tokenizer, write_model_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run_sample(*args, cwd=ROOT):
    p = subprocess.run([sys.executable, str(ROOT / "sample.py"), *args], cwd=cwd, capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("args, expected", [
    (["--prompt", "   "], "prompt is empty"),
    (["--prompt", "x" * 100_000], "keep it under"),
    (["--prompt", "\x01\x02\x07\x1b"], "prompt is empty"),                   # only control characters
    (["--prompt", "blink", "--lang", "xx"], "not a configured language"),
    (["--prompt", "blink", "--explain", "klingon"], "not a configured language"),
    (["--prompt", "blink", "--model", "/nonexistent/ckpt.pt"], "not found"),
    (["--prompt", "blink", "--backend", "numpy", "--model", __file__], "needs a .gguf"),
    (["--prompt", "blink", "--candidates", "0"], "at least 1"),
])
def test_bad_input_gets_one_line(args, expected):
    rc, out, err = run_sample(*args)
    assert rc == 2
    assert "Traceback" not in err and expected in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_model_file_is_refused_cleanly(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 10)
    for backend in ("numpy", "native"):
        rc, out, err = run_sample("--prompt", "blink", "--backend", backend, "--model", str(bad))
        assert rc == 2 and "cannot load" in err and "Traceback" not in err


@pytest.mark.parametrize("text, lang", [
    ("blink the LED on pin 2 every half second", "en"),
    ("पिन 2 पर LED को हर आधे सेकंड में ब्लिंक करो", "hi"),
    ("haz que el LED parpadee cada segundo", "es"),
    ("fais clignoter la LED chaque seconde", "fr"),
    ("让引脚2上的LED每半秒闪烁一次", "zh"),
    ("ピン2のLEDを点滅させて", "ja"),
    ("பின் 2 இல் LED ஐ ஒளிரச் செய்", "ta"),
    ("ایل ای ڈی کو ہر سیکنڈ جلاؤ", "ur"),
    ("اجعل المصباح يومض كل ثانية", "ar"),
    ("পিন 2 এ LED জ্বালাও", "bn"),
])
def test_language_detection(text, lang):
    assert sample.detect_language(text) == lang


def test_prompt_cleaning_keeps_text_and_drops_controls():
    assert sample.clean_prompt("  blink\x07 the\x1b LED \n on pin 2 ") == "blink the LED on pin 2"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random model with room for RoboLM's prompt format (256 positions), as GGUF."""
    d = tmp_path_factory.mktemp("tiny256")
    tok = make_tokenizer()
    model, args = make_model(tok.vocab_size, max_seq_len=256)
    return model, args, tok, {"f32": write_model_file(d / "tiny-f32.gguf", model, args, tok, "f32")}


@pytest.fixture(scope="module")
def tiny_ckpt(tiny, tmp_path_factory):
    """The same model as a training checkpoint with its tokenizer on disk."""
    model, args, tok, files = tiny
    d = tmp_path_factory.mktemp("ckpt")
    tok_dir = tok.save(d / "tokenizer")
    tok_path = tok_dir / "tokenizer.json" if Path(tok_dir).is_dir() else tok_dir
    from dataclasses import asdict
    path = d / "ckpt.pt"
    torch.save({"model": model.state_dict(), "model_args": asdict(args), "tokenizer_path": str(tok_path),
                "tokenizer_hash": tok.hash, "step": 0, "config": {}}, path)
    return path


@pytest.mark.parametrize("backend", ["torch", "numpy", "native"])
def test_end_to_end_on_every_engine(backend, tiny, tiny_ckpt, tmp_path):
    model_path = str(tiny_ckpt) if backend == "torch" else str(tiny[3]["f32"])
    rc, out, err = run_sample("--prompt", "blink the LED [CODE] <eos>", "--backend", backend, "--model",
                              model_path, "--candidates", "2", "--max-new-tokens", "12", "--explain", "hi",
                              "--blocks", str(tmp_path / "ws.json"))
    assert "Traceback" not in err, err
    assert rc in (0, 1)                           # a random tiny model rarely writes valid code
    assert f"[{backend}] language: en" in out
    assert "--- candidate 1/2" in out
    assert ("valid MicroPython" in out) or ("--- candidate 2/2" in out and "invalid" in out)
    assert "--- explanation (Hindi)" in out
    assert "--- blocks written to" in out and (tmp_path / "ws.json").exists()


def test_prompt_longer_than_the_context_is_refused(tiny):
    rc, out, err = run_sample("--prompt", "blink the LED " * 60, "--backend", "numpy", "--model",
                              str(tiny[3]["f32"]))
    assert rc == 2 and "context" in err and "Traceback" not in err


def test_evaluate_reports_every_rate_on_a_tiny_model(tiny, tmp_path):
    """robolm.evaluate end to end on the native engine (a random model: the rates are whatever
    they are; the report must be complete and consistent)."""
    import json
    from robolm import evaluate
    held_out = json.loads((ROOT / "data/raw/syllabus/test_prompts.json").read_text(encoding="utf-8"))
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps(held_out[:3], ensure_ascii=False), encoding="utf-8")
    evaluate.main(["--backend", "native", "--model", str(tiny[3]["f32"]), "--prompts", str(prompts),
                   "--candidates", "2", "--max-new-tokens", "16", "--explain-programs", "2",
                   "--out", str(tmp_path / "eval")])
    report = json.loads((tmp_path / "eval" / "eval.json").read_text(encoding="utf-8"))
    assert len(report["rows"]) == 3 and (tmp_path / "eval" / "eval.png").exists()
    for row in report["rows"]:
        assert 1 <= row["candidates"] <= 2 and isinstance(row["chosen_behaviour"], bool)
        assert row["api"] <= row["syntax"] and row["behaviour"] <= row["syntax"]
    assert set(evaluate.RATES) <= set(report["summary"]["overall"])
    assert "behaviour after resampling" in (tmp_path / "eval" / "eval.md").read_text()
    # explanations: 2 test programs x the prompts' languages, each with both checks
    langs = {p["lang"] for p in held_out[:3]}
    assert len(report["explanations"]) == 2 * len(langs)
    for r in report["explanations"]:
        assert r["accepted"] == (r["in_language"] and r["numbers_from_code"]) == (not r["problems"])
        assert 1 <= r["candidates"] <= 2 and r["accepted_after_resampling"] >= r["accepted"]
    assert set(report["summary"]["explain"]["by_lang"]) == langs
    assert "in the requested language" in (tmp_path / "eval" / "eval.md").read_text()


def test_explanation_checks():
    from robolm.evaluate import explain_programs
    from robolm.validate import explanation_problems, numbers_in
    assert numbers_in("पिन २ और 0.5 s") == {2.0, 0.5}
    code = "led = Pin(2, Pin.OUT)\ntime.sleep_ms(500)\n"
    assert explanation_problems("यह प्रोग्राम पिन 2 की LED को हर 0.5 सेकंड में जलाता है।", code, "hi") == []
    assert explanation_problems("This program blinks the LED on pin 2.", code, "hi") == ["not in Hindi"]
    assert explanation_problems("Este programa enciende el LED del pin 25.", code, "es") == [
        "numbers not in the program: 25"]
    assert explanation_problems("यह प्रोग्राम पिन 2 की LED जलाता है।\n\nwhile True:\n    time.sleep_ms(500)", code,
                                "hi") == ["program code in the explanation"]
    assert explanation_problems("This program calls time.sleep_ms(500) on pin 2.", code, "en") == []
    progs = explain_programs(3)
    assert len(progs) == 3 and all(code.startswith("# ") for _, code in progs)


def test_unstated_facts_flags_checks_the_prompt_cannot_support():
    from robolm.evaluate import unstated_facts
    check = {"kind": "all_of", "checks": [{"kind": "pin_level", "pin": 17, "value": 1, "at": 1.5}]}
    assert unstated_facts({"prompt": "Button on pin 15, LED on pin 17.", "check": check,
                           "scenario": {"pins": {"button": 15}}}) == []
    assert unstated_facts({"prompt": "press the button and the light comes on", "check": check,
                           "scenario": {"pins": {"button": 15}}}) == ["pin 17", "button pin 15"]
    buzz = {"kind": "buzzer", "pin": 23, "freq": 1500}          # 23 is the firmware's buzzer pin
    assert unstated_facts({"prompt": "beep at 1500 Hz", "check": buzz}) == []
    assert unstated_facts({"prompt": "sound the alarm", "check": buzz}) == ["1500 Hz"]
    # what a request that names no value means: the task's default (security_alarm beeps at 2000 Hz)
    alarm = {"kind": "buzzer", "pin": 23, "freq": 2000}
    assert unstated_facts({"prompt": "sound the alarm", "check": alarm, "family": "security_alarm"}) == []
