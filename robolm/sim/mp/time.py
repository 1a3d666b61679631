# time: MicroPython's `time` on a virtual clock (runs INSIDE MicroPython).
#
# sleep/sleep_ms/sleep_us move the clock; nothing really waits. Reading the
# clock (ticks_ms, ticks_us, time) costs a little virtual time, so busy-wait
# loops still move forward and end at the budget. The epoch is the ESP32's,
# 2000-01-01, and the program starts at 2024-01-01 00:00:00.

import _sim

_EPOCH_START = 757382400  # seconds from 2000-01-01 to 2024-01-01
_TICKS_PERIOD = 1 << 30
_TICKS_HALF = _TICKS_PERIOD // 2


def sleep(seconds):
    _sim.sleep_us(int(seconds * 1000000))


def sleep_ms(ms):
    _sim.sleep_us(int(ms) * 1000)


def sleep_us(us):
    _sim.sleep_us(int(us))


def ticks_us():
    _sim.cost()
    return _sim.now_us % _TICKS_PERIOD


def ticks_ms():
    _sim.cost()
    return (_sim.now_us // 1000) % _TICKS_PERIOD


def ticks_cpu():
    return ticks_us()


def ticks_add(ticks, delta):
    return (ticks + delta) % _TICKS_PERIOD


def ticks_diff(ticks1, ticks2):
    return ((ticks1 - ticks2 + _TICKS_HALF) % _TICKS_PERIOD) - _TICKS_HALF


def time():
    _sim.cost()
    return _EPOCH_START + _sim.now_us // 1000000


def time_ns():
    _sim.cost()
    return (_EPOCH_START * 1000000 + _sim.now_us) * 1000


def _days_in_month(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def gmtime(secs=None):
    if secs is None:
        secs = _EPOCH_START + _sim.now_us // 1000000
    secs = int(secs)
    days, rem = divmod(secs, 86400)
    weekday = (days + 5) % 7  # 2000-01-01 was a Saturday (Monday = 0)
    y = 2000
    while True:
        n = 366 if _days_in_month(y, 2) == 29 else 365
        if days < n:
            break
        days -= n
        y += 1
    yday = days + 1
    m = 1
    while days >= _days_in_month(y, m):
        days -= _days_in_month(y, m)
        m += 1
    return (y, m, days + 1, rem // 3600, (rem // 60) % 60, rem % 60, weekday, yday)


def localtime(secs=None):
    return gmtime(secs)


def mktime(t):
    y, m, d, hh, mm, ss = t[0], t[1], t[2], t[3], t[4], t[5]
    days = 0
    for yy in range(2000, y):
        days += 366 if _days_in_month(yy, 2) == 29 else 365
    for mo in range(1, m):
        days += _days_in_month(y, mo)
    days += d - 1
    return days * 86400 + hh * 3600 + mm * 60 + ss
