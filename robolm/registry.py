"""Registries of what robot programs may call, extracted by code, never written by hand.

1. The block registry (seed section 5.1, "Source 2"): one entry per Blockly block, made by
   joining the block definitions in blocks/*.json (Blockly's own JSON plus a small `robolm`
   section with the return type and hardware) with the firmware's source (firmware/robot.py,
   read with `ast`: method names, parameters, defaults, docstrings). If the two disagree on
   a name, the parameter list or a default, building the registry fails with every problem
   listed, so they cannot drift apart.

       from robolm.registry import block_registry
       reg = block_registry()            # list of dicts in the Source 2 schema
       reg[0]["block_name"], reg[0]["micropython_code"]

2. The MicroPython API registry, read with `ast` from the .pyi files of the installed
   `micropython-esp32-stubs` package: modules, classes, functions, methods, constants,
   signatures with defaults and the first sentence of each docstring.

       from robolm.registry import micropython_api
       api = micropython_api()
       api["modules"]["machine"]["classes"]["Pin"]["constants"]["OUT"]   # {"value": 3, ...}

Both are plain JSON-able dicts. `scripts/extract_registry.py` writes them to files.
"""
from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKS_DIR = ROOT / "blocks"
FIRMWARE = ROOT / "firmware" / "robot.py"
REQUIRED = "<required>"  # marks a firmware parameter without a default
PREAMBLE = "from robot import Robot\nrobot = Robot()\n"
CATEGORIES = ("motion", "servo", "sensors", "lights", "sound", "display", "communication", "timing")
# Blockly output check for each return type in the robolm section
OUTPUT_OF = {"int": "Number", "float": "Number", "bool": "Boolean", "str": "String", "list": "Array"}


class RegistryError(ValueError):
    """The block definitions and the firmware disagree (the message lists every problem)."""


# ----------------------------------------------------------------------------- firmware
def firmware_methods(path: Path = FIRMWARE) -> dict:
    """Public methods of class Robot in the firmware, read with ast (the firmware is never run).

    Returns {name: {"params": [(name, default or REQUIRED), ...], "doc": first docstring line,
    "line": line number}} in source order.
    """
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    robot = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Robot"]
    if not robot:
        raise RegistryError(f"{path}: no class Robot")
    methods = {}
    for fn in robot[0].body:
        if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_"):
            continue
        args = fn.args.args[1:]  # drop self
        if fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs or fn.args.posonlyargs:
            raise RegistryError(f"{path}:{fn.lineno}: Robot.{fn.name} must use plain parameters only")
        defaults = [ast.literal_eval(d) for d in fn.args.defaults]
        n_required = len(args) - len(defaults)
        params = [(a.arg, REQUIRED if i < n_required else defaults[i - n_required]) for i, a in enumerate(args)]
        doc = (ast.get_docstring(fn) or "").strip().split("\n")[0]
        methods[fn.name] = {"params": params, "doc": doc, "line": fn.lineno}
    return methods


