"""The 25 languages, script detection and the language configs (seed sections 6.1 and 12)."""
from pathlib import Path

import pytest

from robolm.languages import (LANG_CODES, LANGUAGES, INDIAN, WORLD, detect_script,
                              load_language_config, text_in_language_script)

ROOT = Path(__file__).resolve().parents[1]

SAMPLES = {  # one sentence per script family
    "hi": "एलईडी को हर आधे सेकंड में चालू और बंद करो", "bn": "এলইডি জ্বালাও", "ta": "எல்இடியை ஒளிரச் செய்",
    "te": "ఎల్ఈడీని వెలిగించు", "gu": "એલઇડી ચાલુ કરો", "kn": "ಎಲ್ಇಡಿ ಬೆಳಗಿಸು", "ml": "എൽഇഡി തെളിക്കുക",
    "pa": "ਐਲਈਡੀ ਚਾਲੂ ਕਰੋ", "or": "ଏଲଇଡି ଜଳାଅ", "ur": "ایل ای ڈی جلاؤ", "zh": "让LED每秒闪烁一次",
    "ja": "LEDを1秒ごとに点滅させて", "es": "Haz parpadear el LED", "ar": "اجعل المصباح يومض",
}


def test_table_matches_seed():
    assert len(LANG_CODES) == 25 and len(INDIAN) == 18 and len(WORLD) == 7
    assert LANG_CODES[:3] == ["hi", "bn", "ta"] and LANG_CODES[-1] == "ja" and LANG_CODES[18] == "en"
    assert LANGUAGES["ur"].script == "Nastaliq" and LANGUAGES["as"].detect == "Bengali"


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_detect_script(code):
    assert detect_script(SAMPLES[code]) == LANGUAGES[code].detect
    assert text_in_language_script(SAMPLES[code], code)


def test_native_names_are_in_their_script():
    for code, lang in LANGUAGES.items():
        if code != "en":
            assert text_in_language_script(lang.native_name, code), code


def test_latin_terms_inside_other_script_and_english_copy():
    assert detect_script("PWM पिन 13 पर servo को 90 डिग्री पर घुमाओ") == "Devanagari"
    assert not text_in_language_script("Blink the LED on pin 2", "hi")
    assert detect_script("1234 !!") == "unknown"


@pytest.mark.parametrize("name", ["all-languages", "indian-only", "world-only", "custom"])
def test_configs_load_and_shares_sum_to_one(name):
    cfg = load_language_config(ROOT / "configs" / "languages" / f"{name}.yaml")
    shares = cfg.target_shares()
    assert abs(sum(shares.values()) - 1) < 1e-9 and set(shares) == set(cfg.languages)
    if name == "all-languages":
        assert len(cfg.languages) == 25
    if name == "indian-only":
        assert set(cfg.languages) - {"en"} == set(INDIAN)
    if name == "world-only":
        assert set(cfg.languages) == set(WORLD)


def test_strategies(tmp_path):
    p = tmp_path / "c.yaml"
    body = "name: t\nenabled_languages:\n  - {code: en}\n  - {code: hi, weight: 3}\n  - {code: ta, weight: 1}\n"
    p.write_text(body + "mixing_strategy: equal\n")
    assert load_language_config(p).target_shares() == pytest.approx({"hi": 1 / 3, "ta": 1 / 3, "en": 1 / 3})
    p.write_text(body + "mixing_strategy: english_heavy\nenglish_ratio: 0.6\n")
    assert load_language_config(p).target_shares() == pytest.approx({"hi": .2, "ta": .2, "en": .6})
    p.write_text(body + "mixing_strategy: proportional\nenglish_ratio: 0.2\n")
    assert load_language_config(p).target_shares() == pytest.approx({"hi": .6, "ta": .2, "en": .2})


def test_bad_configs_fail_loudly(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("enabled_languages: [{code: xx}]\n")
    with pytest.raises(ValueError, match="unknown language code 'xx'"):
        load_language_config(p)
    p.write_text("enabled_languages: [{code: en}]\nmixing_strategy: random\n")
    with pytest.raises(ValueError, match="mixing_strategy"):
        load_language_config(p)
    p.write_text("enabled_languages: [{code: en}]\nenglsh_ratio: 0.3\n")
    with pytest.raises(ValueError, match="englsh_ratio"):
        load_language_config(p)


@pytest.mark.parametrize("text,code", [
    ("Blink the LED on pin 2 every second", "en"), ("एलईडी को हर सेकंड चालू करो", "hi"),
    ("एलईडी चालू करा आणि बंद करा", "mr"), ("এলইডি জ্বালাও", "bn"), ("এলইডিটো জ্বলাওক আৰু নুমুৱাওক", "as"),
    ("ایل ای ڈی کو ہر سیکنڈ جلاؤ", "ur"), ("اجعل المصباح يومض كل ثانية", "ar"), ("让LED每秒闪烁一次", "zh"),
    ("LEDを1秒ごとに点滅させて", "ja"), ("Haz parpadear el LED cada segundo", "es"),
    ("Fais clignoter la LED chaque seconde", "fr"), ("Faça o LED piscar a cada segundo", "pt"),
    ("எல்இடியை ஒளிரச் செய்", "ta"), ("ਐਲਈਡੀ ਚਾਲੂ ਕਰੋ", "pa"),
])
def test_guess_language(text, code):
    from robolm.languages import guess_language
    assert guess_language(text) == code


def test_text_in_language_tells_latin_languages_apart_and_checks_the_script():
    from robolm.languages import text_in_language
    assert text_in_language("Este programa enciende el LED cada segundo.", "es")
    assert not text_in_language("This program turns the LED on every second.", "es")
    assert text_in_language("This program turns the LED on every second.", "en")
    assert text_in_language("यह प्रोग्राम पिन 2 की LED जलाता है।", "hi")
    assert not text_in_language("This program turns the LED on pin 2 on.", "hi")
    assert not text_in_language("这个程序让LED闪烁。", "hi")
