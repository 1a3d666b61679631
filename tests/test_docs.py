"""The docs are true to the code: every ```python block in docs/ and the three guides runs,
every ```py / ```c quote is really in the file it names, and every shell command the guides
show is checked (fast ones run for real, long ones are checked to exist with valid flags)."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = [ROOT / "TUTORIAL.md", ROOT / "TRAINING_GUIDE.md", ROOT / "DATA_REQUIREMENTS.md"]
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


@pytest.mark.parametrize("path, code", blocks("python"))
def test_python_snippet_runs(path, code, tmp_path):
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
    return blocks("py") + blocks("c")


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
    """Every command line in ```bash blocks of the guides (comments and blank lines dropped)."""
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
                    out.append((path.name, ln))
    return out


def _argparse_flags(script):
    """The --flags a script's --help lists (runs `python script --help`)."""
    proc = subprocess.run([str(PY), str(ROOT / script), "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, f"{script} --help failed: {proc.stderr[-2000:]}"
    return set(re.findall(r"(--[\w-]+)", proc.stdout)), proc.stdout


def _make_targets():
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([\w.-]+)\s*:", text, re.M))


def check_command(cmd, tmp_path):
    """Check one guide command; returns what was done (for the test log)."""
    words = shlex.split(cmd)
    env_prefix = []
    while words and re.match(r"^[A-Z_]+=", words[0]):     # VAR=value command ...
        env_prefix.append(words.pop(0))
    if words[0] == "make":
        targets = _make_targets()
        for t in words[1:]:
            if "=" not in t:
                assert t in targets, f"make target {t!r} is not in the Makefile"
        return "make target exists"
    if words[0] == "cd":
        assert (ROOT / words[1]).is_dir(), cmd
        return "directory exists"
    if words[:2] == ["git", "clone"] or words[0] in ("pip", "npm", "source", "nproc"):
        return "not run (installs/network)"
    if words[0] == "torchrun":
        flags = [w for w in words[1:] if w.startswith("--")]
        assert all(f.split("=")[0] in ("--standalone", "--nproc_per_node", "--nnodes", "--node_rank",
                                       "--master_addr", "--master_port") for f in flags[:2]), cmd
        script = next(w for w in words if w.endswith(".py"))
        words = ["python", *words[words.index(script):]]
    if words[0] in ("python", ".venv/bin/python", "python3"):
        if words[1] == "-m":
            module = words[2]
            assert __import__("importlib").util.find_spec(module) is not None, f"module {module} missing"
            return "module exists"
        script = words[1]
        assert (ROOT / script).is_file(), f"{script} does not exist"
        flags, help_text = _argparse_flags(script)
        used = [w.split("=")[0] for w in words[2:] if w.startswith("--")]
        if script == "train.py":       # train.py takes --key=value overrides of its config dataclass
            return "script exists (train.py overrides checked by test_train_overrides_in_guides)"
        unknown = [f for f in used if f not in flags]
        assert not unknown, f"{cmd}: {script} has no flags {unknown}; --help lists {sorted(flags)}"
        return "script and flags exist"
    if words[0] in ("robolm_run", "build/robolm_run"):
        src = (ROOT / "csrc" / "cli" / "robolm_run.c").read_text()
        for w in words[1:]:
            if w.startswith("-") and not re.match(r"^-?\d", w):
                assert f'"{w}"' in src, f"robolm_run has no option {w}"
        return "robolm_run options exist"
    if words[0] == "node":
        assert (ROOT / words[1]).is_file(), cmd
        return "script exists"
    raise AssertionError(f"no check for this command: {cmd}")


@pytest.mark.parametrize("guide, cmd", shell_commands())
def test_guide_command_is_valid(guide, cmd, tmp_path):
    check_command(cmd, tmp_path)


def test_train_overrides_in_guides():
    """`python train.py CONFIG --key=value` lines use configs and keys that train.py knows."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("robolm_train_for_docs", ROOT / "train.py")
    for guide, cmd in shell_commands():
        words = shlex.split(cmd)
        if "train.py" not in words:
            continue
        rest = words[words.index("train.py") + 1:]
        for w in rest:
            if not w.startswith("-"):
                assert (ROOT / w).exists(), f"{guide}: config {w} does not exist"
        keys = [w[2:].split("=")[0] for w in rest if w.startswith("--")]
        help_flags, help_text = _argparse_flags("train.py")
        for k in keys:
            assert k in help_text, f"{guide}: train.py does not know --{k}:\n{help_text[:2000]}"


@pytest.mark.slow
def test_tiny_prepare_runs(tmp_path):
    """The guides' first data command, for real (slow: builds a tiny corpus)."""
    proc = subprocess.run([str(PY), "prepare.py", "--tiny", "--out", str(tmp_path / "data")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