# ------------------------------------------------------------------------------- blocks
def load_block_files(blocks_dir: Path = BLOCKS_DIR) -> list[dict]:
    """Every blocks/<category>.json, parsed, in CATEGORIES order (unknown categories after)."""
    files = []
    for path in sorted(Path(blocks_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise RegistryError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        for key in ("category", "name", "colour", "blocks", "robolm"):
            if key not in data:
                raise RegistryError(f"{path}: missing top-level key {key!r}")
        data["_path"] = str(path)
        files.append(data)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    files.sort(key=lambda d: (order.get(d["category"], len(order)), d["category"]))
    return files


def _param_from_arg(arg: dict, meta_inputs: dict, fw_default) -> dict:
    """One parameter's registry entry (type, range, default, ...) from its Blockly argument."""
    kind = arg["type"]
    if kind == "field_number":
        is_int = arg.get("precision") == 1
        p = {"type": "int" if is_int else "float", "range": [arg.get("min"), arg.get("max")],
             "default": arg.get("value")}
    elif kind == "field_input":
        p = {"type": "str", "range": None, "default": arg.get("text", "")}
    elif kind == "field_checkbox":
        p = {"type": "bool", "range": None, "default": bool(arg.get("checked", False))}
    elif kind == "field_dropdown":
        choices = [o[1] for o in arg["options"]]
        p = {"type": "str", "range": None, "choices": choices, "default": choices[0]}
    elif kind == "input_value":
        meta = meta_inputs.get(arg["name"].lower(), {})
        p = {"type": meta.get("type", "any"), "range": meta.get("range"),
             "default": None if fw_default is REQUIRED else fw_default, "example": meta.get("example")}
    else:
        raise RegistryError(f"unsupported Blockly argument type {kind!r}")
    p["block_field"] = arg["name"]
    p["block_arg"] = kind
    # the block shows a starting value for every field; only the firmware says which are defaults
    p["required"] = fw_default is REQUIRED
    if kind != "input_value":
        p["example"] = p["default"]
        if fw_default is REQUIRED:
            p["default"] = None
    return p


def _literal(value) -> str:
    """A Python literal for a block's field value, as the generator writes it."""
    if isinstance(value, float) and value.is_integer():
        return repr(int(value)) if abs(value) < 1e15 else repr(value)
    return repr(value)


def call_code(function: str, args: list[str]) -> str:
    """The call a block generates: robot.<function>(<args>)."""
    return f"robot.{function}({', '.join(args)})"


def check_blocks(blocks_dir: Path = BLOCKS_DIR, firmware: Path = FIRMWARE) -> list[str]:
    """Every disagreement between the block files and the firmware, as readable lines ([] = none)."""
    problems = []
    methods = firmware_methods(firmware)
    seen = {}
    for f in load_block_files(blocks_dir):
        where = Path(f["_path"]).name
        if f["category"] not in CATEGORIES:
            problems.append(f"{where}: unknown category {f['category']!r} (use one of {', '.join(CATEGORIES)})")
        for blk in f["blocks"]:
            name = blk.get("type", "?")
            if name in seen:
                problems.append(f"{where}: block {name!r} is defined twice (also in {seen[name]})")
            seen[name] = where
            for key in ("message0", "colour", "tooltip"):
                if key not in blk:
                    problems.append(f"{where}: block {name!r} has no {key!r}")
            if name not in methods:
                problems.append(f"{where}: block {name!r} has no firmware method Robot.{name}")
                continue
            meta = f["robolm"].get(name)
            if meta is None:
                problems.append(f"{where}: block {name!r} has no entry in the 'robolm' section")
                continue
            fw_params = methods[name]["params"]
            args = blk.get("args0", [])
            placeholders = sorted(int(m) for m in re.findall(r"%(\d+)", blk.get("message0", "")))
            if placeholders != list(range(1, len(args) + 1)):
                problems.append(f"{where}: block {name!r}: message0 placeholders {placeholders} "
                                f"do not match its {len(args)} arguments")
            if len(args) != len(fw_params):
                problems.append(f"{where}: block {name!r} has {len(args)} arguments, firmware "
                                f"Robot.{name} has {len(fw_params)} parameters {[p for p, _ in fw_params]}")
                continue
            for arg, (pname, fw_default) in zip(args, fw_params):
                if arg.get("name") != pname.upper():
                    problems.append(f"{where}: block {name!r}: argument {arg.get('name')!r} should be "
                                    f"{pname.upper()!r} to match firmware parameter {pname!r}")
                    continue
                try:
                    p = _param_from_arg(arg, meta.get("inputs", {}), fw_default)
                except RegistryError as e:
                    problems.append(f"{where}: block {name!r}: {e}")
                    continue
                if fw_default is not REQUIRED and p["block_arg"] != "input_value" and p["example"] != fw_default:
                    problems.append(f"{where}: block {name!r}: {pname} starts at {p['example']!r} but the "
                                    f"firmware default is {fw_default!r}")
                if fw_default is not REQUIRED and p.get("range") and p["range"][0] is not None:
                    lo, hi = p["range"]
                    if not lo <= fw_default <= hi:
                        problems.append(f"{where}: block {name!r}: firmware default {pname}={fw_default!r} "
                                        f"is outside the block's range {p['range']}")
            ret = meta.get("returns")
            if ret == "None":
                if "output" in blk or "previousStatement" not in blk or "nextStatement" not in blk:
                    problems.append(f"{where}: block {name!r} returns None so it must be a statement "
                                    "block (previousStatement/nextStatement, no output)")
            elif ret in OUTPUT_OF:
                if blk.get("output") != OUTPUT_OF[ret] or "previousStatement" in blk:
                    problems.append(f"{where}: block {name!r} returns {ret} so it needs "
                                    f"\"output\": {OUTPUT_OF[ret]!r}")
            else:
                problems.append(f"{where}: block {name!r}: unknown return type {ret!r}")
            if not isinstance(meta.get("hardware"), list):
                problems.append(f"{where}: block {name!r}: 'hardware' must be a list")
            if blk.get("tooltip") != methods[name]["doc"]:
                problems.append(f"{where}: block {name!r}: tooltip differs from the first line of the "
                                f"docstring of Robot.{name}: {methods[name]['doc']!r}")
    for name in methods:
        if name not in seen:
            problems.append(f"firmware Robot.{name} (line {methods[name]['line']}) has no block")
    return problems


def block_registry(blocks_dir: Path = BLOCKS_DIR, firmware: Path = FIRMWARE) -> list[dict]:
    """The block registry in the seed's Source 2 schema, one dict per block (raises RegistryError)."""
    problems = check_blocks(blocks_dir, firmware)
    if problems:
        raise RegistryError("blocks and firmware disagree:\n  " + "\n  ".join(problems))
    methods = firmware_methods(firmware)
    registry = []
    for f in load_block_files(blocks_dir):
        for blk in f["blocks"]:
            name = blk["type"]
            meta = f["robolm"][name]
            params = {}
            example_args = []
            for arg, (pname, fw_default) in zip(blk.get("args0", []), methods[name]["params"]):
                p = _param_from_arg(arg, meta.get("inputs", {}), fw_default)
                params[pname] = p
                example_args.append(_literal(p["example"]))
            signature = ", ".join(p if d is REQUIRED else f"{p}={d!r}" for p, d in methods[name]["params"])
            call = call_code(name, example_args)
            returns = meta["returns"]
            registry.append({
                "block_name": name,
                "function": f"robot.{name}({signature})",
                "parameters": params,
                "returns": returns,
                "category": f["category"],
                "description": methods[name]["doc"],
                "micropython_code": PREAMBLE + (call if returns == "None" else f"print({call})"),
                "hardware_required": meta["hardware"],
                # extras for the validator, the generator and the docs corpus
                "arity": [sum(1 for _, d in methods[name]["params"] if d is REQUIRED), len(methods[name]["params"])],
                "generator": call_code(name, ["{%s}" % a["name"] for a in blk.get("args0", [])]),
                "block": {k: v for k, v in blk.items()},
            })
    return registry


def toolbox(blocks_dir: Path = BLOCKS_DIR) -> dict:
    """A Blockly category toolbox for all blocks (value inputs get a shadow with their example)."""
    contents = []
    for f in load_block_files(blocks_dir):
        items = []
        for blk in f["blocks"]:
            item = {"kind": "block", "type": blk["type"]}
            inputs = {}
            for arg in blk.get("args0", []):
                if arg["type"] == "input_value":
                    ex = f["robolm"][blk["type"]].get("inputs", {}).get(arg["name"].lower(), {}).get("example", "")
                    if isinstance(ex, (int, float)):
                        inputs[arg["name"]] = {"shadow": {"type": "math_number", "fields": {"NUM": ex}}}
                    else:
                        inputs[arg["name"]] = {"shadow": {"type": "text", "fields": {"TEXT": str(ex)}}}
            if inputs:
                item["inputs"] = inputs
            items.append(item)
        contents.append({"kind": "category", "name": f["name"], "colour": str(f["colour"]), "contents": items})
    return {"kind": "categoryToolbox", "contents": contents}


# ------------------------------------------------------------- MicroPython API registry
def stubs_dir() -> Path:
    """Folder holding the .pyi files of the installed micropython-esp32-stubs package."""
    from importlib import metadata
    try:
        dist = metadata.distribution("micropython-esp32-stubs")
    except metadata.PackageNotFoundError:
        raise RegistryError("micropython-esp32-stubs is not installed; "
                            "run .venv/bin/pip install micropython-esp32-stubs") from None
    machine = [f for f in dist.files or [] if str(f) == "machine.pyi"]
    if not machine:
        raise RegistryError("micropython-esp32-stubs has no machine.pyi")
    return Path(dist.locate_file(machine[0])).parent


def _first_sentence(doc: str | None) -> str:
    if not doc:
        return ""
    text = " ".join(doc.strip().split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text)[:300]


def _signature(fn: ast.FunctionDef | ast.AsyncFunctionDef, drop_self: bool) -> dict:
    """Parameters of a stub function: name, kind, annotation and default as source text."""
    a = fn.args
    params = []
    positional = a.posonlyargs + a.args
    defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    for i, arg in enumerate(positional):
        kind = "positional_only" if i < len(a.posonlyargs) else "positional_or_keyword"
        params.append({"name": arg.arg, "kind": kind,
                       "annotation": ast.unparse(arg.annotation) if arg.annotation else None,
                       "default": ast.unparse(defaults[i]) if defaults[i] is not None else None})
    if a.vararg:
        params.append({"name": a.vararg.arg, "kind": "var_positional", "annotation": None, "default": None})
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        params.append({"name": arg.arg, "kind": "keyword_only",
                       "annotation": ast.unparse(arg.annotation) if arg.annotation else None,
                       "default": ast.unparse(d) if d is not None else None})
    if a.kwarg:
        params.append({"name": a.kwarg.arg, "kind": "var_keyword", "annotation": None, "default": None})
    if drop_self and params and params[0]["name"] in ("self", "cls"):
        params = params[1:]
    return {"params": params, "returns": ast.unparse(fn.returns) if fn.returns else None}


def _constant(node: ast.AST) -> dict:
    """A stub constant: its literal value if the stub gives one, else its annotation."""
    value = getattr(node, "value", None)
    try:
        literal = ast.literal_eval(value) if value is not None else None
    except ValueError:
        literal = None
    if literal is Ellipsis:
        literal = None
    ann = getattr(node, "annotation", None)
    return {"value": literal, "annotation": ast.unparse(ann) if ann is not None else None}


def _callables_and_constants(body: list, in_class: bool) -> tuple[dict, dict, dict]:
    funcs, consts, classes = {}, {}, {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            sig = _signature(node, drop_self=in_class)
            entry = funcs.setdefault(node.name, {"signatures": [], "doc": "", "line": node.lineno})
            entry["signatures"].append(sig)  # several with @overload
            entry["doc"] = entry["doc"] or _first_sentence(ast.get_docstring(node))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            consts[node.target.id] = _constant(node)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    consts[t.id] = _constant(node)
        elif isinstance(node, ast.ClassDef):
            m, c, inner = _callables_and_constants(node.body, in_class=True)
            classes[node.name] = {"bases": [ast.unparse(b) for b in node.bases], "methods": m,
                                  "constants": c, "classes": inner,
                                  "doc": _first_sentence(ast.get_docstring(node)), "line": node.lineno}
    return funcs, consts, classes


def _parse_stub(path: Path) -> dict:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    funcs, consts, classes = _callables_and_constants(tree.body, in_class=False)
    star = [n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module
            and any(a.name == "*" for a in n.names)]
    imported = {}
    for n in tree.body:  # names re-exported from other modules, e.g. `from machine import Pin`
        if isinstance(n, ast.ImportFrom) and n.module and not n.module.startswith(("_", "typing", "__future__")):
            for a in n.names:
                if a.name != "*":
                    imported[a.asname or a.name] = f"{n.module}.{a.name}"
    return {"doc": _first_sentence(ast.get_docstring(tree)), "functions": funcs, "constants": consts,
            "classes": classes, "reexports": star, "imports": imported}


def _stub_files(directory: Path | None) -> list[tuple[str, Path]]:
    """(module name, path) for every .pyi of the stubs package (its RECORD, or a folder's files)."""
    from importlib import metadata
    if directory is None:
        dist = metadata.distribution("micropython-esp32-stubs")
        rels = [Path(str(f)) for f in dist.files or [] if str(f).endswith(".pyi")]
        base = stubs_dir()
    else:
        base = Path(directory)
        rels = [p.relative_to(base) for p in base.rglob("*.pyi")]
    out = []
    for rel in sorted(rels):
        name = ".".join(rel.with_suffix("").parts)
        name = name[: -len(".__init__")] if name.endswith(".__init__") else name
        out.append((name, base / rel))
    return out


def build_micropython_api(directory: Path | None = None) -> dict:
    """Parse every .pyi of the stubs package into one JSON-able dict (well under a second)."""
    from importlib import metadata
    try:
        version = metadata.version("micropython-esp32-stubs")
    except metadata.PackageNotFoundError:
        raise RegistryError("micropython-esp32-stubs is not installed; "
                            "run .venv/bin/pip install micropython-esp32-stubs") from None
    modules = {name: _parse_stub(path) for name, path in _stub_files(directory)}
    return {"source": "micropython-esp32-stubs", "version": version, "modules": modules}


def micropython_api(cache: Path | None = None) -> dict:
    """The MicroPython API registry, built from the stubs (and cached as JSON in `cache` if given)."""
    if cache is not None:
        cache = Path(cache)
        if cache.exists():
            return json.loads(cache.read_text())
        api = build_micropython_api()
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(api))
        tmp.replace(cache)
        return api
    return _micropython_api_memo()


@functools.lru_cache(maxsize=1)
def _micropython_api_memo() -> dict:
    return build_micropython_api()


def resolve_module(api: dict, name: str) -> dict | None:
    """A module of the API registry, following `from X import *` aliases (utime -> time)."""
    mods = api["modules"]
    seen = set()
    while name in mods and name not in seen:
        seen.add(name)
        mod = mods[name]
        if not (mod["functions"] or mod["classes"] or mod["constants"]) and len(mod["reexports"]) == 1:
            name = mod["reexports"][0]
            continue
        return mod
    return None


def api_summary(api: dict) -> dict:
    """Counts for a report: modules, classes, functions, methods, constants."""
    counts = {"modules": 0, "classes": 0, "functions": 0, "methods": 0, "constants": 0, "with_doc": 0}

    def walk_class(c):
        counts["classes"] += 1
        counts["methods"] += len(c["methods"])
        counts["constants"] += len(c["constants"])
        counts["with_doc"] += sum(1 for m in c["methods"].values() if m["doc"])
        for inner in c["classes"].values():
            walk_class(inner)
    for mod in api["modules"].values():
        counts["modules"] += 1
        counts["functions"] += len(mod["functions"])
        counts["constants"] += len(mod["constants"])
        counts["with_doc"] += sum(1 for f in mod["functions"].values() if f["doc"])
        for c in mod["classes"].values():
            walk_class(c)
    return counts


def format_signature(name: str, sig: dict) -> str:
    """`Pin(id, mode=-1, pull=-1, *, value=None)`-style text for one stub signature."""
    parts, star_done = [], False
    params = sig["params"]
    for i, p in enumerate(params):
        if p["kind"] == "keyword_only" and not star_done:
            parts.append("*")
            star_done = True
        text = {"var_positional": "*", "var_keyword": "**"}.get(p["kind"], "") + p["name"]
        if p["kind"] == "var_positional":
            star_done = True
        if p["default"] is not None:
            text += "=" + p["default"]
        parts.append(text)
        if p["kind"] == "positional_only" and (i + 1 == len(params) or params[i + 1]["kind"] != "positional_only"):
            parts.append("/")
    out = f"{name}({', '.join(parts)})"
    return out + (f" -> {sig['returns']}" if sig.get("returns") and sig["returns"] != "None" else "")


def api_entries(api: dict | None = None) -> list[dict]:
    """The MicroPython API as flat records for docs and the corpus: one per function, class,
    method and constant: {"module", "name", "kind", "signatures", "doc"} (name is qualified,
    e.g. "machine.Pin.value"); reexport-only modules (utime -> time) are skipped."""
    api = api or micropython_api()
    out = []

    def add_class(module, prefix, cls):
        init = cls["methods"].get("__init__")
        out.append({"module": module, "name": prefix, "kind": "class", "doc": cls["doc"],
                    "signatures": [format_signature(prefix, s) for s in init["signatures"]] if init else []})
        for mname, m in cls["methods"].items():
            if not mname.startswith("_"):
                out.append({"module": module, "name": f"{prefix}.{mname}", "kind": "method", "doc": m["doc"],
                            "signatures": [format_signature(f"{prefix}.{mname}", s) for s in m["signatures"]]})
        for cname, c in cls["constants"].items():
            if not cname.startswith("_"):
                out.append({"module": module, "name": f"{prefix}.{cname}", "kind": "constant", "doc": "",
                            "signatures": [], "value": c.get("value")})
        for inner_name, inner in cls["classes"].items():
            add_class(module, f"{prefix}.{inner_name}", inner)

    for mod_name, mod in api["modules"].items():
        if mod_name.startswith("_"):
            continue
        for fname, f in mod["functions"].items():
            if not fname.startswith("_"):
                out.append({"module": mod_name, "name": f"{mod_name}.{fname}", "kind": "function", "doc": f["doc"],
                            "signatures": [format_signature(f"{mod_name}.{fname}", s) for s in f["signatures"]]})
        for cname, c in mod["constants"].items():
            if not cname.startswith("_") and not cname[0].islower():
                out.append({"module": mod_name, "name": f"{mod_name}.{cname}", "kind": "constant", "doc": "",
                            "signatures": [], "value": c.get("value")})
        for cname, c in mod["classes"].items():
            if not cname.startswith("_"):
                add_class(mod_name, f"{mod_name}.{cname}", c)
    return out
