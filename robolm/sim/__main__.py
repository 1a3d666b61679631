"""Run a MicroPython file on the simulated robot and show what it did.

    python -m robolm.sim program.py [--scenario s.yaml] [--budget 5] [--check c.yaml] [--json]

Prints the status, the printed lines and the hardware events with their virtual times;
with --check, also the verdict of a behaviour check (exit code 1 when it fails).
"""
import argparse
import json
import sys

import yaml

from robolm.sim import run
from robolm.sim.checks import run_check


def _load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def describe(e):
    fields = {k: v for k, v in e.items() if k not in ("t", "kind")}
    if e["kind"] == "pixels":
        fields["pixels"] = " ".join("%02x%02x%02x" % tuple(p) for p in e["pixels"])
    if e["kind"] == "oled":
        fields.pop("text", None)
    return " ".join(f"{k}={v}" for k, v in fields.items())


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m robolm.sim", description=__doc__.split("\n")[0])
    ap.add_argument("program", help="a MicroPython file")
    ap.add_argument("--scenario", help="YAML/JSON file: what the sensors see (see robolm/sim/scenario.py)")
    ap.add_argument("--budget", type=float, default=5.0, help="virtual seconds to run (default 5)")
    ap.add_argument("--timeout", type=float, default=2.0, help="real seconds before a busy loop is stopped")
    ap.add_argument("--check", help="YAML/JSON file holding a behaviour check (see robolm/sim/checks.py)")
    ap.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = ap.parse_args(argv)
    with open(args.program, encoding="utf-8") as f:
        code = f.read()
    scenario = _load(args.scenario) if args.scenario else None
    res = run(code, scenario=scenario, budget_s=args.budget, timeout_s=args.timeout)
    verdict = run_check(_load(args.check), res) if args.check else None
    if args.json:
        out = res.to_dict()
        if verdict:
            out["check"] = {"ok": verdict[0], "message": verdict[1]}
        print(json.dumps(out, indent=1))
    else:
        merged = [(p["t"], "print", p["text"]) for p in res.prints] + \
                 [(e["t"], e["kind"], describe(e)) for e in res.trace]
        for t, kind, text in sorted(merged, key=lambda x: (x[0], x[1] == "print")):
            print(f"{t:9.4f}s  {kind:7s} {text}")
        line = f" (line {res.error_line})" if res.error_line else ""
        print(f"status: {res.status}" + (f": {res.error}{line}" if res.error else "") +
              f"  [virtual {res.end_t:g} s, real {res.wall_s * 1000:.1f} ms]")
        if verdict:
            print(("PASS: " if verdict[0] else "FAIL: ") + verdict[1])
    return 0 if verdict is None or verdict[0] else 1


if __name__ == "__main__":
    sys.exit(main())
