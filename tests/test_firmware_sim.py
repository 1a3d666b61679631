"""The firmware runs unchanged on the project's simulator (robolm.sim): every block's example
program ends cleanly, and a timed move shows the right motor duties and virtual times."""
import pytest

from robolm import registry

sim = pytest.importorskip("robolm.sim", reason="the simulator (robolm/sim) is not available")


def test_every_block_example_runs_in_the_simulator():
    bad = []
    for e in registry.block_registry():
        r = sim.run(e["micropython_code"], budget_s=3.0)
        if r.status not in ("ok", "budget"):
            bad.append((e["block_name"], r.status, r.error))
    assert bad == []


def test_move_forward_for_then_stop_in_the_simulator():
    r = sim.run("from robot import Robot\nrobot = Robot()\nrobot.move_forward_for(1.5, 60)\n", budget_s=5.0)
    assert r.status == "ok", r.error
    ena = [e for e in r.trace if e.get("kind") == "pwm" and e.get("pin") == 14]
    assert ena[-2]["duty_u16"] == 60 * 65535 // 100 and ena[-1]["duty_u16"] == 0
    assert abs((ena[-1]["t"] - ena[-2]["t"]) - 1.5) < 1e-6
