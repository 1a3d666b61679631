# ssd1306: a simulated SSD1306 OLED (runs INSIDE MicroPython).
#
# Drawing really happens in a framebuf.FrameBuffer (the same base class as the
# real driver); show() records an "oled" event with the text drawn since the
# last clear (lines sorted top to bottom, left to right), whenever the screen changed.

import framebuf
import _sim

SET_CONTRAST = 0x81


class SSD1306(framebuf.FrameBuffer):
    def __init__(self, width, height, external_vcc=False):
        self.width = width
        self.height = height
        self.external_vcc = external_vcc
        self.pages = height // 8
        self.buffer = bytearray(self.pages * width)
        super().__init__(self.buffer, width, height, framebuf.MONO_VLSB)
        self._texts = []
        self._last = None
        self._on = True
        self.fill(0)

    def fill(self, c):
        super().fill(c)
        self._texts = []

    def text(self, s, x=0, y=0, c=1):
        s = str(s)
        super().text(s, x, y, c)
        # text drawn over the same spot replaces the old string
        self._texts = [t for t in self._texts if not (t[1] == y and t[0] == x)]
        if c:
            self._texts.append([x, y, s])

    def _lines(self):
        rows = {}
        for x, y, s in self._texts:
            rows.setdefault(y, []).append((x, s))
        out = []
        for y in sorted(rows):
            out.append(" ".join(s for x, s in sorted(rows[y])))
        return out

    def show(self):
        _sim.cost(0, 20000)  # sending 1 KB over 400 kHz I2C takes about 20 ms
        lines = self._lines()
        state = (lines, bytes(self.buffer))
        if state != self._last:
            self._last = state
            _sim.event("oled", text="\n".join(lines), lines=lines)

    def poweroff(self):
        self._on = False
        _sim.event("oled", power=0)

    def poweron(self):
        self._on = True
        _sim.event("oled", power=1)

    def contrast(self, contrast):
        pass

    def invert(self, invert):
        pass

    def rotate(self, rotate):
        pass

    def write_cmd(self, cmd):
        pass

    def write_data(self, buf):
        pass

    def init_display(self):
        self.fill(0)


class SSD1306_I2C(SSD1306):
    def __init__(self, width, height, i2c, addr=0x3C, external_vcc=False):
        self.i2c = i2c
        self.addr = addr
        i2c.writeto(addr, b"\x00\xae")  # display off: raises OSError(19) if nothing answers at addr
        super().__init__(width, height, external_vcc)


class SSD1306_SPI(SSD1306):
    def __init__(self, width, height, spi, dc, res, cs, external_vcc=False):
        self.spi = spi
        super().__init__(width, height, external_vcc)
