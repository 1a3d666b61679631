# _sim: the simulated world, shared by the simulated MicroPython modules.
#
# This file runs INSIDE MicroPython (the real interpreter, in a sandboxed
# subprocess), never in CPython. It holds:
#   - the virtual clock (integer microseconds; only sleeping and reading inputs move it),
#   - the scenario (sensor signals as step functions of virtual time),
#   - the trace (a list of compact events, flushed to stdout as JSON lines),
#   - the timers and pin interrupts that fire as the clock moves.
# The modules machine, time, neopixel, dht, network and ssd1306 are thin
# layers over these functions.

import gc
import json

# ---- limits and costs -----------------------------------------------------------
READ_COST_US = 100       # a hardware call in a busy loop costs this much virtual time...
FREE_READS = 50          # ...once more than this many calls happened since the last sleep
SERIAL_US_PER_CHAR = 87  # print() over the USB serial at 115200 baud, in a busy loop
MAX_EVENTS = 20000       # more events than this: the program is stopped (a loop without sleep?)
MAX_PRINTS = 5000        # printed lines kept in the trace (more are counted, not kept)
MAX_PRINT_CHARS = 200000
FLUSH_EVERY = 128        # events buffered before they are written to stdout...
FLUSH_BYTES = 4096       # ...or about this many bytes of JSON (the heap is small)


class SimBudget(BaseException):
    """Virtual time reached the budget: the normal end of a `while True:` program."""


class SimLimit(BaseException):
    """The program made too many events or prints without letting virtual time pass."""


class SimReset(BaseException):
    """machine.reset() / deepsleep(): the program ends like a reboot."""


# ---- state (filled by setup) -----------------------------------------------------
now_us = 0
budget_us = 5000000
budget_hit = False
limit_msg = None
pins = {}          # role name -> pin number ("led": 2, "button": 19, ...)
signals = {}       # signal name -> [[t_us, value], ...] sorted by time
inputs = {}        # pin number -> [[t_us, value], ...] (digital or ADC, from the scenario)
adc_inputs = {}    # pin number -> [[t_us, value], ...]
flags = {}         # other scenario settings (wifi, i2c devices, ...)
levels = {}        # pin number -> last output level written (0/1)
modes = {}         # pin number -> "in" | "out" | "pwm"
trig_fall_us = -1  # time of the last HC-SR04 trigger pulse (falling edge)
timers = []        # active Timer objects (each has ._next_us, ._period_us, ._cb)
irqs = {}          # pin number -> (handler, trigger, pin object)

_buf = []
_buf_bytes = 0
_reads = 0         # reads since the last sleep (see cost())
_n_events = 0
_n_prints = 0
_n_chars = 0
_write = None      # set by the bootstrap: writes one line to the real stdout


def setup(job, write):
    global budget_us, pins, signals, inputs, adc_inputs, flags, _write
    budget_us = int(job["budget_us"])
    sc = job["scenario"]
    pins = sc["pins"]
    signals = sc["signals"]
    inputs = {}
    for k in sc["inputs"]:
        inputs[int(k)] = sc["inputs"][k]
    adc_inputs = {}
    for k in sc["adc"]:
        adc_inputs[int(k)] = sc["adc"][k]
    flags = sc["flags"]
    _write = write


# ---- trace ------------------------------------------------------------------------
def flush():
    global _buf, _buf_bytes
    if not _buf:
        return
    try:
        _write(json.dumps(["ev", _buf]))
    except MemoryError:
        # the program filled the heap: write the events one by one
        gc.collect()
        for e in _buf:
            _write(json.dumps(["ev", [e]]))
    _buf = []
    _buf_bytes = 0


def _add(e, size):
    global _buf_bytes
    _buf.append(e)
    _buf_bytes += size
    if len(_buf) >= FLUSH_EVERY or _buf_bytes >= FLUSH_BYTES:
        flush()


def event(kind, **fields):
    """Record one event at the current virtual time."""
    global _n_events, limit_msg
    if budget_hit:
        raise SimBudget()
    if limit_msg:
        raise SimLimit(limit_msg)
    _n_events += 1
    if _n_events > MAX_EVENTS:
        limit_msg = "event limit reached (%d events): a loop that never sleeps?" % MAX_EVENTS
        raise SimLimit(limit_msg)
    fields["t"] = now_us
    fields["kind"] = kind
    size = 64
    if "pixels" in fields:
        size += 16 * len(fields["pixels"])
    if "text" in fields:
        size += 2 * len(fields["text"])
    _add(fields, size)


def record_print(text, charge=True):
    """One printed line. Past MAX_PRINTS lines (or MAX_PRINT_CHARS) the rest are counted but not
    kept (one "print_limit" event says so); in a busy loop printing takes serial-line time."""
    global _n_prints, _n_chars
    if limit_msg:
        raise SimLimit(limit_msg)
    _n_prints += 1
    _n_chars += len(text)
    if _n_prints <= MAX_PRINTS and _n_chars <= MAX_PRINT_CHARS:
        _add({"t": now_us, "kind": "print", "text": text}, 48 + 2 * len(text))
    elif not flags.get("_print_limit"):
        flags["_print_limit"] = True
        event("print_limit", max_prints=MAX_PRINTS, max_chars=MAX_PRINT_CHARS)
    if charge:
        cost(0, SERIAL_US_PER_CHAR * (len(text) + 1))


def set_level(pin, value):
    """An output pin was driven; record it only if the level changed."""
    value = 1 if value else 0
    if levels.get(pin) != value:
        levels[pin] = value
        event("pin", pin=pin, value=value)


