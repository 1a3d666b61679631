"""The sandboxed simulator: real MicroPython, virtual clock, simulated hardware, escapes.

Every program here runs in the real MicroPython interpreter in a forked, sandboxed child
(robolm/sim/forkserver.py); nothing runs in this process.
"""
import os
from pathlib import Path

import pytest

pytest.importorskip("micropython_run")

from robolm.sim import run, run_many  # noqa: E402
from robolm.sim.checks import run_check  # noqa: E402

BLINK = """from machine import Pin
import time
led = Pin(2, Pin.OUT)
while True:
    led.value(not led.value())
    time.sleep(0.5)
"""


def pin_events(res, pin):
    return [(e["t"], e["value"]) for e in res.trace if e["kind"] == "pin" and e["pin"] == pin]


# ---- the clock and the budget ------------------------------------------------------------
def test_blink_toggle_times_are_exact():
    res = run(BLINK, budget_s=3.0)
    assert res.status == "budget", res.error
    assert res.end_t == 3.0
    assert pin_events(res, 2) == [(0.0, 0), (0.0, 1), (0.5, 0), (1.0, 1), (1.5, 0), (2.0, 1),
                                  (2.5, 0), (3.0, 1)]
    assert run_check({"toggles": {"pin": 2, "period_s": 1.0, "tolerance": 1e-9, "min_count": 6}}, res)[0]


def test_sleep_ms_us_and_ticks_agree():
    code = """import time
t0 = time.ticks_ms()
time.sleep_ms(250)
time.sleep_us(250000)
time.sleep(0.5)
print(time.ticks_diff(time.ticks_ms(), t0))
"""
    res = run(code)
    assert res.status == "ok", res.error
    assert res.stdout == "1000"
    assert res.prints[0]["t"] == 1.0


def test_busy_wait_on_ticks_ends_at_budget():
    code = """import time
start = time.ticks_ms()
while True:
    if time.ticks_diff(time.ticks_ms(), start) > 700:
        print("tick")
        start = time.ticks_ms()
"""
    res = run(code, budget_s=3.0)
    assert res.status == "budget"
    assert len(res.prints) == 4   # 0.7 s apart (plus the read costs) in 3 virtual seconds


def test_tight_loop_without_sleep_is_a_timeout():
    res = run("x = 0\nwhile True:\n    x += 1\n", timeout_s=0.5)
    assert res.status == "timeout"
    assert "without sleeping" in res.error
    assert res.wall_s < 4 * 0.5 + 1.0   # the deadline stretches (up to 4x) only on a loaded machine


def test_loop_that_swallows_the_interrupt_is_killed():
    code = "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass\n"
    res = run(code, timeout_s=0.3)
    assert res.status == "timeout"


def test_event_flood_without_sleep_stops_early():
    res = run("from machine import Pin\np = Pin(2, Pin.OUT)\nwhile True:\n    p.on()\n    p.off()\n")
    assert res.status == "timeout"
    assert "event limit" in res.error
    assert res.wall_s < 3.0   # stopped by the event limit long before a 2 s CPU timeout


def test_print_flood_costs_serial_time_and_is_capped():
    res = run("n = 0\nwhile True:\n    n += 1\n    print('hi', n)\n", budget_s=5.0)  # ~0.7 ms a line
    assert res.status == "budget"
    assert len(res.prints) == 5000 and res.events("print_limit")
    assert res.prints[60]["t"] > res.prints[59]["t"]   # past the free calls each line takes time


def test_swallowed_budget_still_ends_as_budget():
    code = "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except:\n        pass\n"
    res = run(code, budget_s=2.0, timeout_s=0.5)
    assert res.status == "budget"


def test_timer_callbacks_follow_the_virtual_clock():
    code = """from machine import Pin, Timer
led = Pin(2, Pin.OUT)
def tick(t):
    led.value(not led.value())
tim = Timer(0)
tim.init(period=250, mode=Timer.PERIODIC, callback=tick)
"""
    res = run(code, budget_s=1.0)
    assert res.status == "budget"
    assert [t for t, _ in pin_events(res, 2)] == [0.0, 0.25, 0.5, 0.75, 1.0]


