"""The docs are true to the code: every ```python block in docs/ and the three guides runs,
every ```py / ```c quote is really in the file it names, and every shell command the guides
show is checked (fast ones run for real, long ones are checked to exist with valid flags)."""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = [ROOT / "TUTORIAL.md", ROOT / "TUTORIAL.hi.md", ROOT / "TRAINING_GUIDE.md", ROOT / "DATA_REQUIREMENTS.md"]
DOCS = sorted((ROOT / "docs").rglob("*.md")) + [g for g in GUIDES if g.exists()]
TRAINED = ROOT / "out" / "cpu_default_sft" / "ckpt.pt"
FENCE = re.compile(r"^```([\w.+-]*)[^\n]*\n(.*?)^```", re.S | re.M)
PY = Path(sys.executable)


def blocks(lang):
    out = []
    for path in DOCS:
        for m in FENCE.finditer(path.read_text(encoding="utf-8")):
            if m.group(1) == lang:
                line = path.read_text(encoding="utf-8")[:m.start()].count("\n") + 1
                out.append(pytest.param(path, m.group(2), id=f"{path.relative_to(ROOT)}:{line}"))
    return out


def test_the_pages_exist():
    names = {p.stem for p in (ROOT / "docs" / "walkthrough").glob("*.md")}
    for n in ["README", "01-tokenize", "02-embed", "03-rmsnorm", "04-rope", "05-attention", "06-swiglu",
              "07-logits-and-sampling", "08-kv-cache", "09-int8-int4-blocks"]:
        assert n in names, n
    index = (ROOT / "docs" / "walkthrough" / "README.md").read_text()
    for n in names - {"README"}:
        assert f"({n}.md)" in index, f"{n} is not linked from the index"


def is_robot_program(code):
    """A robot program (MicroPython for the ESP32): runs in the simulator, not in CPython."""
    return bool(re.match(r"^# [\w.-]+\.py\n", code)) and "from robot import Robot" in code


def robot_programs(path):
    """{file name: code} of the robot programs a guide shows (their first line names the file)."""
    return {code.splitlines()[0][2:]: code for p in blocks("python") if p.values[0] == path
            for code in [p.values[1]] if is_robot_program(code)}


