# machine: a simulated ESP32 `machine` module (runs INSIDE MicroPython).
#
# Same names and arguments as MicroPython's ESP32 port. Outputs become trace
# events (pin levels, PWM duty/frequency, servo angle); inputs read the scenario
# through _sim. Errors mimic the board where it matters for learners (an output
# on an input-only pin, a pin that does not exist).

import _sim

_VALID = set(list(range(0, 20)) + [21, 22, 23, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39])
_INPUT_ONLY = (34, 35, 36, 37, 38, 39)
_FLASH = (6, 7, 8, 9, 10, 11)


def _pin_id(p):
    if isinstance(p, Pin):
        return p._id
    if isinstance(p, int):
        if p in _FLASH:
            raise ValueError("invalid pin %d: GPIO6-11 are wired to the SPI flash" % p)
        if p not in _VALID:
            raise ValueError("invalid pin")
        return p
    raise TypeError("can't convert %s to int" % type(p).__name__)


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    PULL_HOLD = 4
    IRQ_RISING = 1
    IRQ_FALLING = 2
    WAKE_LOW = 4
    WAKE_HIGH = 5
    DRIVE_0 = 0
    DRIVE_1 = 1
    DRIVE_2 = 2
    DRIVE_3 = 3

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        self._id = _pin_id(id)
        self._mode = None
        self._pull = None
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=None, hold=None):
        pid = self._id
        if pull != -1:
            self._pull = pull
        if mode != -1 and mode is not None:
            if mode in (Pin.OUT, Pin.OPEN_DRAIN):
                if pid in _INPUT_ONLY:
                    raise ValueError("pin can only be input")
                self._mode = mode
                _sim.modes[pid] = "out"
                if value is None:
                    value = _sim.levels.get(pid, 0)
            elif mode == Pin.IN:
                self._mode = mode
                _sim.modes[pid] = "in"
            else:
                raise ValueError("invalid pin mode")
        if value is not None:
            if _sim.modes.get(pid) == "out":
                self._drive(value)
            else:
                _sim.levels[pid] = 1 if value else 0

    def _drive(self, v):
        _sim.cost()
        pid = self._id
        v = 1 if v else 0
        if pid == _sim.pins.get("trig") and _sim.levels.get(pid) == 1 and v == 0:
            _sim.trig_fall_us = _sim.now_us
        _sim.set_level(pid, v)

    def value(self, *args):
        if args:
            if _sim.modes.get(self._id) == "out":
                self._drive(args[0])
            else:
                _sim.levels[self._id] = 1 if args[0] else 0
            return None
        if _sim.modes.get(self._id) == "out":
            return _sim.levels.get(self._id, 0)
        _sim.cost()
        return _sim.digital_in(self._id, self._pull == Pin.PULL_UP)

    def __call__(self, *args):
        return self.value(*args)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, *, wake=None, hard=False):
        if handler is None:
            _sim.irqs.pop(self._id, None)
        else:
            _sim.irqs[self._id] = (handler, trigger, self)
            _sim.armed()
        return None

    def mode(self, *args):
        if args:
            self.init(args[0])
            return None
        return self._mode

    def pull(self, *args):
        if args:
            self._pull = args[0]
            return None
        return self._pull

    def drive(self, *args):
        return None

    def __repr__(self):
        return "Pin(%d)" % self._id


class Signal:
    def __init__(self, pin, *args, invert=False):
        self._pin = pin if isinstance(pin, Pin) else Pin(pin, *args)
        self._invert = invert

    def value(self, *args):
        if args:
            self._pin.value((not args[0]) if self._invert else args[0])
            return None
        v = self._pin.value()
        return (1 - v) if self._invert else v

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, *args):
        return self.value(*args)


# ---- PWM ------------------------------------------------------------------------------
def _servo_angle(freq, duty_u16):
    """Servo angle from a 50 Hz pulse: 0.5 ms = 0 degrees, 2.5 ms = 180 degrees."""
    if freq < 40 or freq > 60 or duty_u16 <= 0:
        return None
    pulse_us = duty_u16 * 1000000.0 / 65535.0 / freq
    if pulse_us < 300 or pulse_us > 2700:
        return None
    a = (pulse_us - 500.0) * 180.0 / 2000.0
    a = 0.0 if a < 0 else (180.0 if a > 180 else a)
    return round(a, 1)


