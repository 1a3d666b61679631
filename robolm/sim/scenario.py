"""Scenarios: what the simulated robot's sensors see, as plain dicts (or YAML).

Every signal is either a constant or a step function `[[t_seconds, value], ...]` (the value
holds from its time until the next step). Keys:

| key | meaning | default |
|---|---|---|
| `pins` | `{role: gpio}` overrides of the default pin map (roles below) | INTERFACES.md map |
| `distance_cm` | what the HC-SR04 sees; outside 2..400 cm the echo times out | 100 |
| `line_left`, `line_right` | IR line sensors, 0 = white floor, 1 = black line | 0 |
| `line` | shorthand: `{"left": ..., "right": ...}` or steps of `[left, right]` | |
| `light` | LDR as the raw 12-bit ADC reads it, 0 (dark) .. 4095 (bright) | 2000 |
| `potentiometer` | raw 12-bit ADC value | 0 |
| `button_presses` | `[[t_down, t_up], ...]`: the button (pull-up) reads 0 while pressed | none |
| `button` | raw level steps instead of presses (1 = released) | 1 |
| `temperature`, `humidity` | what the DHT measures | 25, 50 |
| `dht_fail` | the DHT does not answer (measure() raises OSError) | false |
| `wifi` | true/false, or `{"ok": bool, "delay_s": 0.5, "ip": "192.168.1.42"}` | true |
| `i2c_devices` | addresses that answer on I2C (the OLED is 0x3C = 60) | [60] |
| `inputs` | `{gpio: steps}` extra digital inputs | |
| `adc` | `{gpio: steps}` extra analog inputs (0..4095) | |
| `seed` | seed for MicroPython's `random` | 0 |

Pin roles: led ena in1 in2 enb in3 in4 servo trig echo line_left line_right ldr pot button
dht buzzer neopixel sda scl.
"""

DEFAULT_PINS = {
    "led": 2,
    "ena": 14, "in1": 27, "in2": 26,      # left motor (L298N)
    "enb": 32, "in3": 25, "in4": 33,      # right motor
    "servo": 13,
    "trig": 5, "echo": 18,                # HC-SR04
    "line_left": 34, "line_right": 35,    # IR line sensors
    "ldr": 36, "pot": 39,                 # ADC
    "button": 19,
    "dht": 4,
    "buzzer": 23,
    "neopixel": 16,
    "sda": 21, "scl": 22,
}

KEYS = ("pins", "distance_cm", "line_left", "line_right", "line", "light", "potentiometer",
        "button_presses", "button", "temperature", "humidity", "dht_fail", "wifi", "i2c_devices",
        "inputs", "adc", "seed")


def _steps(name, v):
    """A constant or [[t_s, value], ...] -> [[t_us, value], ...] sorted by time."""
    if hasattr(v, "tolist"):  # NumPy scalar or array
        v = v.tolist()
    if isinstance(v, (int, float, bool)) or v is None:
        return [[0, v]]
    if not isinstance(v, (list, tuple)) or not v:
        raise ValueError(f"scenario {name!r}: expected a number or a list of [t_seconds, value] steps, got {v!r}")
    out = []
    for step in v:
        if not isinstance(step, (list, tuple)) or len(step) != 2:
            raise ValueError(f"scenario {name!r}: each step must be [t_seconds, value], got {step!r}")
        out.append([int(round(float(step[0]) * 1e6)), step[1]])
    if any(b[0] < a[0] for a, b in zip(out, out[1:])):
        raise ValueError(f"scenario {name!r}: step times must not go backwards: {v!r}")
    return out


def normalize(scenario=None):
    """Check a scenario dict and turn it into the form the MicroPython side reads."""
    sc = dict(scenario or {})
    unknown = sorted(set(sc) - set(KEYS))
    if unknown:
        raise ValueError(f"unknown scenario key(s) {unknown}; valid keys: {list(KEYS)}")
    pins = dict(DEFAULT_PINS)
    for role, gpio in (sc.get("pins") or {}).items():
        if role not in DEFAULT_PINS:
            raise ValueError(f"unknown pin role {role!r}; valid roles: {sorted(DEFAULT_PINS)}")
        pins[role] = int(gpio)
    signals = {}
    for name in ("distance_cm", "line_left", "line_right", "light", "potentiometer",
                 "temperature", "humidity"):
        if name in sc:
            signals[name] = _steps(name, sc[name])
    line = sc.get("line")
    if isinstance(line, dict):
        for side in ("left", "right"):
            if side in line:
                signals["line_" + side] = _steps("line." + side, line[side])
    elif line is not None:
        steps = _steps("line", line)
        for i, side in enumerate(("left", "right")):
            signals["line_" + side] = [[t, v[i] if isinstance(v, (list, tuple)) else v] for t, v in steps]
    if "button" in sc:
        signals["button"] = _steps("button", sc["button"])
    if sc.get("button_presses"):
        steps = [[0, 1]]
        for press in sc["button_presses"]:
            t_down, t_up = float(press[0]), float(press[1])
            if t_up < t_down or t_down * 1e6 < steps[-1][0]:
                raise ValueError(f"scenario 'button_presses': intervals must be ordered [t_down, t_up], got {press!r}")
            steps += [[int(round(t_down * 1e6)), 0], [int(round(t_up * 1e6)), 1]]
        signals["button"] = steps
    flags = {"i2c_devices": [int(a) for a in sc.get("i2c_devices", [0x3C])],
             "dht_fail": bool(sc.get("dht_fail", False))}
    wifi = sc.get("wifi", True)
    if isinstance(wifi, dict):
        flags["wifi"] = bool(wifi.get("ok", True))
        flags["wifi_delay_us"] = int(float(wifi.get("delay_s", 0.5)) * 1e6)
        if "ip" in wifi:
            flags["wifi_ip"] = str(wifi["ip"])
    else:
        flags["wifi"] = bool(wifi)
    inputs = {str(int(k)): _steps(f"inputs.{k}", v) for k, v in (sc.get("inputs") or {}).items()}
    adc = {str(int(k)): _steps(f"adc.{k}", v) for k, v in (sc.get("adc") or {}).items()}
    return {"pins": pins, "signals": signals, "inputs": inputs, "adc": adc, "flags": flags,
            "seed": int(sc.get("seed", 0))}


def value_at(norm, name, t, default=None):
    """Value of a normalized signal at t seconds (what the sandbox would read then)."""
    steps = norm["signals"].get(name)
    if steps is None:
        return default
    v = default
    t_us = int(round(t * 1e6))
    for s_t, s_v in steps:
        if s_t <= t_us:
            v = s_v
        else:
            break
    return v


def change_times(norm, name):
    """Times (seconds) at which a signal steps to a new value."""
    return [s_t / 1e6 for s_t, _ in norm["signals"].get(name, [])]