@pytest.mark.parametrize("path, code", blocks("python"))
def test_python_snippet_runs(path, code, tmp_path):
    if is_robot_program(code):
        from robolm.sim import run
        from robolm.validate import validate
        report = validate(code)
        assert report.ok, f"{path.name}: {[d.message for d in report.diagnostics]}\n{code}"
        result = run(code, budget_s=2.0)
        assert result.status in ("ok", "budget"), f"{path.name}: {result.status} {result.error}\n{code}"
        assert result.trace, "the program did nothing on the simulated robot"
        return
    if "# needs: trained model" in code and not TRAINED.exists():
        pytest.skip(f"needs a trained model: {TRAINED.relative_to(ROOT)} is absent (make demo / TRAINING_GUIDE.md)")
    (tmp_path / "out").symlink_to(ROOT / "out") if (ROOT / "out").exists() else None
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    proc = subprocess.run([str(PY), str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, f"{path.name} snippet failed:\n{code}\n--- stderr\n{proc.stderr[-3000:]}"


def _quotes():
    """The ```py / ```c quotes of the walkthrough and the guides (other docs may show C freely)."""
    mine = lambda p: "walkthrough" in p.values[0].parts or p.values[0] in GUIDES  # noqa: E731
    return [p for p in blocks("py") + blocks("c") if mine(p)]


@pytest.mark.parametrize("path, code", _quotes())
def test_quoted_lines_are_in_the_named_file(path, code):
    lines = code.splitlines()
    m = re.match(r"^(?:#|//)\s*(\S+)$", lines[0].strip())
    assert m, f"{path.name}: a quote block must start with a comment naming its file, got {lines[0]!r}"
    source = (ROOT / m.group(1)).read_text(encoding="utf-8")
    have = {ln.strip() for ln in source.splitlines()}
    missing = [ln for ln in lines[1:] if ln.strip() and ln.strip() not in have]
    assert not missing, f"{path.name}: not in {m.group(1)}: {missing}"


# ----------------------------------------------------------------------------- shell commands

def shell_commands():
    """(guide path, command line) for every line of the guides' ```bash blocks (comments dropped)."""
    out = []
    for path in GUIDES:
        if not path.exists():
            continue
        for m in FENCE.finditer(path.read_text(encoding="utf-8")):
            if m.group(1) not in ("bash", "sh", "shell"):
                continue
            for ln in m.group(2).splitlines():
                ln = ln.split(" #")[0].strip()
                if ln and not ln.startswith("#"):
                    out.append(pytest.param(path, ln, id=f"{path.name}: {ln[:70]}"))
    return out


def run_py(args, cwd, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([str(PY), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def help_flags(args):
    """The --flags that `python ARGS --help` lists."""
    proc = run_py([*args, "--help"], ROOT, timeout=120)
    assert proc.returncode == 0, f"{args} --help failed: {proc.stderr[-2000:]}"
    return set(re.findall(r"(--[\w-]+)", proc.stdout))


def train_config_keys():
    """The fields of train.py's Config dataclass, read with ast (train.py has no --help)."""
    import ast
    tree = ast.parse((ROOT / "train.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Config")
    return {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)}


def check_flags(cmd, words, flags):
    used = [w.split("=")[0] for w in words if w.startswith("--")]
    unknown = [f for f in used if f not in flags]
    assert not unknown, f"{cmd}: unknown flags {unknown}; valid: {sorted(flags)}"


RUN_FOR_REAL = ("robolm.validate", "robolm.sim", "robolm.blocks")
_RAN = set()   # prepare.py --tiny runs once per session (the guides show it twice)


@pytest.mark.parametrize("guide, cmd", shell_commands())
def test_guide_command_is_valid(guide, cmd, tmp_path):
    words = shlex.split(cmd)
    if words[0] == "make":
        targets = set(re.findall(r"^([\w.-]+)\s*:", (ROOT / "Makefile").read_text(), re.M))
        missing = [t for t in words[1:] if "=" not in t and t not in targets]
        assert not missing, f"make targets {missing} are not in the Makefile"
        return
    if words[0] == "torchrun":
        assert words[1:3] == ["--standalone", "--nproc_per_node=4"], cmd
        words = ["python", *words[3:]]
    if words[0] in (".venv/bin/robolm_run", "robolm_run"):
        src = (ROOT / "csrc" / "cli" / "robolm_run.c").read_text()
        bad = [w for w in words[2:] if w.startswith("-") and f'"{w}"' not in src]
        assert not bad, f"robolm_run has no options {bad}"
        return
    if words[0] == "node":                                  # tools/blockly/workspace_to_code.js FILE
        assert (ROOT / words[1]).is_file(), cmd
        if shutil.which("node") and (ROOT / "tools/blockly/node_modules/blockly").exists():
            programs = robot_programs(guide)
            src = words[2].replace("_blocks.json", ".py")
            (tmp_path / src).write_text(programs[src])
            assert run_py(["-m", "robolm.blocks", src, "-o", words[2]], tmp_path).returncode == 0
            proc = subprocess.run(["node", str(ROOT / words[1]), words[2]], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
            from robolm.blocks import matches
            assert matches(programs[src], proc.stdout), proc.stdout
        return
    assert words[0] == "python", f"no check for this command: {cmd}"
    if words[1] == "-m":
        module = words[2]
        if module == "pytest":
            for w in words[3:]:
                if not w.startswith("-"):
                    assert (ROOT / w).is_file(), f"{w} does not exist"
            return
        if module == "http.server":                         # the block editor's page and its scripts exist
            page = (ROOT / "tools" / "blockly" / "editor.html").read_text()
            for src in re.findall(r'<script src="([^"]+)"', page):
                assert src.startswith("node_modules/") or (ROOT / "tools" / "blockly" / src).is_file(), src
            return
        if module in RUN_FOR_REAL:                          # on the guide's own programs, in tmp_path
            for name, code in robot_programs(guide).items():
                (tmp_path / name).write_text(code)
            proc = run_py(words[1:], tmp_path, timeout=120)
            assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            return
        check_flags(cmd, words[3:], help_flags(["-m", module]))
        return
    script = words[1]
    assert (ROOT / script).is_file(), f"{script} does not exist"
    if script == "train.py":
        keys = train_config_keys()
        for w in words[2:]:
            if w.startswith("--"):
                assert w[2:].split("=")[0] in keys, f"train.py has no config key {w}; valid: {sorted(keys)}"
            else:
                assert (ROOT / w).is_file(), f"config file {w} does not exist"
        return
    check_flags(cmd, words[2:], help_flags([script]))
    if script == "prepare.py" and "--tiny" in words and not _RAN:   # fast: run it for real once, into tmp_path
        _RAN.add("prepare --tiny")
        out = words.index("--out")
        words[out + 1] = str(tmp_path / "corpus")
        proc = run_py(words[1:], ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert (tmp_path / "corpus" / "metadata.json").is_file()
    if script == "scripts/extract_registry.py":
        proc = run_py(words[1:], ROOT, timeout=120)
        assert proc.returncode == 0 and "move_forward" in proc.stdout, proc.stderr[-2000:]


def test_make_figures_without_model(tmp_path):
    """scripts/make_figures.py --no-model draws the three figures that need no trained model."""
    proc = run_py(["scripts/make_figures.py", "--no-model", "--out", str(tmp_path)], ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name for p in tmp_path.glob("*.png")} == {"tokenization.png", "rope.png", "quant_error.png"}


@pytest.mark.slow
def test_make_figures(tmp_path):
    """scripts/make_figures.py draws the model-free figures (and the model ones when a run exists)."""
    proc = run_py(["scripts/make_figures.py", "--out", str(tmp_path)], ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    made = {p.name for p in tmp_path.glob("*.png")}
    assert {"tokenization.png", "rope.png", "quant_error.png"} <= made
    trained = any((ROOT / "out" / r / "ckpt.pt").is_file() for r in ("cpu_default_sft", "cpu_default"))
    if trained:
        assert "attention.png" in made or "cannot be loaded" in proc.stdout, proc.stdout
    else:
        assert "attention.png" not in made and "attention.png skipped" in proc.stdout