class PWM:
    def __init__(self, dest, freq=None, duty=None, *, duty_u16=None, duty_ns=None, invert=False):
        pid = _pin_id(dest)
        if pid in _INPUT_ONLY:
            raise ValueError("pin can only be input")
        self._id = pid
        self._freq = 5000
        self._duty_u16 = 32768
        self._on = True
        self._last = None
        _sim.modes[pid] = "pwm"
        self.init(freq=freq, duty=duty, duty_u16=duty_u16, duty_ns=duty_ns)

    def init(self, *, freq=None, duty=None, duty_u16=None, duty_ns=None, invert=False):
        if freq is not None:
            self._set_freq(freq)
        if duty is not None:
            self._set_duty_u16(self._from_duty(duty))
        if duty_u16 is not None:
            self._set_duty_u16(duty_u16)
        if duty_ns is not None:
            self._set_duty_u16(int(duty_ns * self._freq * 65535 // 1000000000))
        self._on = True
        _sim.modes[self._id] = "pwm"
        self._emit()

    def _from_duty(self, d):
        d = int(d)
        if d < 0 or d > 1023:
            raise ValueError("duty must be between 0 and 1023")
        return d * 65535 // 1023

    def _set_freq(self, f):
        f = int(f)
        if f < 1 or f > 40000000:
            raise ValueError("frequency must be from 1Hz to 40MHz")
        self._freq = f

    def _set_duty_u16(self, d):
        d = int(d)
        if d < 0 or d > 65535:
            raise ValueError("duty_u16 must be from 0 to 65535")
        self._duty_u16 = d

    def _emit(self):
        _sim.cost()
        duty_u16 = self._duty_u16 if self._on else 0
        state = (self._freq, duty_u16)
        if state == self._last:
            return
        self._last = state
        fields = {"pin": self._id, "freq": self._freq, "duty": duty_u16 * 1023 // 65535,
                  "duty_u16": duty_u16}
        angle = _servo_angle(self._freq, duty_u16)
        if angle is not None:
            fields["angle"] = angle
        _sim.event("pwm", **fields)

    def freq(self, *args):
        if not args:
            return self._freq
        self._set_freq(args[0])
        self._emit()

    def duty(self, *args):
        if not args:
            return self._duty_u16 * 1023 // 65535
        self._set_duty_u16(self._from_duty(args[0]))
        self._on = True
        self._emit()

    def duty_u16(self, *args):
        if not args:
            return self._duty_u16
        self._set_duty_u16(args[0])
        self._on = True
        self._emit()

    def duty_ns(self, *args):
        if not args:
            return self._duty_u16 * 1000000000 // (65535 * self._freq)
        self._set_duty_u16(int(args[0] * self._freq * 65535 // 1000000000))
        self._on = True
        self._emit()

    def deinit(self):
        self._on = False
        self._emit()

    def __repr__(self):
        return "PWM(Pin(%d), freq=%d, duty_u16=%d)" % (self._id, self._freq, self._duty_u16)


# ---- ADC --------------------------------------------------------------------------------
class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 0
    WIDTH_10BIT = 1
    WIDTH_11BIT = 2
    WIDTH_12BIT = 3

    def __init__(self, pin, *, atten=None):
        pid = _pin_id(pin)
        if pid not in (32, 33, 34, 35, 36, 37, 38, 39, 0, 2, 4, 12, 13, 14, 15, 25, 26, 27):
            raise ValueError("invalid Pin for ADC")
        self._id = pid
        self._bits = 12

    def atten(self, a):
        pass

    def width(self, w):
        self._bits = 9 + int(w)

    def init(self, *args, **kw):
        pass

    def read(self):
        _sim.cost()
        return _sim.adc_in(self._id) >> (12 - self._bits)

    def read_u16(self):
        _sim.cost()
        return _sim.adc_in(self._id) * 65535 // 4095

    def read_uv(self):
        _sim.cost()
        return _sim.adc_in(self._id) * 3300000 // 4095


class ADCBlock:
    def __init__(self, *args, **kw):
        pass

    def connect(self, *args, **kw):
        return ADC(args[-1] if args else 36)


# ---- buses ---------------------------------------------------------------------------------
class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400000, timeout=50000):
        self._id = id
        self._devices = _sim.flags.get("i2c_devices", [0x3C])

    def init(self, *args, **kw):
        pass

    def scan(self):
        _sim.cost()
        return list(self._devices)

    def _check(self, addr):
        if addr not in self._devices:
            raise OSError(19)  # ENODEV, as on the board

    def writeto(self, addr, buf, stop=True):
        self._check(addr)
        return 1

    def writevto(self, addr, vector, stop=True):
        self._check(addr)
        return len(vector)

    def readfrom(self, addr, nbytes, stop=True):
        self._check(addr)
        return bytes(nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        self._check(addr)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._check(addr)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        self._check(addr)
        return bytes(nbytes)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        self._check(addr)


class SoftI2C(I2C):
    pass


class SPI:
    MSB = 0
    LSB = 1

    def __init__(self, id=1, baudrate=1000000, **kw):
        self._id = id

    def init(self, *args, **kw):
        pass

    def deinit(self):
        pass

    def write(self, buf):
        return None

    def read(self, nbytes, write=0):
        return bytes(nbytes)

    def readinto(self, buf, write=0):
        return None

    def write_readinto(self, wbuf, rbuf):
        return None


class SoftSPI(SPI):
    pass


def SERIAL_US(n):
    return _sim.SERIAL_US_PER_CHAR * n


class UART:
    def __init__(self, id, baudrate=115200, **kw):
        self._id = id

    def init(self, *args, **kw):
        pass

    def deinit(self):
        pass

    def any(self):
        return 0

    def read(self, n=-1):
        return None

    def readline(self):
        return None

    def readinto(self, buf, n=-1):
        return None

    def write(self, buf):
        _sim.cost(0, SERIAL_US(len(buf)))
        text = buf if isinstance(buf, str) else bytes(buf).decode()
        _sim.event("uart", id=self._id, text=text)
        return len(buf)


# ---- timers -----------------------------------------------------------------------------------
class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, **kw):
        self._id = id
        self._cb = None
        self._period_us = 0
        self._next_us = 0
        self._mode = Timer.PERIODIC
        if kw:
            self.init(**kw)

    def init(self, *, mode=1, period=-1, freq=-1, callback=None, tick_hz=1000):
        if freq is not None and freq > 0:
            period_us = int(1000000 // freq)
        elif period is not None and period > 0:
            period_us = int(period * 1000000 // tick_hz)
        else:
            raise ValueError("period or freq must be given")
        if period_us < 100:
            period_us = 100
        self._mode = mode
        self._cb = callback
        self._period_us = period_us
        self._next_us = _sim.now_us + period_us
        if self not in _sim.timers:
            _sim.timers.append(self)
            _sim.armed()

    def deinit(self):
        if self in _sim.timers:
            _sim.timers.remove(self)

    def _fire(self):
        if self._mode == Timer.ONE_SHOT:
            self.deinit()
        else:
            self._next_us += self._period_us
        if self._cb is not None:
            self._cb(self)

    def value(self):
        return 0


class WDT:
    def __init__(self, id=0, timeout=5000):
        pass

    def feed(self):
        pass


class RTC:
    def __init__(self, id=0):
        self._base = (2000, 1, 1, 5, 0, 0, 0, 0)

    def datetime(self, *args):
        if args:
            self._base = tuple(args[0])
            return None
        return self._base

    def init(self, dt=None):
        if dt:
            self._base = tuple(dt)


class TouchPad:
    def __init__(self, pin):
        self._id = _pin_id(pin)

    def read(self):
        _sim.cost()
        return 500

    def config(self, v):
        pass


# ---- functions -------------------------------------------------------------------------------
def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    """HC-SR04 echo: the scenario distance gives the pulse length; the clock moves with it."""
    pid = _pin_id(pin)
    if pid == _sim.pins.get("echo"):
        dur = _sim.echo_us()
        if dur < 0 or dur > timeout_us:
            _sim.advance_to(_sim.now_us + timeout_us)
            return -1
        _sim.advance_to(_sim.now_us + 500 + dur)
        return dur
    _sim.advance_to(_sim.now_us + timeout_us)
    return -2


def reset():
    _sim.event("reset")
    raise _sim.SimReset()


def soft_reset():
    reset()


def deepsleep(ms=0):
    _sim.event("deepsleep", ms=ms)
    raise _sim.SimReset()


def lightsleep(ms=0):
    _sim.sleep_us(int(ms) * 1000)


def idle():
    _sim.cost(1000)


_freq = [160000000]


def freq(*args):
    if args:
        _freq[0] = int(args[0])
        return None
    return _freq[0]


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def reset_cause():
    return 1


def wake_reason():
    return 0


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