# ---- scenario signals ---------------------------------------------------------------
def step_value(steps, t_us, default=0):
    """Value of a step function [[t_us, value], ...] at time t_us."""
    v = default
    for s in steps:
        if s[0] <= t_us:
            v = s[1]
        else:
            break
    return v


def signal(name, default=0):
    steps = signals.get(name)
    if steps is None:
        return default
    return step_value(steps, now_us, default)


def digital_in(pin, pull_up=False):
    """Level that an input pin reads now, from the scenario."""
    if pin in inputs:
        return 1 if step_value(inputs[pin], now_us) else 0
    if pin == pins.get("echo"):
        return echo_level()
    if pin == pins.get("line_left"):
        return 1 if signal("line_left") else 0
    if pin == pins.get("line_right"):
        return 1 if signal("line_right") else 0
    if pin == pins.get("button"):
        return 1 if signal("button", 1) else 0
    if pin in levels and modes.get(pin) == "out":
        return levels[pin]
    return 1 if pull_up else 0


def adc_in(pin):
    """Raw 12-bit ADC value (0..4095) that an analog pin reads now."""
    if pin in adc_inputs:
        v = step_value(adc_inputs[pin], now_us)
    elif pin == pins.get("ldr"):
        v = signal("light", 2000)
    elif pin == pins.get("pot"):
        v = signal("potentiometer", 0)
    elif pin == pins.get("line_left"):
        v = 4095 if signal("line_left") else 0
    elif pin == pins.get("line_right"):
        v = 4095 if signal("line_right") else 0
    else:
        v = 0
    v = int(v)
    return 0 if v < 0 else (4095 if v > 4095 else v)


def echo_us():
    """Round-trip time of the HC-SR04 echo for the scenario distance (or -1: nothing in range)."""
    d = signal("distance_cm", 100)
    if d is None or d < 2 or d > 400:
        return -1
    return int(d * 58)  # 58 us per cm there and back (343 m/s), as the firmware assumes


def echo_level():
    # The echo line goes high 500 us after the trigger pulse, for the round-trip time.
    if trig_fall_us < 0:
        return 0
    dur = echo_us()
    if dur < 0:
        dur = 38000
    start = trig_fall_us + 500
    return 1 if start <= now_us < start + dur else 0


# ---- virtual clock ------------------------------------------------------------------
def _next_irq(after_us):
    """Earliest pin-interrupt edge strictly after after_us: (t_us, pin) or None."""
    best = None
    for pin in irqs:
        h, trig, obj = irqs[pin]
        steps = inputs.get(pin)
        default = 0
        if steps is None:
            if pin == pins.get("button"):
                steps = signals.get("button")
                default = 1
            elif pin == pins.get("line_left"):
                steps = signals.get("line_left")
            elif pin == pins.get("line_right"):
                steps = signals.get("line_right")
        if not steps:
            continue
        prev = step_value(steps, after_us, default)
        for s in steps:
            if s[0] <= after_us:
                continue
            v = 1 if s[1] else 0
            if v != prev:
                rising = v == 1
                if (rising and trig & 1) or ((not rising) and trig & 2):
                    if best is None or s[0] < best[0]:
                        best = (s[0], pin)
                    break
                prev = v
    return best


def advance_to(target_us):
    """Move the clock to target_us, firing timers and pin interrupts on the way."""
    global now_us, budget_hit
    if budget_hit:
        raise SimBudget()
    if limit_msg:
        raise SimLimit(limit_msg)
    while True:
        nxt = None
        for tm in timers:
            if nxt is None or tm._next_us < nxt[0]:
                nxt = (tm._next_us, tm)
        edge = _next_irq(now_us) if irqs else None
        if edge is not None and (nxt is None or edge[0] < nxt[0]):
            nxt = (edge[0], edge[1])
        if nxt is None or nxt[0] > target_us or nxt[0] > budget_us:
            break
        now_us = nxt[0]
        what = nxt[1]
        if isinstance(what, int):
            h, trig, obj = irqs[what]
            h(obj)
        else:
            what._fire()
    if target_us > budget_us:
        now_us = budget_us
        budget_hit = True
        flush()
        _write(json.dumps(["budget", now_us]))
        raise SimBudget()
    now_us = target_us


def sleep_us(us):
    global _reads
    us = int(us)
    if us < 0:
        raise ValueError("sleep length must be non-negative")
    if us == 0:
        cost()  # `while True: sleep(0)` must still move forward
        return
    _reads = 0
    advance_to(now_us + us)


_armed = False


def armed():
    """A timer or pin interrupt was set up: tell the fork server once. A program that then
    idles in `while True: pass` gets interrupted sooner, and its timers run to the budget."""
    global _armed
    if not _armed:
        _armed = True
        flush()
        _write('["armed"]')


def cost(us=0, busy_us=READ_COST_US):
    """A hardware call (a read, a write, a print). A program that sleeps between calls keeps
    exact timing; a busy loop (more than FREE_READS calls without sleeping) pays busy_us per
    call, so it still moves forward in virtual time and ends at the budget instead of spinning
    forever. `us` is time the operation itself always takes on the board (a DHT read: 20 ms)."""
    global _reads
    _reads += 1
    if _reads > FREE_READS:
        us += busy_us
    if us:
        advance_to(now_us + us)
    elif budget_hit:
        raise SimBudget()


def run_background():
    """The main program ended but timers or interrupts are still armed: run them until the budget."""
    if timers or irqs:
        advance_to(budget_us + 1)
