"""The 25 languages RoboLM speaks, their scripts, and the language configs of seed section 6.1.

Code is always English MicroPython; prompts, comments and explanations are multilingual.
This file knows, for each language, its code, English name, script and native name, and can
tell which script a piece of text is written in (used by the tests, prepare.py and sample.py).

    >>> from robolm.languages import detect_script, LANGUAGES
    >>> detect_script("एलईडी को चालू करो")
    'Devanagari'
    >>> LANGUAGES["ta"].native_name
    'தமிழ்'
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Language:
    code: str          # seed code, also the [LANG:xx] token: "hi", "mai", "en"
    name: str          # English name
    script: str        # the seed's script label ("Nastaliq", "Kanji + Kana", ...)
    native_name: str   # the language's own name for itself
    group: str         # "indian" | "world"
    detect: str        # the Unicode script family detect_script() returns for this language


# The seed's order (section 12); [LANG:xx] token ids follow this order (12..36).
_TABLE = [
    ("hi", "Hindi", "Devanagari", "हिन्दी", "indian", "Devanagari"),
    ("bn", "Bengali", "Bengali", "বাংলা", "indian", "Bengali"),
    ("ta", "Tamil", "Tamil", "தமிழ்", "indian", "Tamil"),
    ("te", "Telugu", "Telugu", "తెలుగు", "indian", "Telugu"),
    ("mr", "Marathi", "Devanagari", "मराठी", "indian", "Devanagari"),
    ("gu", "Gujarati", "Gujarati", "ગુજરાતી", "indian", "Gujarati"),
    ("kn", "Kannada", "Kannada", "ಕನ್ನಡ", "indian", "Kannada"),
    ("ml", "Malayalam", "Malayalam", "മലയാളം", "indian", "Malayalam"),
    ("pa", "Punjabi", "Gurmukhi", "ਪੰਜਾਬੀ", "indian", "Gurmukhi"),
    ("or", "Odia", "Odia", "ଓଡ଼ିଆ", "indian", "Odia"),
    ("as", "Assamese", "Bengali", "অসমীয়া", "indian", "Bengali"),
    ("mai", "Maithili", "Devanagari", "मैथिली", "indian", "Devanagari"),
    ("sa", "Sanskrit", "Devanagari", "संस्कृतम्", "indian", "Devanagari"),
    ("ur", "Urdu", "Nastaliq", "اردو", "indian", "Arabic"),
    ("sd", "Sindhi", "Arabic", "سنڌي", "indian", "Arabic"),
    ("ks", "Kashmiri", "Nastaliq", "كٲشُر", "indian", "Arabic"),
    ("ne", "Nepali", "Devanagari", "नेपाली", "indian", "Devanagari"),
    ("kok", "Konkani", "Devanagari", "कोंकणी", "indian", "Devanagari"),
    ("en", "English", "Latin", "English", "world", "Latin"),
    ("zh", "Chinese (Mandarin)", "Simplified Chinese", "中文", "world", "Han"),
    ("es", "Spanish", "Latin", "Español", "world", "Latin"),
    ("fr", "French", "Latin", "Français", "world", "Latin"),
    ("ar", "Arabic", "Arabic", "العربية", "world", "Arabic"),
    ("pt", "Portuguese", "Latin", "Português", "world", "Latin"),
    ("ja", "Japanese", "Kanji + Kana", "日本語", "world", "Japanese"),
]
LANGUAGES = {row[0]: Language(*row) for row in _TABLE}
LANG_CODES = [row[0] for row in _TABLE]          # seed order
INDIAN = [c for c in LANG_CODES if LANGUAGES[c].group == "indian"]
WORLD = [c for c in LANG_CODES if LANGUAGES[c].group == "world"]

# ---------------------------------------------------------------------------------------------
# Script detection: count letters by Unicode block, return the dominant non-Latin script when it
# is present (English terms like `Pin` or `PWM` stay in Latin inside Hindi text), else "Latin".
# ---------------------------------------------------------------------------------------------
_BLOCKS = [  # (first, last, script)
    (0x0900, 0x097F, "Devanagari"), (0xA8E0, 0xA8FF, "Devanagari"),
    (0x0980, 0x09FF, "Bengali"), (0x0A00, 0x0A7F, "Gurmukhi"), (0x0A80, 0x0AFF, "Gujarati"),
    (0x0B00, 0x0B7F, "Odia"), (0x0B80, 0x0BFF, "Tamil"), (0x0C00, 0x0C7F, "Telugu"),
    (0x0C80, 0x0CFF, "Kannada"), (0x0D00, 0x0D7F, "Malayalam"),
    (0x0600, 0x06FF, "Arabic"), (0x0750, 0x077F, "Arabic"), (0x08A0, 0x08FF, "Arabic"),
    (0xFB50, 0xFDFF, "Arabic"), (0xFE70, 0xFEFF, "Arabic"),
    (0x3040, 0x309F, "Kana"), (0x30A0, 0x30FF, "Kana"), (0x31F0, 0x31FF, "Kana"), (0xFF66, 0xFF9F, "Kana"),
    (0x4E00, 0x9FFF, "Han"), (0x3400, 0x4DBF, "Han"), (0xF900, 0xFAFF, "Han"),
    (0x0041, 0x005A, "Latin"), (0x0061, 0x007A, "Latin"), (0x00C0, 0x024F, "Latin"),
]


def char_script(ch):
    """The script of one character, or None for digits, punctuation, spaces and symbols."""
    o = ord(ch)
    for lo, hi, script in _BLOCKS:
        if lo <= o <= hi:
            return script
    return None


def script_counts(text):
    """{script: number of letters} for a text."""
    counts = {}
    for ch in text:
        s = char_script(ch)
        if s:
            counts[s] = counts.get(s, 0) + 1
    return counts


def detect_script(text, min_share=0.2):
    """The script a text is written in: 'Devanagari', 'Bengali', ..., 'Arabic', 'Han',
    'Japanese' (any Kana present with Han/Kana), 'Latin', or 'unknown' (no letters).

    Latin words inside a non-Latin sentence (Pin, PWM, LED) are normal, so a non-Latin script
    wins when it holds at least `min_share` of the letters."""
    counts = script_counts(text)
    total = sum(counts.values())
    if total == 0:
        return "unknown"
    if counts.get("Kana", 0) > 0 and (counts.get("Kana", 0) + counts.get("Han", 0)) >= min_share * total:
        return "Japanese"
    others = {s: n for s, n in counts.items() if s != "Latin"}
    if others:
        best = max(sorted(others), key=lambda s: others[s])
        if others[best] >= min_share * total:
            return best
    return "Latin"


def text_in_language_script(text, code):
    """True when `text` is written in the script of language `code` (not which language it is:
    Hindi and Marathi share Devanagari). Used to catch untranslated English copies."""
    found = detect_script(text)
    if code == "ja" and found == "Han":      # a short all-Kanji phrase (日本語) is still Japanese
        return True
    return found == LANGUAGES[code].detect


def text_in_language(text, code):
    """True when `text` reads as language `code`: its script, and for the Latin-script languages
    (en, es, fr, pt) also guess_language's word hints. Languages that share a script (hi, mr, ne,
    mai, sa, kok; ar, ur, sd, ks; bn, as) are told apart by script only."""
    if not text_in_language_script(text, code):
        return False
    return LANGUAGES[code].detect != "Latin" or guess_language(text) == code


# A best guess of the language of a learner's text, so sample.py can pick [LANG:xx] when the
# user does not say. The script decides the family; a few letters and words that only one
# language of that script uses decide inside it. Short texts can be wrong: an explicit --lang wins.
_ARABIC_HINTS = [("sd", "ڄڃڇڏڙڪڳڻ"), ("ks", "ٲٳۆۄ"), ("ur", "ےںٹڈڑھ")]
_DEVANAGARI_WORDS = [("mr", ["आहे", "करा", "आणि", "मध्ये", "ळ"]), ("ne", ["छ", "गर्नुहोस्", "हुन्छ", "को लागि"]),
                     ("sa", ["अस्ति", "करोतु", "भवति", "एव"]), ("mai", ["अछि", "करू", "सँ"]), ("kok", ["आसा", "करात", "आनी"])]
_LATIN_WORDS = [("es", ["el", "la", "los", "que", "enciende", "cada", "segundos", "cuando", "haz", "pin de"]),
                ("fr", ["le", "la", "les", "que", "allume", "chaque", "secondes", "quand", "fais", "broche"]),
                ("pt", ["o", "os", "que", "acende", "cada", "segundos", "quando", "faça", "faz", "não"])]


def guess_language(text):
    """The most likely seed language code of a text ('en' when nothing points elsewhere)."""
    script = detect_script(text)
    if script == "Japanese":
        return "ja"
    if script == "Han":
        return "zh"
    if script == "Arabic":
        for code, letters in _ARABIC_HINTS:
            if any(ch in text for ch in letters):
                return code
        return "ar"
    if script == "Bengali":
        return "as" if any(ch in text for ch in "ৰৱ") else "bn"
    if script == "Devanagari":
        words = set(re.findall(r"[\u0900-\u097F]+", text))
        for code, hints in _DEVANAGARI_WORDS:
            if any(h in words or (len(h) == 1 and h in text) for h in hints):
                return code
        return "hi"
    single = {"Tamil": "ta", "Telugu": "te", "Gujarati": "gu", "Kannada": "kn", "Malayalam": "ml",
              "Gurmukhi": "pa", "Odia": "or"}
    if script in single:
        return single[script]
    words = re.findall(r"[a-zà-ÿ]+", text.lower())
    scores = {code: sum(w in hints for w in words) for code, hints in _LATIN_WORDS}
    if re.search(r"[ñ¿¡]", text):
        scores["es"] += 2
    if re.search(r"[ãõç]", text.lower()):
        scores["pt"] += 2
    if re.search(r"[èêàùœ]", text.lower()):
        scores["fr"] += 2
    best = max(sorted(scores), key=lambda c: scores[c])
    en_hits = sum(w in ("the", "and", "on", "every", "when", "make", "turn", "with", "of") for w in words)
    return best if scores[best] > en_hits else "en"


# ---------------------------------------------------------------------------------------------
# Language configs (configs/languages/*.yaml, seed section 6.1)
# ---------------------------------------------------------------------------------------------
STRATEGIES = ("proportional", "equal", "english_heavy")


@dataclass
class LanguageConfig:
    name: str
    languages: list                      # enabled codes, seed order
    mixing_strategy: str = "proportional"
    english_ratio: float = 0.5
    weights: dict = field(default_factory=dict)   # code -> relative weight (proportional only)

    def target_shares(self):
        """{code: share of examples}, summing to 1.

        equal:         every enabled language the same share (English is one of them).
        english_heavy: English gets english_ratio, the others split the rest equally.
        proportional:  English gets english_ratio, the others split the rest in proportion to
                       their `weight` in the config (default 1).
        Without English enabled, english_ratio is ignored."""
        langs = list(self.languages)
        if not langs:
            raise ValueError(f"language config {self.name!r} enables no language")
        if self.mixing_strategy == "equal" or langs == ["en"]:
            return {c: 1.0 / len(langs) for c in langs}
        others = [c for c in langs if c != "en"]
        en_share = self.english_ratio if "en" in langs else 0.0
        if self.mixing_strategy == "english_heavy":
            w = {c: 1.0 for c in others}
        else:
            w = {c: float(self.weights.get(c, 1.0)) for c in others}
        total = sum(w.values())
        shares = {c: (1.0 - en_share) * w[c] / total for c in others}
        if "en" in langs:
            shares["en"] = en_share
        return {c: shares[c] for c in langs}


def load_language_config(path):
    """Read a configs/languages/*.yaml file; fail loudly with the file name on any mistake."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"language config {path} not found; see configs/languages/") from None
    if not isinstance(raw, dict) or "enabled_languages" not in raw:
        raise ValueError(f"{path}: expected a mapping with 'enabled_languages'")
    allowed = {"name", "description", "enabled_languages", "mixing_strategy", "english_ratio"}
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(unknown)}; valid keys: {sorted(allowed)}")
    codes, weights = [], {}
    for entry in raw["enabled_languages"]:
        code = entry["code"] if isinstance(entry, dict) else str(entry)
        if code not in LANGUAGES:
            raise ValueError(f"{path}: unknown language code {code!r}; valid: {' '.join(LANG_CODES)}")
        if isinstance(entry, dict) and not entry.get("enabled", True):
            continue
        codes.append(code)
        if isinstance(entry, dict) and "weight" in entry:
            weights[code] = float(entry["weight"])
    strategy = raw.get("mixing_strategy", "proportional")
    if strategy not in STRATEGIES:
        raise ValueError(f"{path}: mixing_strategy {strategy!r} is not one of {STRATEGIES}")
    ratio = float(raw.get("english_ratio", 0.5))
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"{path}: english_ratio {ratio} must be within 0..1")
    codes = [c for c in LANG_CODES if c in codes]
    return LanguageConfig(raw.get("name", path.stem), codes, strategy, ratio, weights)
