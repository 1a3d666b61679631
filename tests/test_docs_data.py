"""Checks for the multilingual documentation topics in data/raw/docs/.

en.yaml is the source: it must exist and hold at least 100 topics. Every other language
file that exists must parse, have exactly the same topic keys, be written mostly in its
language's script (letters counted by Unicode script, Latin code terms ignored), differ
from the English text, be of comparable length, and keep the code terms (Pin.OUT,
sleep_ms, ATTN_11DB, ...) and numbers (pins, ranges) of the English text. Languages not
written yet are skipped.
"""

import re
import unicodedata
from pathlib import Path

import pytest
import yaml

DOCS = Path(__file__).resolve().parents[1] / "data" / "raw" / "docs"

# The seed's 25 language codes, in the seed's order.
LANGS = "hi bn ta te mr gu kn ml pa or as mai sa ur sd ks ne kok en zh es fr ar pt ja".split()

# Unicode character-name prefixes that count as "the language's script".
SCRIPT = {
    **{code: ("DEVANAGARI",) for code in ("hi", "mr", "mai", "sa", "ne", "kok")},
    "bn": ("BENGALI",), "as": ("BENGALI",),
    "ta": ("TAMIL",), "te": ("TELUGU",), "gu": ("GUJARATI",), "kn": ("KANNADA",),
    "ml": ("MALAYALAM",), "pa": ("GURMUKHI",), "or": ("ORIYA",),
    **{code: ("ARABIC",) for code in ("ur", "sd", "ks", "ar")},
    "zh": ("CJK UNIFIED IDEOGRAPH",),
    "ja": ("CJK UNIFIED IDEOGRAPH", "HIRAGANA", "KATAKANA"),
}
LATIN_LANGS = ("en", "es", "fr", "pt")

# A few everyday function words: each Latin-script text must contain one of its language's.
FUNCTION_WORDS = {
    "es": {"el", "la", "los", "las", "de", "del", "que", "y", "en", "un", "una", "con", "para", "es"},
    "fr": {"le", "la", "les", "de", "des", "du", "un", "une", "et", "est", "pour", "en", "que"},
    "pt": {"o", "a", "os", "as", "de", "do", "da", "um", "uma", "e", "é", "para", "com", "em", "que"},
}

# Code terms that translations must keep as they are: dotted names and snake_case names.
CODE_TERM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+|[A-Za-z0-9]+_[A-Za-z0-9_]+")
NUMBER = re.compile(r"(?<![A-Za-z0-9_.])\d+(?:\.\d+)?")

MIN_NATIVE_SHARE_TEXT = 0.30  # of all letters in one text (code terms are Latin letters)
MIN_NATIVE_SHARE_FILE = 0.55  # of all letters in one file
# One Han character carries about a syllable, so Chinese and Japanese need far fewer letters
# than English code terms for the same content: their shares are measured against lower bars.
DENSE_SCRIPT_SHARE = {"zh": (0.15, 0.40), "ja": (0.15, 0.40)}
# A translated text must be about as long as the English one (guards against truncated or
# placeholder texts); Han text needs far fewer characters for the same content.
LENGTH_RATIO = (0.5, 2.5)
DENSE_LENGTH_RATIO = (0.25, 2.0)
MIN_SCRIPT_PURITY = 0.97      # of the non-Latin letters


def load(code):
    path = DOCS / f"{code}.yaml"
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    assert isinstance(data, dict), f"{path}: top level must be a mapping"
    assert data.get("lang") == code, f"{path}: lang is {data.get('lang')!r}, expected {code!r}"
    topics = data.get("topics")
    assert isinstance(topics, dict) and topics, f"{path}: 'topics' must be a non-empty mapping"
    for key, topic in topics.items():
        assert isinstance(topic, dict) and set(topic) == {"title", "text"}, \
            f"{path}: topic {key!r} must have exactly 'title' and 'text'"
        for field in ("title", "text"):
            assert isinstance(topic[field], str) and topic[field].strip(), \
                f"{path}: topic {key!r} has an empty {field}"
    return topics


