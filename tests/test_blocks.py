"""Code to blocks (robolm/blocks.py): programs become Blockly workspaces that the real npm
`blockly` loads and turns back into the same program.

"The same program" is defined by robolm.blocks.normalize: equal Python syntax trees after
dropping imports/`robot = Robot()`/Blockly's `x = None` declarations, filling in the firmware
defaults of robot calls, `x += v` -> `x = x + v`, `time.sleep` -> `robot.wait`, numbers by
value and range() by the numbers it yields.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from robolm import registry
from robolm.blocks import code_to_blocks, matches, normalize

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "blockly" / "workspace_to_code.js"
NODE = shutil.which("node")

LINE_FOLLOWER = """\
from robot import Robot
import time

robot = Robot()
while True:
    left = robot.read_line_left()
    right = robot.read_line_right()
    if left == 1 and right == 1:
        robot.stop()
    elif left == 1:
        robot.turn_left(40)
    elif right == 1:
        robot.turn_right(speed=40)
    else:
        robot.move_forward()
    time.sleep(0.05)
"""

FUNCTIONS_AND_TEXT = """\
from robot import Robot
import random

bot = Robot()
notes = ["C4", "E4", "G4"]


def look(limit):
    \"\"\"True when something is closer than limit cm.\"\"\"
    d = bot.read_distance_cm()
    bot.oled_text("d = " + str(d) + " cm", 0, 0)
    return d < limit


def main():
    global notes
    for note in notes:
        print(note)
    while True:
        if look(25):
            bot.turn_left_for(0.5)
        else:
            bot.move_forward(45)
            bot.oled_show_value("speed", random.randint(30, 60))
        bot.oled_show_value("rand", str(random.randint(1, 6)))


main()
"""

PROGRAMS = [
    LINE_FOLLOWER,
    FUNCTIONS_AND_TEXT,
    # blink with a counter, a for loop and an OLED value input
    """from robot import Robot
import time
robot = Robot()
count = 0
for i in range(5):
    robot.led_on()
    robot.wait(0.5)
    robot.led_off()
    time.sleep_ms(250)
    count += 1
    print(count)
robot.oled_show_value("blinks", count * 2)
robot.oled_show()
""",
    # obstacle avoider with a threshold, break and continue, negative speed, checkbox and dropdown
    """from robot import Robot
robot = Robot()
robot.oled_rect(0, 0, 20, 10, True)
robot.set_color("green")
while True:
    if robot.button_pressed():
        break
    distance = robot.read_distance_cm()
    if distance < 20 or robot.obstacle_ahead(15):
        robot.set_motor_speeds(-50, -50)
        robot.beep(880, 100)
        continue
    robot.move_forward(60)
for _ in range(2, 10, 3):
    robot.blink_led()
for angle in range(180, -1, -30):
    robot.set_servo_angle(90)
    print(angle)
while not robot.is_dark():
    pass
