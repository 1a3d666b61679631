"""Behaviour checks: assertions over a simulator trace, written as plain dicts or YAML.

    from robolm.sim import run
    from robolm.sim.checks import run_check
    res = run(code, scenario={"light": [[0, 3500], [2, 300]]}, budget_s=4)
    ok, msg = run_check({"all_of": [{"status": ["ok", "budget"]}, {"led_when_dark": {}}]}, res)

A spec is `{"kind": NAME, ...params}` or `{NAME: {params}}`; a list of specs means all_of.
Unknown kinds or parameters raise ValueError (a typo in a corpus file must not pass).
Pins are GPIO numbers or pin-map roles ("led", "servo", "buzzer", ...; see scenario.py).
Times are virtual seconds. Every check returns (ok, message); the message says what was
seen, so a failing curriculum test explains itself.

| kind | params (defaults) | passes when |
|---|---|---|
| status | value: "ok" or a list | the run ended with one of these statuses |
| no_error | | status is ok or budget |
| toggles | pin="led", period_s or interval_s, tolerance (10%), min_count=3 | the pin changed level at least min_count times; every full cycle (on+off) lasts period_s, or every gap between changes lasts interval_s, within tolerance seconds |
| pin_level | pin, value, at / after / final=false | the pin is at value at time `at`; or at some time >= `after`; or at the end (final); with none of them, at any time |
| servo_angle | angle, tolerance=5, pin=None (any servo), after=0 | a 50 Hz PWM reached angle +- tolerance at or after `after` |
| servo_sweep | min_angle=0, max_angle=180, tolerance=10, min_steps=3, min_sweeps=1, pin=None | the angle moved monotonically from one end to the other (in >= min_steps distinct angles), min_sweeps times |
| motors | direction (forward, backward, left, right, stop), for_s=None, tolerance=0.1, exact=false, after=0 | the motors held that direction for at least for_s - tolerance (and at most for_s + tolerance when exact) |
| motor_sequence | steps: [{direction, for_s?}, ...], tolerance=0.1 | the motor states, in order, contain these steps back to back with those durations |
| led_when_dark | pin="led", threshold=2048, max_delay_s=0.5, pixels=false | sampled every 50 ms: the LED (or any NeoPixel, with pixels) is on exactly while the scenario's light is below threshold, allowing max_delay_s after each change; the scenario must have both dark and light |
| obstacle_avoid | threshold_cm=20, max_delay_s=0.5 | sampled every 50 ms: the robot drives forward at some time while the scenario's distance is >= threshold, and never while it is below (allowing max_delay_s after each change) |
| buzzer | freq=None, tolerance=0.05 (relative), pin="buzzer" | the buzzer PWM sounded (duty > 0) at freq +- tolerance*freq (any freq if None) |
| pixels | color [r,g,b], index=None, all=true | some write() showed that colour on pixel `index`, or on all pixels (all) or any pixel (all=false) |
| oled_text | contains, ignore_case=false | some OLED show() displayed text containing the string |
| prints | contains=None, regex=None, min_count=1 | at least min_count printed lines contain the string / match the regex |
| wifi | connected=true | the program connected to WiFi (or never did, with false) |
| event | event_kind, plus any event fields to match | some trace event has that kind and those field values |
| all_of | [specs] | every spec passes |
| any_of | [specs] | at least one spec passes |
| not | spec | the spec fails |

Motors are read from the L298N pins (pin map: ENA 14, IN1 27, IN2 26 left; ENB 32, IN3 25,
IN4 33 right): a wheel turns forward when IN1=1, IN2=0 (IN3=1, IN4=0) and its enable has duty
> 0 (an enable pin never touched counts as jumpered on). Direction: both forward = forward,
both backward = backward, both stopped = stop, otherwise left when the right wheel is faster
(right speed > left speed, signed) and right when the left wheel is.
"""

import re

from robolm.sim.scenario import DEFAULT_PINS, value_at

SAMPLE_S = 0.05


# ---- trace helpers ---------------------------------------------------------------------
def _pin(result, pin):
    if isinstance(pin, str) and pin.strip().isdigit():
        return int(pin)
    if isinstance(pin, str):
        pins = (result.scenario or {}).get("pins", DEFAULT_PINS)
        if pin not in pins:
            raise ValueError(f"unknown pin role {pin!r}; valid roles: {sorted(pins)}")
        return pins[pin]
    return int(pin)