# ---- errors --------------------------------------------------------------------------------
def test_syntax_error_is_judged_by_micropython():
    res = run("from machine import Pin\nled = Pin(2, Pin.OUT\n")
    assert res.status == "syntax_error"
    assert res.error.startswith("SyntaxError")
    # CPython-only syntax that MicroPython rejects
    assert run("def f(a, /, b):\n    return a\n").status == "syntax_error"


def test_runtime_error_has_micropython_message_and_line():
    res = run("import time\ntime.sleep(1)\nprint(undefined_name)\n")
    assert res.status == "error"
    assert res.error == "NameError: name 'undefined_name' isn't defined"
    assert res.error_line == 3
    assert res.end_t == 1.0


def test_board_errors_are_realistic():
    assert "input" in run("from machine import Pin\nPin(34, Pin.OUT)\n").error
    assert run("from machine import Pin\nPin(40, Pin.OUT)\n").status == "error"
    assert run("from machine import Pin\nPin(2, Pin.OUT).toggle()\n").error.startswith("AttributeError")
    res = run("from machine import Pin, SoftI2C\nimport ssd1306\n"
              "i2c = SoftI2C(scl=Pin(22), sda=Pin(21))\noled = ssd1306.SSD1306_I2C(128, 64, i2c)\n",
              scenario={"i2c_devices": []})
    assert res.status == "error" and "OSError" in res.error


def test_program_that_fills_the_heap_is_still_reported():
    code = """import neopixel, machine, time
np = neopixel.NeoPixel(machine.Pin(16), 30)
hog = []
try:
    while True:
        hog.append(bytearray(512))
except MemoryError:
    pass
for i in range(200):
    np[i % 30] = (i % 256, 0, 0)
    np.write()
    time.sleep_ms(10)
"""
    res = run(code, heap_kb=128)
    assert res.status in ("ok", "error"), res.error
    assert res.error is None or "MemoryError" in res.error
    assert "sandbox ended without a result" not in (res.error or "")


def test_ok_when_the_program_ends():
    res = run("print('hello')\nprint('world', end='')\n")
    assert res.status == "ok"
    assert [p["text"] for p in res.prints] == ["hello", "world"]


# ---- simulated hardware ------------------------------------------------------------------------
def test_servo_angle_from_50hz_pwm():
    code = """from machine import Pin, PWM
import time
servo = PWM(Pin(13), freq=50)
for angle in (0, 90, 180):
    servo.duty_u16(int((500 + angle * 2000 / 180) * 65535 / 20000))
    time.sleep_ms(300)
servo.duty(77)
"""
    res = run(code)
    angles = [round(e["angle"]) for e in res.trace if e["kind"] == "pwm" and "angle" in e]
    assert angles == [0, 90, 180, 90]
    assert run_check({"servo_angle": {"angle": 180, "tolerance": 1}}, res)[0]


def test_motors_raw_l298n():
    code = """from machine import Pin, PWM
import time
in1, in2, in3, in4 = Pin(27, Pin.OUT), Pin(26, Pin.OUT), Pin(25, Pin.OUT), Pin(33, Pin.OUT)
ena, enb = PWM(Pin(14), freq=1000, duty=0), PWM(Pin(32), freq=1000, duty=0)
in1.on(); in2.off(); in3.on(); in4.off(); ena.duty(700); enb.duty(700)
time.sleep(2)
in1.off(); in3.off(); ena.duty(0); enb.duty(0)
time.sleep(1)
"""
    res = run(code)
    assert res.status == "ok"
    assert run_check({"motors": {"direction": "forward", "for_s": 2, "exact": True}}, res)[0]
    assert run_check({"motor_sequence": {"steps": [{"direction": "forward", "for_s": 2},
                                                   {"direction": "stop", "for_s": 1}]}}, res)[0]
    assert not run_check({"motors": {"direction": "backward"}}, res)[0]


