"""robolm.sim: run MicroPython robot programs on simulated hardware, safely.

    from robolm.sim import run, run_many
    from robolm.sim.checks import run_check

Files: runner.py (the API, SimResult), forkserver.py (the sandboxing fork server),
scenario.py (what the sensors see), checks.py (behaviour checks over traces), and mp/
(the simulated machine, time, neopixel, dht, network, ssd1306 modules and the sandbox
bootstrap; those run inside MicroPython, never in CPython).
"""

from robolm.sim.runner import STATUSES, SimResult, run, run_many, sandbox_info, shutdown

__all__ = ["run", "run_many", "SimResult", "STATUSES", "sandbox_info", "shutdown"]