def level_changes(result, pin):
    """[(t, level)] for a pin: digital writes, and PWM as 1 while duty > 0. Only changes."""
    out = []
    for e in result.trace:
        if e.get("pin") != pin:
            continue
        if e["kind"] == "pin":
            v = e["value"]
        elif e["kind"] == "pwm":
            v = 1 if e["duty_u16"] > 0 else 0
        else:
            continue
        if not out or out[-1][1] != v:
            out.append((e["t"], v))
    return out


def level_at(changes, t, default=None):
    v = default
    for ct, cv in changes:
        if ct <= t:
            v = cv
        else:
            break
    return v


def _fmt_times(ts, n=6):
    s = ", ".join(f"{t:g}" for t in ts[:n])
    return s + (", ..." if len(ts) > n else "")


def motor_states(result):
    """[(t, direction, left_speed, right_speed)]: the robot's motion after each change."""
    p = (result.scenario or {}).get("pins", DEFAULT_PINS)
    state = {p["in1"]: 0, p["in2"]: 0, p["in3"]: 0, p["in4"]: 0}
    enable = {p["ena"]: None, p["enb"]: None}  # None: never touched = jumpered on
    out = []
    times = []
    for e in result.trace:
        pin = e.get("pin")
        if pin in state and e["kind"] == "pin":
            state[pin] = e["value"]
        elif pin in enable and e["kind"] == "pwm":
            enable[pin] = e["duty_u16"] / 65535.0
        elif pin in enable and e["kind"] == "pin":
            enable[pin] = float(e["value"])
        else:
            continue
        if times and times[-1] == e["t"]:
            out.pop()
        else:
            times.append(e["t"])

        def wheel(a, b, en):
            power = 1.0 if enable[en] is None else enable[en]
            return round(100 * (state[a] - state[b]) * power)

        left = wheel(p["in1"], p["in2"], p["ena"])
        right = wheel(p["in3"], p["in4"], p["enb"])
        out.append((e["t"], _direction(left, right), left, right))
    merged = []
    for s in out:
        if not merged or merged[-1][1:] != s[1:]:
            merged.append(s)
    return merged


def _direction(left, right):
    if left == 0 and right == 0:
        return "stop"
    if left > 0 and right > 0:
        return "forward"
    if left < 0 and right < 0:
        return "backward"
    return "left" if right > left else "right"


def _segments(result):
    """Motor states as [(direction, t_start, t_end)], consecutive equal directions merged."""
    segs = []
    states = motor_states(result)
    for i, (t, d, _, _) in enumerate(states):
        t_end = states[i + 1][0] if i + 1 < len(states) else result.end_t
        if segs and segs[-1][0] == d:
            segs[-1] = (d, segs[-1][1], t_end)
        else:
            segs.append((d, t, t_end))
    return [s for s in segs if s[2] > s[1] or s is segs[-1]]


# ---- checks ------------------------------------------------------------------------------
def check_status(result, value):
    allowed = [value] if isinstance(value, str) else list(value)
    if result.status in allowed:
        return True, f"status {result.status}"
    why = f" ({result.error})" if result.error else ""
    return False, f"status {result.status}{why}, expected {' or '.join(allowed)}"


def check_no_error(result):
    return check_status(result, ["ok", "budget"])


def check_toggles(result, pin="led", period_s=None, interval_s=None, tolerance=None, min_count=3):
    gpio = _pin(result, pin)
    changes = level_changes(result, gpio)
    toggles = [t for t, _ in changes[1:]]
    if len(toggles) < min_count:
        return False, f"pin {gpio} changed {len(toggles)} times, expected at least {min_count}"
    if period_s is not None:
        want, gaps, what = period_s, [b - a for a, b in zip(toggles, toggles[2:])], "cycle"
    elif interval_s is not None:
        want, gaps, what = interval_s, [b - a for a, b in zip(toggles, toggles[1:])], "gap"
    else:
        return True, f"pin {gpio} changed {len(toggles)} times"
    tol = tolerance if tolerance is not None else max(0.01, 0.1 * want)
    bad = [g for g in gaps if abs(g - want) > tol]
    if not gaps:
        return False, f"pin {gpio}: too few changes to measure a {what}"
    if bad:
        return False, (f"pin {gpio}: {len(bad)} of {len(gaps)} {what}s off {want:g} s +- {tol:g} "
                       f"(e.g. {bad[0]:.4g} s); changes at {_fmt_times(toggles)}")
    return True, f"pin {gpio} changed {len(toggles)} times, every {what} {want:g} s +- {tol:g}"