def test_hcsr04_distance_from_scenario_over_time():
    code = """from machine import Pin, time_pulse_us
import time
trig, echo = Pin(5, Pin.OUT), Pin(18, Pin.IN)
for _ in range(3):
    trig.off(); time.sleep_us(2); trig.on(); time.sleep_us(10); trig.off()
    d = time_pulse_us(echo, 1, 30000) / 58
    print(round(d))
    time.sleep(1)
"""
    res = run(code, scenario={"distance_cm": [[0, 100], [1.5, 12]]})
    assert res.stdout.split() == ["100", "100", "12"]


def test_hcsr04_driver_file():
    code = "from hcsr04 import HCSR04\ns = HCSR04(trigger_pin=5, echo_pin=18, echo_timeout_us=10000)\n" \
           "print(round(s.distance_cm()))\nprint(s.distance_cm())\n"
    res = run(code, scenario={"distance_cm": [[0, 33], [0.001, 250]]})
    assert res.status == "error" and "Out of range" in res.error   # 250 cm needs more than 10 ms
    assert res.stdout == "33"


def test_hcsr04_polling_echo_pin():
    code = """from machine import Pin
import time
trig, echo = Pin(5, Pin.OUT), Pin(18, Pin.IN)
trig.off(); time.sleep_us(2); trig.on(); time.sleep_us(10); trig.off()
while echo.value() == 0:
    pass
t0 = time.ticks_us()
while echo.value() == 1:
    pass
print(time.ticks_diff(time.ticks_us(), t0) / 58)
"""
    res = run(code, scenario={"distance_cm": 50})
    assert abs(float(res.stdout) - 50) < 5


def test_inputs_button_line_light_pot_from_scenario():
    code = """from machine import Pin, ADC
import time
button = Pin(19, Pin.IN, Pin.PULL_UP)
left, right = Pin(34, Pin.IN), Pin(35, Pin.IN)
ldr, pot = ADC(Pin(36)), ADC(Pin(39))
for _ in range(4):
    print(button.value(), left.value(), right.value(), ldr.read(), pot.read_u16() >> 4)
    time.sleep(1)
"""
    sc = {"button_presses": [[0.9, 1.1]], "line": [[0, [0, 0]], [2, [1, 0]]],
          "light": [[0, 3000], [3, 100]], "potentiometer": 1234}
    res = run(code, scenario=sc)
    assert res.prints and [p["text"] for p in res.prints] == [
        "1 0 0 3000 1234", "0 0 0 3000 1234", "1 1 0 3000 1234", "1 1 0 100 1234"]


def test_button_irq_fires_on_scenario_edges():
    code = """from machine import Pin
import time
count = 0
def pressed(p):
    global count
    count += 1
    print("press", count)
Pin(19, Pin.IN, Pin.PULL_UP).irq(trigger=Pin.IRQ_FALLING, handler=pressed)
while True:
    time.sleep(1)
"""
    res = run(code, scenario={"button_presses": [[0.5, 0.6], [2.25, 2.5]]}, budget_s=3)
    assert res.status == "budget"
    assert [(p["t"], p["text"]) for p in res.prints] == [(0.5, "press 1"), (2.25, "press 2")]


def test_neopixel_dht_oled_wifi():
    code = """from machine import Pin, SoftI2C
import neopixel, dht, network, ssd1306, time
np = neopixel.NeoPixel(Pin(16), 8)
np.fill((0, 0, 255))
np[0] = (255, 0, 0)
np.write()
np.write()
sensor = dht.DHT11(Pin(4))
sensor.measure()
oled = ssd1306.SSD1306_I2C(128, 64, SoftI2C(scl=Pin(22), sda=Pin(21)))
oled.fill(0)
oled.text("T=%d C" % sensor.temperature(), 0, 0)
oled.text("H=%d%%" % sensor.humidity(), 0, 16)
oled.show()
wlan = network.WLAN(network.STA_IF)
wlan.active(True)
wlan.connect("school", "secret")
while not wlan.isconnected():
    time.sleep_ms(100)
print(wlan.ifconfig()[0])
"""
    res = run(code, scenario={"temperature": 31, "humidity": 40})
    assert res.status == "ok", res.error
    px = res.events("pixels")
    assert len(px) == 1 and px[0]["pixels"][0] == [255, 0, 0] and px[0]["pixels"][1] == [0, 0, 255]
    assert res.events("oled")[0]["lines"] == ["T=31 C", "H=40%"]
    assert res.stdout == "192.168.1.42"
    assert run_check({"wifi": {"connected": True}}, res)[0]
    failed = run(code, scenario={"wifi": False}, budget_s=2)
    assert failed.status == "budget" and not run_check({"wifi": {}}, failed)[0]


