# neopixel: a simulated NeoPixel (WS2812) strip (runs INSIDE MicroPython).
# write() records a "pixels" event with every pixel's colour, only when they changed.

import _sim
import machine


class NeoPixel:
    ORDER = (1, 0, 2, 3)

    def __init__(self, pin, n, bpp=3, timing=1):
        self.pin = pin if isinstance(pin, machine.Pin) else machine.Pin(pin, machine.Pin.OUT)
        self.n = int(n)
        self.bpp = bpp
        self._px = [(0,) * bpp for _ in range(self.n)]
        self._last = None

    def __len__(self):
        return self.n

    def __setitem__(self, i, v):
        if isinstance(i, int) and i < 0:
            i += self.n
        if len(v) != self.bpp:
            raise ValueError("expected a tuple of %d values" % self.bpp)
        for c in v:
            if not 0 <= int(c) <= 255:
                raise ValueError("colour values must be 0..255")
        self._px[i] = tuple(int(c) for c in v)

    def __getitem__(self, i):
        return self._px[i]

    def fill(self, v):
        for i in range(self.n):
            self[i] = v

    def write(self):
        _sim.cost()
        px = [list(p) for p in self._px]
        if px != self._last:
            self._last = px
            _sim.event("pixels", pin=self.pin._id, pixels=px)