def check_pin_level(result, pin, value, at=None, after=None, final=False):
    gpio = _pin(result, pin)
    value = 1 if value else 0
    changes = level_changes(result, gpio)
    if at is not None:
        v = level_at(changes, at)
        return v == value, f"pin {gpio} was {v} at t={at:g}, expected {value}"
    if final:
        v = changes[-1][1] if changes else None
        return v == value, f"pin {gpio} ended at {v}, expected {value}"
    t0 = after if after is not None else 0.0
    if level_at(changes, t0) == value or any(t >= t0 and v == value for t, v in changes):
        return True, f"pin {gpio} reached {value}" + (f" after t={t0:g}" if after is not None else "")
    return False, f"pin {gpio} never reached {value}" + (f" after t={t0:g}" if after is not None else "") + (
        f"; levels {changes[:6]}" if changes else " (never driven)")


def _angles(result, pin):
    gpio = None if pin is None else _pin(result, pin)
    return [(e["t"], e["angle"]) for e in result.trace
            if e["kind"] == "pwm" and "angle" in e and (gpio is None or e["pin"] == gpio)]


def check_servo_angle(result, angle, tolerance=5, pin=None, after=0.0):
    angles = _angles(result, pin)
    for t, a in angles:
        if t >= after and abs(a - angle) <= tolerance:
            return True, f"servo reached {a:g} degrees at t={t:g}"
    seen = sorted({a for _, a in angles})
    return False, f"servo never reached {angle} +- {tolerance} degrees; angles seen: {seen[:12]}"


def check_servo_sweep(result, min_angle=0, max_angle=180, tolerance=10, min_steps=3, min_sweeps=1,
                      pin=None):
    angles = [a for _, a in _angles(result, pin)]
    # split into monotone runs; count the runs that cover [min_angle, max_angle]
    sweeps, run = 0, []
    for a in angles:
        if len(run) >= 2 and (run[-1] - run[-2]) * (a - run[-1]) < 0:
            sweeps += _covers(run, min_angle, max_angle, tolerance, min_steps)
            run = [run[-1]]
        if not run or a != run[-1]:
            run.append(a)
    sweeps += _covers(run, min_angle, max_angle, tolerance, min_steps)
    msg = (f"{sweeps} sweep(s) between {min_angle} and {max_angle} degrees "
           f"(angles seen {min(angles):g}..{max(angles):g})" if angles else "the servo never moved")
    return sweeps >= min_sweeps, msg + f", expected at least {min_sweeps}"


def _covers(run, lo, hi, tol, min_steps):
    if len(set(run)) < min_steps:
        return 0
    return int(min(run) <= lo + tol and max(run) >= hi - tol)


def check_motors(result, direction, for_s=None, tolerance=0.1, exact=False, after=0.0):
    if direction not in ("forward", "backward", "left", "right", "stop"):
        raise ValueError(f"motors: direction must be forward, backward, left, right or stop, got {direction!r}")
    segs = [s for s in _segments(result) if s[2] >= after]
    found = [s for s in segs if s[0] == direction]
    if not found:
        return False, f"the robot never went {direction}; motion: {_fmt_segs(segs)}"
    if for_s is None:
        return True, f"the robot went {direction} at t={found[0][1]:g}"
    for d, t0, t1 in found:
        dur = t1 - t0
        if dur >= for_s - tolerance and (not exact or dur <= for_s + tolerance):
            return True, f"the robot went {direction} for {dur:.3g} s from t={t0:g}"
    durs = ", ".join(f"{t1 - t0:.3g}" for _, t0, t1 in found)
    return False, f"the robot went {direction} for {durs} s, expected {for_s:g} +- {tolerance:g}; motion: {_fmt_segs(segs)}"


def _fmt_segs(segs):
    return ", ".join(f"{d} {t0:g}-{t1:g}" for d, t0, t1 in segs[:8]) or "none"


def check_motor_sequence(result, steps, tolerance=0.1):
    segs = _segments(result)
    for i in range(len(segs)):
        ok = True
        for j, step in enumerate(steps):
            if i + j >= len(segs):
                ok = False
                break
            d, t0, t1 = segs[i + j]
            if d != step["direction"]:
                ok = False
                break
            if step.get("for_s") is not None and abs((t1 - t0) - step["for_s"]) > tolerance:
                ok = False
                break
        if ok:
            return True, f"motion matched from t={segs[i][1]:g}: {_fmt_segs(segs[i:i + len(steps)])}"
    want = ", ".join(f"{s['direction']}" + (f" {s['for_s']:g} s" if s.get("for_s") is not None else "")
                     for s in steps)
    return False, f"expected motion {want}; saw {_fmt_segs(segs)}"