def test_pin_map_override_uart_spi_adc_width():
    code = """from machine import Pin, ADC, UART, SPI
b = Pin(0, Pin.IN, Pin.PULL_UP)
a = ADC(Pin(33))
a.width(ADC.WIDTH_10BIT)
print(b.value(), a.read())
UART(1, 9600).write('hi')
SPI(1).write(b'x')
"""
    res = run(code, scenario={"pins": {"button": 0, "ldr": 33}, "button": 0, "light": 4000})
    assert res.status == "ok", res.error
    assert res.stdout == "0 1000"
    assert res.events("uart")[0]["text"] == "hi"


def test_random_is_seeded_by_the_scenario():
    code = "import random\nprint(random.randint(0, 10**6))\n"
    a, b, c = run(code), run(code), run(code, scenario={"seed": 7})
    assert a.stdout == b.stdout != c.stdout


def test_unknown_scenario_key_fails_loudly():
    with pytest.raises(ValueError, match="unknown scenario key"):
        run("pass", scenario={"distanse_cm": 10})


# ---- the firmware on the simulator ---------------------------------------------------------------
@pytest.mark.skipif(not (Path(__file__).resolve().parents[1] / "firmware" / "robot.py").exists(),
                    reason="firmware/robot.py not there yet")
def test_firmware_program_runs_unchanged():
    code = """from robot import Robot
robot = Robot()
robot.move_forward_for(1.5)
robot.servo_sweep(0, 180, 30, 50)
robot.set_rgb(0, 255, 0)
robot.oled_text("Hi", 0, 0)
robot.oled_show()
robot.beep(440, 100)
print(robot.read_distance_cm(), robot.read_temperature(), robot.read_light())
while True:
    if robot.read_light() < 1000:
        robot.led_on()
    else:
        robot.led_off()
    robot.wait_ms(100)
"""
    res = run(code, scenario={"distance_cm": 42, "temperature": 19, "light": [[0, 3000], [4, 200], [6, 3000]]},
              budget_s=8)
    assert res.status == "budget", res.traceback
    assert res.prints[0]["text"] == "42.0 19 3000"
    spec = {"all_of": [
        {"motor_sequence": {"steps": [{"direction": "forward", "for_s": 1.5}, {"direction": "stop"}]}},
        {"servo_sweep": {"min_angle": 0, "max_angle": 180}},
        {"pixels": {"color": [0, 255, 0]}},
        {"oled_text": {"contains": "Hi"}},
        {"buzzer": {"freq": 440}},
        {"led_when_dark": {"threshold": 1000, "max_delay_s": 0.2}},
    ]}
    ok, msg = run_check(spec, res)
    assert ok, msg


