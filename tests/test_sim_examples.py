"""robolm/sim/examples.yaml: each worked check passes its right program and fails its wrong one,
both run for real in the sandboxed simulator."""
from pathlib import Path

import pytest
import yaml

pytest.importorskip("micropython_run")

from robolm.sim import run_many  # noqa: E402
from robolm.sim.checks import run_check  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASES = yaml.safe_load((ROOT / "robolm" / "sim" / "examples.yaml").read_text())
NEEDS_FIRMWARE = (ROOT / "firmware" / "robot.py").exists()


@pytest.fixture(scope="module")
def results():
    out = {}  # budgets differ per case: run each case's pair with its own budget
    for case in CASES:
        pair = run_many([case["right"], case["wrong"]], [case.get("scenario")] * 2,
                        budget_s=case.get("budget_s", 5.0))
        out[case["name"]] = pair
    return out


def test_examples_file_is_well_formed():
    assert len(CASES) >= 10
    names = [c["name"] for c in CASES]
    assert len(set(names)) == len(names)
    for c in CASES:
        assert {"name", "task", "check", "right", "wrong"} <= set(c), c["name"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_right_passes_wrong_fails(case, results):
    if "robot" in case["right"] + case["wrong"] and not NEEDS_FIRMWARE:
        pytest.skip("needs firmware/robot.py")
    right, wrong = results[case["name"]]
    ok, msg = run_check(case["check"], right)
    assert ok, f"right program failed: {msg} (status {right.status}, {right.error})"
    ok, msg = run_check(case["check"], wrong)
    assert not ok, f"wrong program passed: {msg}"