def check_led_when_dark(result, pin="led", threshold=2048, max_delay_s=0.5, pixels=False):
    sc = result.scenario or {}
    if "light" not in sc.get("signals", {}):
        raise ValueError("led_when_dark needs a scenario with a 'light' signal")
    steps = sc["signals"]["light"]
    crossings = [0.0] + [t / 1e6 for (t, v), (_, pv) in zip(steps[1:], steps)
                         if (v < threshold) != (pv < threshold)]
    if pixels:
        writes = [(e["t"], int(any(any(c) for c in e["pixels"]))) for e in result.trace if e["kind"] == "pixels"]
    else:
        writes = level_changes(result, _pin(result, pin))
    n_dark = n_light = 0
    bad = []
    t = 0.0
    while t <= result.end_t + 1e-9:
        if not any(c <= t < c + max_delay_s for c in crossings):
            dark = value_at(sc, "light", t, 2000) < threshold
            on = level_at(writes, t, 0) == 1
            n_dark += dark
            n_light += not dark
            if on != dark:
                bad.append(t)
        t = round(t + SAMPLE_S, 6)
    what = "pixels" if pixels else f"LED (pin {_pin(result, pin)})"
    if n_dark == 0 or n_light == 0:
        return False, "the scenario must have both dark and light periods (after max_delay_s) to judge this"
    if bad:
        return False, f"the {what} was wrong at {len(bad)} of {n_dark + n_light} samples, first at t={bad[0]:g}"
    return True, f"the {what} was on exactly while dark ({n_dark} dark, {n_light} light samples)"


def check_obstacle_avoid(result, threshold_cm=20, max_delay_s=0.5):
    sc = result.scenario or {}
    if "distance_cm" not in sc.get("signals", {}):
        raise ValueError("obstacle_avoid needs a scenario with a 'distance_cm' signal")
    steps = sc["signals"]["distance_cm"]
    near = [v is not None and v < threshold_cm for _, v in steps]
    crossings = [0.0] + [t / 1e6 for (t, _), a, b in zip(steps[1:], near[1:], near) if a != b]
    segs = _segments(result)
    bad, n_near, forward_when_clear = [], 0, False
    t = 0.0
    while t <= result.end_t + 1e-9:
        d = value_at(sc, "distance_cm", t, 100)
        is_near = d is not None and d < threshold_cm
        moving = next((s[0] for s in segs if s[1] <= t < s[2]), "stop")
        if not is_near and moving == "forward":
            forward_when_clear = True
        if is_near and not any(c <= t < c + max_delay_s for c in crossings):
            n_near += 1
            if moving == "forward":
                bad.append(t)
        t = round(t + SAMPLE_S, 6)
    if n_near == 0:
        return False, "the scenario never brings an obstacle closer than threshold_cm (after max_delay_s)"
    if bad:
        return False, f"the robot drove forward with an obstacle closer than {threshold_cm} cm at t={bad[0]:g} ({len(bad)} samples)"
    if not forward_when_clear:
        return False, "the robot never drove forward while the way was clear"
    return True, f"the robot drove forward when clear and never into an obstacle ({n_near} near samples)"


def check_buzzer(result, freq=None, tolerance=0.05, pin="buzzer"):
    gpio = _pin(result, pin)
    tones = [e["freq"] for e in result.trace
             if e["kind"] == "pwm" and e["pin"] == gpio and e["duty_u16"] > 0]
    if not tones:
        return False, f"the buzzer (pin {gpio}) never sounded"
    if freq is None:
        return True, f"the buzzer sounded at {tones[0]} Hz"
    for f in tones:
        if abs(f - freq) <= tolerance * freq:
            return True, f"the buzzer sounded at {f} Hz"
    return False, f"the buzzer never sounded at {freq} Hz +- {tolerance:.0%}; heard {sorted(set(tones))[:10]}"


def check_pixels(result, color, index=None, all=True):
    color = [int(c) for c in color]
    writes = [e for e in result.trace if e["kind"] == "pixels"]
    for e in writes:
        px = e["pixels"]
        if index is not None:
            hit = index < len(px) and px[index] == color
        elif all:
            hit = bool(px) and all_equal(px, color)
        else:
            hit = color in px
        if hit:
            return True, f"pixels showed {color} at t={e['t']:g}"
    last = writes[-1]["pixels"][:8] if writes else None
    return False, f"pixels never showed {color}" + (f" (pixel {index})" if index is not None else "") + (
        f"; last write {last}" if writes else "; the strip was never written")