# ---- escapes: each ends with a clear status and the host stays untouched ----------------------------
ESCAPES = {
    "os_system": "import os\nos.system('touch {marker}')\n",
    "uos_alias": "import uos\nuos.system('touch {marker}')\n",
    "dunder_import": "__import__('os').system('touch {marker}')\n",
    "exec_import": "exec(\"import os; os.system('touch {marker}')\")\n",
    "builtins_import": "import builtins\nbuiltins.__import__('os').system('touch {marker}')\n",
    "write_file": "f = open('{marker}', 'w')\nf.write('x')\nf.close()\n",
    "read_file": "print(open('{secret}').read())\n",
    "execfile": "execfile('{secret}')\n",
    "vfs_remount": "import vfs\nvfs.mount(vfs.VfsPosix('/'), '/')\n",
    "socket": "import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 80))\n",
    "uctypes": "import uctypes\nuctypes.bytearray_at(0, 8)\n",
    "ffi": "import ffi\nlibc = ffi.open('libc.so.6')\n",
    "select": "import select\n",
    "thread": "import _thread\n_thread.start_new_thread(print, (1,))\n",
    "sys_path": "import sys\nsys.path.append('{dir}')\nimport secretmod\n",
    "real_sys_via_globals": "import machine\ng = machine.Pin.__init__.__globals__\nprint(sorted(g))\ng['_sim'].json\nimport os\n",
    "main_module": "import __main__\n",
    "micropython_kbd": "import micropython\nmicropython.kbd_intr(-1)\n",
    "memory": "x = []\nwhile True:\n    x.append(bytearray(100000))\n",
    "viper_raw_memory": "import micropython\n@micropython.viper\ndef peek() -> int:\n    return ptr8(0)[0]\nprint(peek())\n",
    "viper_via_exec": "exec('@micro' + 'python.viper\\ndef f():\\n    return ptr8(8)[0]\\nprint(f())')\n",
    "asm_via_compile": "c = compile('@micropython . asm_x64\\ndef f():\\n    pass', 'x', 'exec')\n",
    "recursion": "def f(n):\n    return f(n + 1)\nf(0)\n",
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_attempts_fail_cleanly(name, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT\n")
    (tmp_path / "secretmod.py").write_text("print('LOADED')\n")
    marker = tmp_path / "pwned"
    code = ESCAPES[name].format(marker=marker, secret=secret, dir=tmp_path)
    res = run(code, timeout_s=1.0)
    assert res.status == "error", (res.status, res.error)
    assert res.error, res
    assert not marker.exists()
    assert "TOP-SECRET" not in res.stdout and "LOADED" not in res.stdout
    assert secret.read_text() == "TOP-SECRET-CONTENT\n"
    assert sorted(os.listdir(tmp_path)) == ["secret.txt", "secretmod.py"]


def test_exec_eval_compile_still_work_for_plain_code():
    res = run("exec('x = 6 * 7')\nprint(x, eval('x + 1'))\nexec(compile('print(x * 2)', 's', 'exec'))\n")
    assert res.status == "ok", res.error
    assert res.stdout == "42 43\n84"


def test_native_emitter_is_allowed():
    res = run("import micropython\n@micropython.native\ndef f(n):\n    return n * 2\nprint(f(21))\n")
    assert res.status == "ok" and res.stdout == "42", res.error


def test_blocked_module_message_is_clear():
    res = run("import os\n")
    assert res.error == "ImportError: module 'os' is not available in the robot simulator"


def test_run_many_keeps_order_and_isolates_programs():
    codes = ["x = %d\nprint(x)\n" % i for i in range(20)] + ["import machine\nmachine.Pin = None\n",
                                                            "from machine import Pin\nprint(Pin)\n"]
    res = run_many(codes, workers=2)
    assert [r.stdout for r in res[:20]] == [str(i) for i in range(20)]
    assert res[-1].status == "ok" and "Pin" in res[-1].stdout   # the previous program's damage is gone


# ---- the second wall: OS limits and seccomp, with the MicroPython-level sandbox removed ------------
HOSTILE_BOOT = """
import os, socket
def main():
    for name, act in (("system", lambda: os.system("touch {marker}")),
                      ("write", lambda: open("{marker}", "w").write("x")),
                      ("read", lambda: open("{secret}").read()),
                      ("socket", lambda: socket.socket())):
        try:
            r = act()
            print(name, "returned", r)
        except Exception as e:
            print(name, "refused", repr(e))
"""


def test_os_wall_holds_even_without_the_micropython_sandbox(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "robolm" / "sim"))
    try:
        import forkserver
    finally:
        sys.path.pop(0)
    seccomp = forkserver.build_seccomp()
    if seccomp is None:
        pytest.skip("seccomp filter is x86-64 Linux only")
    mpdir = tmp_path / "mp"
    mpdir.mkdir()
    marker, secret = tmp_path / "pwned", tmp_path / "secret.txt"
    secret.write_text("readable\n")
    (mpdir / "_sandbox.py").write_text(HOSTILE_BOOT.format(marker=marker, secret=secret))
    job = {"code": "", "scenario": {}, "budget_us": 1000000, "timeout_s": 2.0}
    landlock = forkserver.build_landlock()
    out = forkserver.run_job(job, str(mpdir), seccomp, None, landlock)["out"]
    # glibc's system() reports 127 << 8 when it cannot start the shell (clone/exec are refused)
    assert "system returned 32512" in out or "system refused" in out, out
    assert "write refused" in out, out
    assert "socket refused" in out, out
    if landlock is not None:   # Landlock: only the job's own folders are readable
        assert "read refused" in out, out
    else:                      # without it reading stays possible here (the VFS unmount stops it above)
        assert "read returned" in out, out
    assert not marker.exists()


def test_broken_firmware_is_reported_to_the_program(tmp_path):
    (tmp_path / "robot.py").write_text("class Robot:\n    def __init__(self)\n        pass\n")
    res = run("from robot import Robot\nRobot()\n", firmware_dir=tmp_path)
    assert res.status == "error"
    assert "firmware failed to load" in res.error and "SyntaxError" in res.error
    assert run("print(1)\n", firmware_dir=tmp_path).status == "ok"  # not imported, not loaded


def test_stand_in_firmware_is_used_from_firmware_dir(tmp_path):
    (tmp_path / "robot.py").write_text(
        "from machine import Pin\nclass Robot:\n    def __init__(self):\n        self.led = Pin(2, Pin.OUT)\n"
        "    def led_on(self):\n        self.led.value(1)\n")
    res = run("from robot import Robot\nRobot().led_on()\n", firmware_dir=tmp_path)
    assert res.status == "ok" and pin_events(res, 2) == [(0.0, 0), (0.0, 1)]


def test_command_line(tmp_path, capsys):
    from robolm.sim.__main__ import main
    prog, chk, sc = tmp_path / "p.py", tmp_path / "c.yaml", tmp_path / "s.yaml"
    prog.write_text(BLINK)
    chk.write_text("toggles: {pin: led, period_s: 1.0}\n")
    sc.write_text("light: 100\n")
    assert main([str(prog), "--budget", "2", "--check", str(chk), "--scenario", str(sc)]) == 0
    out = capsys.readouterr().out
    assert "status: budget" in out and "PASS" in out and "0.5000s  pin" in out
    chk.write_text("toggles: {pin: led, period_s: 3.0}\n")
    assert main([str(prog), "--budget", "2", "--check", str(chk), "--json"]) == 1


def test_idle_main_loop_with_timer_runs_timers_to_the_budget():
    code = """from machine import Pin, Timer
led = Pin(2, Pin.OUT)
Timer(0).init(period=500, mode=Timer.PERIODIC, callback=lambda t: led.value(not led.value()))
while True:
    pass
"""
    res = run(code, budget_s=2.0)
    assert res.status == "budget", res.error
    assert [t for t, _ in pin_events(res, 2)] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert res.cpu_s < 1.5   # interrupted after about 0.5 CPU s of idling, not the 2 s timeout


def test_sleep_zero_loop_still_ends_at_budget():
    res = run("import time\nwhile True:\n    time.sleep(0)\n", budget_s=1.0)
    assert res.status == "budget"


def test_forked_caller_gets_its_own_servers():
    import multiprocessing
    run("pass")  # the parent has a server now
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        outs = pool.map(_child_run, range(4))
    assert outs == ["0", "1", "2", "3"]
    assert run("print(9)").stdout == "9"   # the parent's server still answers


def _child_run(i):
    return run(f"print({i})").stdout
