# RoboLM classroom robot firmware for an ESP32 DevKit (plain MicroPython).
#
#     from robot import Robot
#     robot = Robot()
#     robot.move_forward(60)
#     robot.wait(1)
#     robot.stop()
#
# Every public method of Robot is one Blockly block (see blocks/*.json); the block
# registry (robolm/registry.py) is extracted from this file and the block files, so
# a method's name, parameters and defaults here ARE the API. The default pin map is
# in firmware/README.md and in DEFAULT_PINS below; change it with Robot(pins={...}).
#
# Conventions:
# - every number a block passes in is clamped into its range (never an exception
#   for a child's out-of-range value): speeds -100..100 or 0..100, angles 0..180,
#   colours 0..255, percentages 0..100;
# - all PWM uses duty_u16 (0..65535): motors and LED at 1000 Hz, servo at 50 Hz;
# - analog inputs are read with ADC.read_u16() >> 4, i.e. 0..4095 like the ESP32's
#   12-bit ADC, with 11 dB attenuation (full 0..3.3 V range);
# - the OLED driver (ssd1306), DHT sensor and WiFi are created on first use, so a
#   robot without them still starts.

import time
from machine import Pin, PWM, ADC, I2C, time_pulse_us

DEFAULT_PINS = {
    "led": 2,          # on-board LED
    "ena": 14,         # L298N left motor enable (PWM)
    "in1": 27,         # L298N left motor direction
    "in2": 26,
    "enb": 32,         # L298N right motor enable (PWM)
    "in3": 25,         # L298N right motor direction
    "in4": 33,
    "servo": 13,       # hobby servo signal (PWM 50 Hz)
    "trig": 5,         # HC-SR04 trigger
    "echo": 18,        # HC-SR04 echo (use a divider to 3.3 V)
    "line_left": 34,   # IR line sensor left (digital, 1 = black line)
    "line_right": 35,  # IR line sensor right
    "ldr": 36,         # light sensor (ADC)
    "pot": 39,         # potentiometer (ADC)
    "button": 19,      # push button to GND (internal pull-up, pressed = 0)
    "dht": 4,          # DHT11 data
    "buzzer": 23,      # passive buzzer (PWM)
    "neopixel": 16,    # WS2812 strip data
    "sda": 21,         # I2C(0) SDA for the SSD1306 OLED
    "scl": 22,         # I2C(0) SCL
}

NUM_PIXELS = 8
OLED_WIDTH = 128
OLED_HEIGHT = 64
OLED_ADDR = 0x3C
MOTOR_FREQ = 1000
SERVO_FREQ = 50
SERVO_MIN_US = 500     # pulse width at 0 degrees
SERVO_MAX_US = 2500    # pulse width at 180 degrees
MAX_DISTANCE_CM = 400  # HC-SR04 range; returned when no echo comes back

# Named colours for set_color(): (r, g, b)
COLORS = {
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
    "yellow": (255, 180, 0), "orange": (255, 80, 0), "purple": (150, 0, 255),
    "pink": (255, 60, 120), "cyan": (0, 255, 255), "white": (255, 255, 255),
    "off": (0, 0, 0),
}

# Semitone of each note name inside an octave, for play_note("C4"), ("F#5"), ("Bb3")
NOTE_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _clamp(value, low, high):
    """Clamp a number into [low, high]."""
    if value < low:
        return low
    if value > high:
        return high
    return value


def note_frequency(note):
    """Frequency in Hz of a note name such as "A4", "C#5" or "Bb3" (0 for "R", a rest)."""
    if isinstance(note, (int, float)):
        return int(note)
    name = str(note).strip().upper()
    if name in ("R", "REST", ""):
        return 0
    step = NOTE_STEPS.get(name[0])
    if step is None:
        raise ValueError("unknown note %r, use names like C4, F#5, Bb3" % note)
    rest = name[1:]
    if rest.startswith("#"):
        step += 1
        rest = rest[1:]
    elif rest.startswith("B") and len(rest) > 1:  # flat, e.g. "BB3" from "Bb3"
        step -= 1
        rest = rest[1:]
    octave = int(rest) if rest else 4
    midi = 12 * (octave + 1) + step        # A4 = midi 69 = 440 Hz
    return int(440 * 2 ** ((midi - 69) / 12) + 0.5)