def letter_counts(text, prefixes):
    """(native, other non-Latin, Latin) letter counts; combining marks count with letters."""
    native = other = latin = 0
    for ch in text:
        if not unicodedata.category(ch)[0] in "LM":
            continue
        name = unicodedata.name(ch, "")
        if name.startswith("LATIN"):
            latin += 1
        elif name.startswith(prefixes):
            native += 1
        else:
            other += 1
    return native, other, latin


def present_langs():
    return [code for code in LANGS if code != "en" and (DOCS / f"{code}.yaml").exists()]


def test_english_source_exists_with_100_topics():
    topics = load("en")
    assert len(topics) >= 100, f"en.yaml has {len(topics)} topics, need >= 100"
    for key, topic in topics.items():
        assert re.fullmatch(r"[a-z0-9_]+", key), f"topic key {key!r} must be snake_case"
        n_sentences = len(re.findall(r"[.!?](?:\s|$)", topic["text"]))
        assert 2 <= n_sentences <= 5, f"en {key}: {n_sentences} sentences, expected 2-4 short ones"


def test_only_seed_languages():
    for path in DOCS.glob("*.yaml"):
        assert path.stem in LANGS, f"{path.name} is not one of the seed's 25 language codes"


@pytest.mark.parametrize("code", present_langs())
def test_translation(code):
    en = load("en")
    topics = load(code)
    assert set(topics) == set(en), (
        f"{code}.yaml topic keys differ from en.yaml: missing {sorted(set(en) - set(topics))}, "
        f"extra {sorted(set(topics) - set(en))}")

    file_native = file_letters = 0
    for key, topic in topics.items():
        src = en[key]
        assert topic["text"].strip() != src["text"].strip(), f"{code} {key}: text is a copy of the English"
        low, high = DENSE_LENGTH_RATIO if code in DENSE_SCRIPT_SHARE else LENGTH_RATIO
        ratio = len(topic["text"]) / len(src["text"])
        assert low <= ratio <= high, f"{code} {key}: text is {ratio:.2f}x the English length"

        text = topic["title"] + " " + topic["text"]
        if code in LATIN_LANGS:
            words = set(re.findall(r"\w+", topic["text"].lower()))
            assert words & FUNCTION_WORDS[code], f"{code} {key}: no {code} function word in the text"
            native, other, latin = letter_counts(text, ("LATIN",))
            assert other == 0, f"{code} {key}: non-Latin letters in a Latin-script language"
        else:
            native, other, latin = letter_counts(text, SCRIPT[code])
            assert native / max(1, native + other) >= MIN_SCRIPT_PURITY, \
                f"{code} {key}: script mix, {native} {SCRIPT[code][0]} vs {other} other non-Latin letters"
            share = native / max(1, native + other + latin)
            min_text = DENSE_SCRIPT_SHARE.get(code, (MIN_NATIVE_SHARE_TEXT,))[0]
            assert share >= min_text, \
                f"{code} {key}: only {share:.0%} of letters in {SCRIPT[code][0]} script"
            file_native += native
            file_letters += native + other + latin
            if code == "ja":
                kana = sum(unicodedata.name(c, "").startswith(("HIRAGANA", "KATAKANA")) for c in text)
                assert kana > 0, f"ja {key}: no kana, looks like Chinese"
            if code == "zh":
                kana = sum(unicodedata.name(c, "").startswith(("HIRAGANA", "KATAKANA")) for c in text)
                assert kana == 0, f"zh {key}: contains Japanese kana"

        missing_terms = set(CODE_TERM.findall(src["text"])) - set(CODE_TERM.findall(topic["text"]))
        assert not missing_terms, f"{code} {key}: code terms changed or missing: {sorted(missing_terms)}"
        missing_numbers = set(NUMBER.findall(src["text"])) - set(NUMBER.findall(topic["text"]))
        assert not missing_numbers, f"{code} {key}: numbers missing: {sorted(missing_numbers)}"

    if code not in LATIN_LANGS:
        share = file_native / max(1, file_letters)
        min_file = DENSE_SCRIPT_SHARE.get(code, (0, MIN_NATIVE_SHARE_FILE))[1]
        assert share >= min_file, f"{code}: only {share:.0%} of all letters in its script"