def all_equal(px, color):
    return all(p == color for p in px)


def check_oled_text(result, contains, ignore_case=False):
    shown = [e["text"] for e in result.trace if e["kind"] == "oled" and "text" in e]
    needle = contains.lower() if ignore_case else contains
    for text in shown:
        if needle in (text.lower() if ignore_case else text):
            return True, f"the OLED showed {text!r}"
    return False, f"the OLED never showed {contains!r}; it showed {shown[:5]}"


def check_prints(result, contains=None, regex=None, min_count=1):
    lines = [p["text"] for p in result.prints]
    if regex is not None:
        hits = [s for s in lines if re.search(regex, s)]
        what = f"matching /{regex}/"
    else:
        hits = [s for s in lines if contains is None or contains in s]
        what = f"containing {contains!r}" if contains is not None else ""
    if len(hits) >= min_count:
        return True, f"{len(hits)} printed line(s) {what}".strip()
    return False, f"{len(hits)} printed line(s) {what}, expected at least {min_count}; printed {lines[:5]}"


def check_wifi(result, connected=True):
    did = any(e["kind"] == "wifi" and e.get("value") == "connected" for e in result.trace)
    return did == bool(connected), ("the program connected to WiFi" if did else "the program never connected to WiFi")


def check_event(result, event_kind, **fields):
    for e in result.trace:
        if e["kind"] == event_kind and all(e.get(k) == v for k, v in fields.items()):
            return True, f"event {e}"
    return False, f"no {event_kind} event with {fields}"


CHECKS = {
    "status": check_status, "no_error": check_no_error, "toggles": check_toggles,
    "pin_level": check_pin_level, "servo_angle": check_servo_angle, "servo_sweep": check_servo_sweep,
    "motors": check_motors, "motor_sequence": check_motor_sequence, "led_when_dark": check_led_when_dark,
    "obstacle_avoid": check_obstacle_avoid,
    "buzzer": check_buzzer, "pixels": check_pixels, "oled_text": check_oled_text, "prints": check_prints,
    "wifi": check_wifi, "event": check_event,
}
COMBINATORS = ("all_of", "any_of", "not")


def _split(spec):
    """Accept {"kind": k, ...} and {k: params}; return (kind, params)."""
    if isinstance(spec, list):
        return "all_of", spec
    if not isinstance(spec, dict) or not spec:
        raise ValueError(f"a check spec must be a non-empty dict or a list, got {spec!r}")
    if "kind" in spec:
        params = dict(spec)
        return params.pop("kind"), params
    if len(spec) != 1:
        raise ValueError(f"a check spec needs a 'kind' key or exactly one key naming the check, got {sorted(spec)}")
    (kind, params), = spec.items()
    return kind, params


def run_check(spec, result):
    """Evaluate one check spec against a SimResult -> (ok, message)."""
    kind, params = _split(spec)
    if kind in ("all_of", "any_of"):
        subs = params if isinstance(params, list) else params.get("checks", [])
        outs = [run_check(s, result) for s in subs]
        if kind == "all_of":
            failed = [m for ok, m in outs if not ok]
            return (not failed), ("; ".join(failed) if failed else "; ".join(m for _, m in outs))
        passed = [m for ok, m in outs if ok]
        return bool(passed), (passed[0] if passed else "none passed: " + "; ".join(m for _, m in outs))
    if kind == "not":
        ok, msg = run_check(params, result)
        return (not ok), ("NOT: " + msg)
    if kind not in CHECKS:
        raise ValueError(f"unknown check kind {kind!r}; valid kinds: {sorted(CHECKS) + list(COMBINATORS)}")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        if kind == "status":
            params = {"value": params}
        else:
            raise ValueError(f"check {kind!r}: parameters must be a dict, got {params!r}")
    try:
        return CHECKS[kind](result, **params)
    except TypeError as e:
        raise ValueError(f"check {kind!r}: bad parameters {sorted(params)}: {e}") from None


def check_program(code, spec, scenario=None, budget_s=5.0, **run_kw):
    """Run a program in the sandbox and judge it: (ok, message, SimResult)."""
    from robolm.sim.runner import run
    result = run(code, scenario=scenario, budget_s=budget_s, **run_kw)
    ok, msg = run_check(spec, result)
    return ok, msg, result