class Robot:
    """The classroom robot: two motors, servo, sensors, lights, buzzer, OLED, WiFi."""

    def __init__(self, pins=None, num_pixels=NUM_PIXELS):
        self.pins = dict(DEFAULT_PINS)
        if pins:
            for key in pins:
                if key not in DEFAULT_PINS:
                    raise ValueError("unknown pin name %r; valid names: %s"
                                     % (key, ", ".join(sorted(DEFAULT_PINS))))
                self.pins[key] = pins[key]
        p = self.pins
        self._t0 = time.ticks_ms()
        # motors: L298N, direction on IN pins, speed as PWM on EN pins
        self._in1 = Pin(p["in1"], Pin.OUT, value=0)
        self._in2 = Pin(p["in2"], Pin.OUT, value=0)
        self._in3 = Pin(p["in3"], Pin.OUT, value=0)
        self._in4 = Pin(p["in4"], Pin.OUT, value=0)
        self._ena = PWM(Pin(p["ena"]), freq=MOTOR_FREQ, duty_u16=0)
        self._enb = PWM(Pin(p["enb"]), freq=MOTOR_FREQ, duty_u16=0)
        # servo, 50 Hz, created on first use
        self._servo = None
        self._servo_angle = 90
        # HC-SR04
        self._trig = Pin(p["trig"], Pin.OUT, value=0)
        self._echo = Pin(p["echo"], Pin.IN)
        # IR line sensors and button
        self._line_left = Pin(p["line_left"], Pin.IN)
        self._line_right = Pin(p["line_right"], Pin.IN)
        self._button = Pin(p["button"], Pin.IN, Pin.PULL_UP)
        # analog: LDR and potentiometer, 0..3.3 V
        self._ldr = ADC(Pin(p["ldr"]))
        self._ldr.atten(ADC.ATTN_11DB)
        self._pot = ADC(Pin(p["pot"]))
        self._pot.atten(ADC.ATTN_11DB)
        # on-board LED: a plain output until set_led_brightness() makes it PWM
        self._led = Pin(p["led"], Pin.OUT, value=0)
        self._led_pwm = None
        # buzzer (PWM, silent until used)
        self._buzzer = None
        self._volume = 50
        # NeoPixel strip
        import neopixel
        self._num_pixels = num_pixels
        self._np = neopixel.NeoPixel(Pin(p["neopixel"], Pin.OUT), num_pixels)
        # created on first use
        self._dht = None
        self._dht_time = None
        self._temperature = None
        self._humidity = None
        self._oled = None
        self._oled_lines = []
        self._wlan = None

    # ---------------------------------------------------------------- motion
    def _motor(self, pwm, pin_a, pin_b, speed):
        """Drive one motor: speed -100..100, sign is the direction."""
        speed = _clamp(int(speed), -100, 100)
        if speed > 0:
            pin_a.value(1)
            pin_b.value(0)
        elif speed < 0:
            pin_a.value(0)
            pin_b.value(1)
        else:
            pin_a.value(0)
            pin_b.value(0)
        pwm.duty_u16(abs(speed) * 65535 // 100)

    def set_motor_speeds(self, left, right):
        """Set both motor speeds from -100 (full backward) to 100 (full forward)."""
        self._motor(self._ena, self._in1, self._in2, left)
        self._motor(self._enb, self._in3, self._in4, right)

    def set_left_motor(self, speed):
        """Set the left motor speed from -100 (backward) to 100 (forward)."""
        self._motor(self._ena, self._in1, self._in2, speed)

    def set_right_motor(self, speed):
        """Set the right motor speed from -100 (backward) to 100 (forward)."""
        self._motor(self._enb, self._in3, self._in4, speed)

    def move_forward(self, speed=50):
        """Drive forward at a speed from 0 to 100 percent."""
        speed = _clamp(speed, 0, 100)
        self.set_motor_speeds(speed, speed)

    def move_backward(self, speed=50):
        """Drive backward at a speed from 0 to 100 percent."""
        speed = _clamp(speed, 0, 100)
        self.set_motor_speeds(-speed, -speed)

    def turn_left(self, speed=50):
        """Spin left on the spot (left wheel back, right wheel forward)."""
        speed = _clamp(speed, 0, 100)
        self.set_motor_speeds(-speed, speed)

    def turn_right(self, speed=50):
        """Spin right on the spot (left wheel forward, right wheel back)."""
        speed = _clamp(speed, 0, 100)
        self.set_motor_speeds(speed, -speed)

    def curve_left(self, speed=50):
        """Drive forward while curving left (left wheel at half speed)."""
        speed = _clamp(speed, 0, 100)
        self.set_motor_speeds(speed // 2, speed)

    def curve_right(self, speed=50):
        """Drive forward while curving right (right wheel at half speed)."""
        speed = _clamp(speed, 0, 100)
        self.set_motor_speeds(speed, speed // 2)

    def stop(self):
        """Stop both motors."""
        self.set_motor_speeds(0, 0)

    def move_forward_for(self, seconds, speed=50):
        """Drive forward for some seconds, then stop."""
        self.move_forward(speed)
        self.wait(seconds)
        self.stop()

    def move_backward_for(self, seconds, speed=50):
        """Drive backward for some seconds, then stop."""
        self.move_backward(speed)
        self.wait(seconds)
        self.stop()

    def turn_left_for(self, seconds, speed=50):
        """Spin left for some seconds, then stop."""
        self.turn_left(speed)
        self.wait(seconds)
        self.stop()

    def turn_right_for(self, seconds, speed=50):
        """Spin right for some seconds, then stop."""
        self.turn_right(speed)
        self.wait(seconds)
        self.stop()

    # ----------------------------------------------------------------- servo
    def set_servo_angle(self, angle):
        """Turn the servo to an angle from 0 to 180 degrees."""
        angle = _clamp(int(angle), 0, 180)
        if self._servo is None:
            self._servo = PWM(Pin(self.pins["servo"]), freq=SERVO_FREQ, duty_u16=0)
        pulse_us = SERVO_MIN_US + (SERVO_MAX_US - SERVO_MIN_US) * angle // 180
        self._servo.duty_u16(pulse_us * 65535 // 20000)  # 20 ms period at 50 Hz
        self._servo_angle = angle

    def center_servo(self):
        """Turn the servo to the middle (90 degrees)."""
        self.set_servo_angle(90)

    def servo_sweep(self, start=0, end=180, step=10, delay_ms=20):
        """Sweep the servo from start to end degrees in steps, pausing delay_ms each step."""
        start = _clamp(int(start), 0, 180)
        end = _clamp(int(end), 0, 180)
        step = _clamp(abs(int(step)), 1, 180)
        delay_ms = _clamp(int(delay_ms), 0, 10000)
        if end < start:
            step = -step
        angle = start
        while (step > 0 and angle <= end) or (step < 0 and angle >= end):
            self.set_servo_angle(angle)
            time.sleep_ms(delay_ms)
            angle += step

    def get_servo_angle(self):
        """The angle (0..180) the servo was last turned to."""
        return self._servo_angle

    def servo_off(self):
        """Stop sending pulses so the servo goes limp."""
        if self._servo is not None:
            self._servo.duty_u16(0)

    # --------------------------------------------------------------- sensors
    def read_distance_cm(self):
        """Distance to the nearest object in cm from the ultrasonic sensor (400 if nothing)."""
        self._trig.value(0)
        time.sleep_us(2)
        self._trig.value(1)
        time.sleep_us(10)
        self._trig.value(0)
        pulse = time_pulse_us(self._echo, 1, 30000)  # 30 ms is about 5 m
        if pulse < 0:
            return MAX_DISTANCE_CM
        cm = pulse / 58.0  # sound goes there and back at 343 m/s: 58 us per cm
        return min(round(cm, 1), MAX_DISTANCE_CM)

    def obstacle_ahead(self, threshold_cm=20):
        """True when something is closer than threshold_cm."""
        threshold_cm = _clamp(threshold_cm, 2, 400)
        return self.read_distance_cm() < threshold_cm

    def read_line_left(self):
        """Left IR line sensor: 1 on a black line, 0 on white."""
        return self._line_left.value()

    def read_line_right(self):
        """Right IR line sensor: 1 on a black line, 0 on white."""
        return self._line_right.value()

    def line_detected(self):
        """True when either line sensor sees the black line."""
        return self._line_left.value() == 1 or self._line_right.value() == 1

    def read_light(self):
        """Light level from the LDR, 0 (dark) to 4095 (bright)."""
        return self._ldr.read_u16() >> 4

    def read_light_percent(self):
        """Light level from 0 (dark) to 100 (bright) percent."""
        return self.read_light() * 100 // 4095

    def is_dark(self, threshold_percent=30):
        """True when the light level is below threshold_percent."""
        return self.read_light_percent() < _clamp(threshold_percent, 0, 100)

    def read_potentiometer(self):
        """Knob position from 0 to 4095."""
        return self._pot.read_u16() >> 4

    def read_pot_percent(self):
        """Knob position from 0 to 100 percent."""
        return self.read_potentiometer() * 100 // 4095

    def button_pressed(self):
        """True while the button is held down."""
        return self._button.value() == 0

    def wait_for_button(self):
        """Wait until the button is pressed and released."""
        while self._button.value() != 0:
            time.sleep_ms(10)
        time.sleep_ms(20)  # debounce
        while self._button.value() == 0:
            time.sleep_ms(10)

    def _measure_dht(self):
        """Read the DHT11 at most once per 2 s (it cannot measure faster)."""
        now = time.ticks_ms()
        if self._dht_time is not None and time.ticks_diff(now, self._dht_time) < 2000:
            return
        if self._dht is None:
            import dht
            self._dht = dht.DHT11(Pin(self.pins["dht"]))
        try:
            self._dht.measure()
        except OSError:
            if self._temperature is None:
                raise
            return  # keep the last good reading
        self._temperature = self._dht.temperature()
        self._humidity = self._dht.humidity()
        self._dht_time = now

    def read_temperature(self):
        """Temperature in degrees Celsius from the DHT11."""
        self._measure_dht()
        return self._temperature

    def read_humidity(self):
        """Relative humidity in percent from the DHT11."""
        self._measure_dht()
        return self._humidity

    # ---------------------------------------------------------------- lights
    def _led_pin(self):
        """Give the LED back to plain on/off control after brightness PWM."""
        if self._led_pwm is not None:
            self._led_pwm.deinit()
            self._led_pwm = None
            self._led = Pin(self.pins["led"], Pin.OUT, value=0)
        return self._led

    def led_on(self):
        """Turn the on-board LED on."""
        self._led_pin().value(1)

    def led_off(self):
        """Turn the on-board LED off."""
        self._led_pin().value(0)

    def led_toggle(self):
        """Switch the on-board LED on if it is off, off if it is on."""
        led = self._led_pin()
        led.value(1 - led.value())

    def blink_led(self, times=3, interval_ms=200):
        """Blink the on-board LED a number of times."""
        times = _clamp(int(times), 1, 100)
        interval_ms = _clamp(int(interval_ms), 10, 10000)
        for _ in range(times):
            self.led_on()
            time.sleep_ms(interval_ms)
            self.led_off()
            time.sleep_ms(interval_ms)

    def set_led_brightness(self, percent):
        """Set the on-board LED brightness from 0 to 100 percent."""
        percent = _clamp(percent, 0, 100)
        if self._led_pwm is None:
            self._led_pwm = PWM(Pin(self.pins["led"]), freq=MOTOR_FREQ, duty_u16=0)
        self._led_pwm.duty_u16(int(percent * 65535 // 100))

    def set_rgb(self, r, g, b):
        """Light every NeoPixel with one colour (red, green, blue 0..255)."""
        color = (_clamp(int(r), 0, 255), _clamp(int(g), 0, 255), _clamp(int(b), 0, 255))
        for i in range(self._num_pixels):
            self._np[i] = color
        self._np.write()

    def set_pixel(self, index, r, g, b):
        """Light one NeoPixel (index 0..7) with a colour (0..255 each)."""
        index = _clamp(int(index), 0, self._num_pixels - 1)
        self._np[index] = (_clamp(int(r), 0, 255), _clamp(int(g), 0, 255), _clamp(int(b), 0, 255))
        self._np.write()

    def set_color(self, name):
        """Light every NeoPixel with a named colour such as "red" or "blue"."""
        color = COLORS.get(str(name).lower())
        if color is None:
            raise ValueError("unknown colour %r; try one of: %s" % (name, ", ".join(sorted(COLORS))))
        self.set_rgb(color[0], color[1], color[2])

    def clear_pixels(self):
        """Turn every NeoPixel off."""
        self.set_rgb(0, 0, 0)

    def rainbow(self, delay_ms=50):
        """Run one turn of a rainbow around the NeoPixel strip."""
        delay_ms = _clamp(int(delay_ms), 0, 10000)
        n = self._num_pixels
        for shift in range(n):
            for i in range(n):
                self._np[i] = _wheel(((i + shift) * 256 // n) & 255)
            self._np.write()
            time.sleep_ms(delay_ms)

    # ----------------------------------------------------------------- sound
    def _buzzer_pwm(self):
        if self._buzzer is None:
            self._buzzer = PWM(Pin(self.pins["buzzer"]), freq=1000, duty_u16=0)
        return self._buzzer

    def buzzer_on(self, freq=1000):
        """Start a tone at freq Hz (20..10000) until buzzer_off()."""
        freq = _clamp(int(freq), 20, 10000)
        pwm = self._buzzer_pwm()
        pwm.freq(freq)
        pwm.duty_u16(self._volume * 32768 // 100)  # 50% duty is the loudest

    def buzzer_off(self):
        """Silence the buzzer."""
        if self._buzzer is not None:
            self._buzzer.duty_u16(0)

    def beep(self, freq=1000, duration_ms=200):
        """Beep at freq Hz for duration_ms milliseconds."""
        self.buzzer_on(freq)
        time.sleep_ms(_clamp(int(duration_ms), 0, 10000))
        self.buzzer_off()

    def play_note(self, note, duration_ms=300):
        """Play a note such as "C4", "F#5" or "Bb3" ("R" is a rest) for duration_ms."""
        duration_ms = _clamp(int(duration_ms), 0, 10000)
        freq = note_frequency(note)
        if freq > 0:
            self.buzzer_on(freq)
        time.sleep_ms(duration_ms)
        self.buzzer_off()
        time.sleep_ms(10)  # a tiny gap so repeated notes are heard separately

    def set_volume(self, percent):
        """Set the buzzer loudness from 0 to 100 percent."""
        self._volume = _clamp(int(percent), 0, 100)

    def siren(self, times=2):
        """Play a rising and falling siren a number of times."""
        times = _clamp(int(times), 1, 20)
        for _ in range(times):
            for freq in range(600, 1500, 100):
                self.buzzer_on(freq)
                time.sleep_ms(30)
            for freq in range(1500, 600, -100):
                self.buzzer_on(freq)
                time.sleep_ms(30)
        self.buzzer_off()

    # --------------------------------------------------------------- display
    def _display(self):
        if self._oled is None:
            import ssd1306
            i2c = I2C(0, sda=Pin(self.pins["sda"]), scl=Pin(self.pins["scl"]), freq=400000)
            self._oled = ssd1306.SSD1306_I2C(OLED_WIDTH, OLED_HEIGHT, i2c, addr=OLED_ADDR)
        return self._oled

    def oled_clear(self):
        """Clear the OLED screen."""
        oled = self._display()
        oled.fill(0)
        oled.show()
        self._oled_lines = []

    def oled_text(self, text, x=0, y=0):
        """Draw text at pixel x (0..127), y (0..63); call oled_show() to see it."""
        x = _clamp(int(x), 0, OLED_WIDTH - 1)
        y = _clamp(int(y), 0, OLED_HEIGHT - 1)
        self._display().text(str(text), x, y, 1)

    def oled_show(self):
        """Send everything drawn so far to the OLED screen."""
        self._display().show()

    def oled_print(self, text):
        """Print a line on the OLED like a console; old lines scroll up."""
        oled = self._display()
        self._oled_lines.append(str(text)[:OLED_WIDTH // 8])
        self._oled_lines = self._oled_lines[-(OLED_HEIGHT // 8):]
        oled.fill(0)
        for row, line in enumerate(self._oled_lines):
            oled.text(line, 0, row * 8, 1)
        oled.show()

    def oled_show_value(self, label, value):
        """Clear the OLED and show a label with a value under it, e.g. "Distance" 42."""
        oled = self._display()
        oled.fill(0)
        oled.text(str(label), 0, 0, 1)
        oled.text(str(value), 0, 16, 1)
        oled.show()
        self._oled_lines = []

    def oled_pixel(self, x, y):
        """Light one OLED pixel at x (0..127), y (0..63); call oled_show() to see it."""
        self._display().pixel(_clamp(int(x), 0, OLED_WIDTH - 1), _clamp(int(y), 0, OLED_HEIGHT - 1), 1)

    def oled_line(self, x1, y1, x2, y2):
        """Draw a line between two points; call oled_show() to see it."""
        self._display().line(_clamp(int(x1), 0, OLED_WIDTH - 1), _clamp(int(y1), 0, OLED_HEIGHT - 1),
                             _clamp(int(x2), 0, OLED_WIDTH - 1), _clamp(int(y2), 0, OLED_HEIGHT - 1), 1)

    def oled_rect(self, x, y, width, height, filled=False):
        """Draw a rectangle (filled or outline); call oled_show() to see it."""
        x = _clamp(int(x), 0, OLED_WIDTH - 1)
        y = _clamp(int(y), 0, OLED_HEIGHT - 1)
        width = _clamp(int(width), 1, OLED_WIDTH)
        height = _clamp(int(height), 1, OLED_HEIGHT)
        if filled:
            self._display().fill_rect(x, y, width, height, 1)
        else:
            self._display().rect(x, y, width, height, 1)

    # --------------------------------------------------------- communication
    def _station(self):
        if self._wlan is None:
            import network
            self._wlan = network.WLAN(network.STA_IF)
            self._wlan.active(True)
        return self._wlan

    def wifi_connect(self, ssid, password, timeout_s=10):
        """Join a WiFi network; True when connected within timeout_s seconds."""
        wlan = self._station()
        if wlan.isconnected():
            return True
        wlan.connect(ssid, password)
        start = time.ticks_ms()
        limit_ms = _clamp(int(timeout_s * 1000), 0, 120000)
        while not wlan.isconnected():
            if time.ticks_diff(time.ticks_ms(), start) > limit_ms:
                return False
            time.sleep_ms(100)
        return True

    def wifi_connected(self):
        """True when the robot is connected to WiFi."""
        return self._wlan is not None and self._wlan.isconnected()

    def wifi_ip(self):
        """The robot's IP address as text ("" when not connected)."""
        if not self.wifi_connected():
            return ""
        return self._wlan.ifconfig()[0]

    def wifi_disconnect(self):
        """Leave the WiFi network."""
        if self._wlan is not None:
            self._wlan.disconnect()
            self._wlan.active(False)
            self._wlan = None

    def wifi_scan(self):
        """Names of the WiFi networks in range, as a list of text."""
        names = []
        for net in self._station().scan():
            name = net[0].decode() if isinstance(net[0], bytes) else str(net[0])
            if name and name not in names:
                names.append(name)
        return names

    def wifi_start_ap(self, ssid, password=""):
        """Make the robot its own WiFi hotspot (password of 8+ characters, or none); returns its IP."""
        import network
        ap = network.WLAN(network.AP_IF)
        ap.active(True)
        if password and len(password) >= 8:
            ap.config(essid=ssid, password=password, authmode=3)  # 3 = WPA2-PSK
        else:
            ap.config(essid=ssid, authmode=0)                     # 0 = open
        return ap.ifconfig()[0]

    # ---------------------------------------------------------------- timing
    def wait(self, seconds):
        """Pause the program for some seconds (decimals allowed, e.g. 0.5)."""
        time.sleep_ms(int(_clamp(seconds, 0, 3600) * 1000))

    def wait_ms(self, ms):
        """Pause the program for some milliseconds."""
        time.sleep_ms(_clamp(int(ms), 0, 3600000))

    def millis(self):
        """Milliseconds since the robot started."""
        return time.ticks_diff(time.ticks_ms(), self._t0)

    def seconds(self):
        """Seconds since the robot started (with decimals)."""
        return self.millis() / 1000

    def elapsed_ms(self, start_ms):
        """Milliseconds since an earlier millis() reading."""
        return self.millis() - start_ms

    def random_number(self, low=1, high=10):
        """A random whole number from low to high (both included)."""
        import random
        low = int(low)
        high = int(high)
        if high < low:
            low, high = high, low
        return random.randint(low, high)


def _wheel(pos):
    """Colour wheel: 0..255 -> (r, g, b) going red, green, blue and back to red."""
    if pos < 85:
        return (255 - pos * 3, pos * 3, 0)
    if pos < 170:
        pos -= 85
        return (0, 255 - pos * 3, pos * 3)
    pos -= 170
    return (pos * 3, 0, 255 - pos * 3)