robot.stop()
""",
]


def node_codes(workspaces):
    proc = subprocess.run([NODE, str(SCRIPT), "--many"], input=json.dumps(workspaces),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def registry_programs():
    return [e["micropython_code"] for e in registry.block_registry()]


def count_blocks(ws):
    n = 0
    stack = list(ws["blocks"]["blocks"])
    while stack:
        b = stack.pop()
        n += 1
        stack += [i["block"] for i in b.get("inputs", {}).values() if "block" in i]
        if "next" in b:
            stack.append(b["next"]["block"])
    return n


# ----------------------------------------------------------------------------- without node

def test_every_registry_example_and_program_is_all_blocks():
    for code in registry_programs() + PROGRAMS:
        result = code_to_blocks(code)
        assert result.ok, result.message()
        assert result.workspace["blocks"]["blocks"], code


def test_workspace_shape_line_follower():
    ws = code_to_blocks(LINE_FOLLOWER).workspace
    top = ws["blocks"]["blocks"]
    assert len(top) == 1 and top[0]["type"] == "controls_whileUntil"
    assert {v["name"] for v in ws["variables"]} == {"left", "right"}
    body = top[0]["inputs"]["DO"]["block"]                  # left = ...; right = ...; if ...; wait
    chain = []
    while body:
        chain.append(body["type"])
        body = body.get("next", {}).get("block")
    assert chain == ["variables_set", "variables_set", "controls_if", "wait"]
    if_block = top[0]["inputs"]["DO"]["block"]["next"]["block"]["next"]["block"]
    assert if_block["extraState"] == {"elseIfCount": 2, "hasElse": True}
    # robot.move_forward() gets the firmware default in its field
    assert if_block["inputs"]["ELSE"]["block"] == {"type": "move_forward", "id": if_block["inputs"]["ELSE"]["block"]["id"],
                                                     "fields": {"SPEED": 50}}
    assert count_blocks(ws) == 25  # while+True, 2 x (set+call), if: 3 tests (7+3+3), 4 robot calls, wait


def test_raw_machine_code_is_reported_line_by_line():
    code = "from machine import Pin\nimport time\nled = Pin(2, Pin.OUT)\nwhile True:\n    led.value(1)\n    time.sleep_ms(200)\n"
    result = code_to_blocks(code)
    assert not result.ok
    assert [u.line for u in result.unsupported] == [1, 3, 5]
    assert "not representable as blocks" in result.message()
    assert "led.value(1)" in result.message()
    # what is representable stays: the loop and the wait
    top = result.workspace["blocks"]["blocks"][0]
    assert top["type"] == "controls_whileUntil" and top["inputs"]["DO"]["block"]["type"] == "wait_ms"


@pytest.mark.parametrize("code, why", [
    ("robot.move_forward(150)", "outside the block's range"),
    ("robot.set_color('brown')", "must be one of"),
    ("speed = 40\nrobot.move_forward(speed)", "holds a constant"),
    ("robot.fly()", "no block robot.fly"),
    ("robot.read_distance_cm()", "gives a value"),
    ("print('d', 3)", "prints one value"),
    ("def f(x=1):\n    pass", "default, keyword or * parameters"),
    ("try:\n    robot.stop()\nexcept OSError:\n    pass", "no block for Try"),
    ("print('d = ' + robot.read_distance_cm())", "write str(value)"),
    ("while True\n", "syntax error"),
])
def test_unrepresentable_lines_say_why(code, why):
    result = code_to_blocks("from robot import Robot\nrobot = Robot()\n" + code)
    assert not result.ok
    assert why in result.message(), result.message()


def test_normalize_defines_matching():
    assert matches("robot.move_forward()", "from robot import Robot\n\nrobot = Robot()\n\nrobot.move_forward(50)\n")
    assert matches("import time\nx = 1\nx += 2\ntime.sleep(1)", "x = None\n\nx = 1\nx = x + 2\nrobot.wait(1)")
    assert matches("for i in range(0, 4):\n    print(i)", "i = None\nfor i in range(4):\n  print(i)")
    assert not matches("robot.move_forward(40)", "robot.move_forward(50)")
    assert not matches("while True:\n    robot.stop()\nrobot.led_on()", "while True:\n  robot.stop()\n  robot.led_on()")
    assert not matches("x = None\nprint(x)", "print(x)")  # only Blockly's side drops declarations
    assert normalize("robot.turn_left(speed=40)") == normalize("robot.turn_left(40)")


# ----------------------------------------------------------------------------- with the real Blockly

@pytest.mark.skipif(NODE is None, reason="node is not installed (needed to run the real Blockly)")
@pytest.mark.skipif(not (ROOT / "tools" / "blockly" / "node_modules" / "blockly").exists(),
                    reason="npm package blockly missing: cd tools/blockly && npm ci")
def test_blockly_regenerates_the_same_programs():
    programs = registry_programs() + PROGRAMS
    workspaces = [code_to_blocks(code).workspace for code in programs]
    results = node_codes(workspaces)
    assert len(results) == len(programs)
    for code, ws, res in zip(programs, workspaces, results):
        assert "error" not in res, (code, res)
        assert matches(code, res["code"]), f"\n--- original\n{code}\n--- Blockly\n{res['code']}"
    # Blockly writes the program in its own spelling; the firmware default shows up explicitly
    follower = results[len(registry_programs())]["code"]
    functions = results[len(registry_programs()) + 1]["code"]
    assert "def look(limit):" in functions and "robot.turn_left_for(0.5, 50)" in functions
    assert "robot.move_forward(50)" in follower and "robot.wait(0.05)" in follower


@pytest.mark.skipif(NODE is None, reason="node is not installed (needed to run the real Blockly)")
@pytest.mark.skipif(not (ROOT / "tools" / "blockly" / "node_modules" / "blockly").exists(),
                    reason="npm package blockly missing: cd tools/blockly && npm ci")
def test_blockly_rejects_a_broken_workspace(tmp_path):
    ws = code_to_blocks("from robot import Robot\nrobot = Robot()\nrobot.led_on()").workspace
    ws["blocks"]["blocks"][0]["type"] = "no_such_block"
    (res,) = node_codes([ws])
    assert "error" in res
    f = tmp_path / "ws.json"
    f.write_text(json.dumps(ws))
    proc = subprocess.run([NODE, str(SCRIPT), str(f)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "workspace_to_code:" in proc.stderr


def test_functions_aliases_and_text_become_blocks():
    ws = code_to_blocks(FUNCTIONS_AND_TEXT).workspace
    kinds = [b["type"] for b in ws["blocks"]["blocks"]]
    assert kinds == ["procedures_defreturn", "procedures_defnoreturn", "variables_set"]
    look = ws["blocks"]["blocks"][0]
    assert look["fields"]["NAME"] == "look" and look["extraState"]["params"][0]["name"] == "limit"
    assert look["inputs"]["RETURN"]["block"]["type"] == "logic_compare"
    text = json.dumps(ws)
    for t in ("text_join", "math_random_int", "controls_forEach", "lists_create_with", "procedures_callreturn",
              "procedures_callnoreturn", "read_distance_cm"):
        assert t in text, t


@pytest.mark.skipif(NODE is None, reason="node is not installed (needed to run the real Blockly)")
@pytest.mark.skipif(not (ROOT / "tools" / "blockly" / "node_modules" / "blockly").exists(),
                    reason="npm package blockly missing: cd tools/blockly && npm ci")
def test_syllabus_robot_programs_round_trip():
    """Every robot-style syllabus project that is all blocks comes back from Blockly the same;
    the others name their lines. Prints the share (for the report)."""
    import yaml
    programs = []
    for f in sorted((ROOT / "data" / "raw" / "syllabus").glob("grade_*.yaml")):
        programs += [p["micropython_code"] for p in yaml.safe_load(f.read_text()) if "from robot import" in p["micropython_code"]]
    assert len(programs) >= 20
    results = [code_to_blocks(c) for c in programs]
    whole = [(c, r.workspace) for c, r in zip(programs, results) if r.ok]
    for r in results:
        assert r.ok or all(u.line >= 1 and u.reason for u in r.unsupported)
    codes = node_codes([w for _, w in whole])
    bad = [c for (c, _), res in zip(whole, codes) if "error" in res or not matches(c, res["code"])]
    print(f"syllabus robot programs: {len(whole)}/{len(programs)} all blocks, {len(whole) - len(bad)} round-trip")
    assert not bad, bad[0]
    assert len(whole) >= 0.45 * len(programs)   # measured 2026-11-25: 27/56 (the rest: print(a, b), variables in number fields, //, min/max)


@pytest.mark.skipif(NODE is None, reason="node is not installed (needed to run the real Blockly)")
@pytest.mark.skipif(not (ROOT / "tools" / "blockly" / "node_modules" / "jsdom").exists(),
                    reason="npm packages missing: cd tools/blockly && npm ci")
def test_editor_page_opens_a_workspace(tmp_path):
    """tools/blockly/editor.html in jsdom: toolbox of 15 categories, offline, shows the same program."""
    f = tmp_path / "ws.json"
    f.write_text(json.dumps(code_to_blocks(LINE_FOLLOWER).workspace))
    proc = subprocess.run([NODE, str(ROOT / "tools" / "blockly" / "check_editor.js"), str(f)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # jsdom cannot measure text (no canvas); everything else must be silent
    errors = [e for e in out["errors"] if "HTMLCanvasElement's getContext()" not in e]
    assert errors == [] and out["status"] == "", out
    assert out["toolbox"] == 15 and out["blocks"] == 25
    assert matches(LINE_FOLLOWER, out["code"]), out["code"]


def test_command_line(tmp_path):
    from robolm.blocks import main
    prog = tmp_path / "p.py"
    prog.write_text("from robot import Robot\nrobot = Robot()\nrobot.led_on()\n")
    assert main([str(prog), "-o", str(tmp_path / "ws.json")]) == 0
    assert json.loads((tmp_path / "ws.json").read_text())["blocks"]["blocks"][0]["type"] == "led_on"
    prog.write_text("from machine import Pin\nPin(2, Pin.OUT).on()\n")
    assert main([str(prog), "-o", str(tmp_path / "ws2.json")]) == 1           # some lines are not blocks
    assert main([str(tmp_path / "missing.py")]) == 2
    (tmp_path / "bin.py").write_bytes(b"\xff\xfe\x00")
    assert main([str(tmp_path / "bin.py")]) == 2
