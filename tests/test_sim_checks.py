"""Behaviour checks over traces (robolm/sim/checks.py), on hand-made SimResults: fast, no interpreter."""
import pytest
import yaml

from robolm.sim.checks import motor_states, run_check
from robolm.sim.runner import SimResult
from robolm.sim.scenario import normalize


def result(trace, status="budget", end_t=5.0, prints=(), scenario=None, error=None):
    return SimResult(status=status, error=error, trace=list(trace), end_t=end_t,
                     prints=[{"t": t, "text": s} for t, s in prints], scenario=normalize(scenario))


def pin(t, p, v):
    return {"t": t, "kind": "pin", "pin": p, "value": v}


def pwm(t, p, duty_u16, freq=1000, angle=None):
    e = {"t": t, "kind": "pwm", "pin": p, "freq": freq, "duty": duty_u16 * 1023 // 65535, "duty_u16": duty_u16}
    if angle is not None:
        e["angle"] = angle
    return e


def blink(period, n, p=2, end=None):
    half = period / 2
    return result([pin(0.0, p, 0)] + [pin(round(i * half, 6), p, (i + 1) % 2) for i in range(n)],
                  end_t=end or n * half)


def motors(segments):
    """segments: [(t, left, right)] with speeds -100..100 -> trace on the default L298N pins."""
    tr = []
    for t, left, right in segments:
        for a, b, en, s in ((27, 26, 14, left), (25, 33, 32, right)):
            tr += [pin(t, a, int(s > 0)), pin(t, b, int(s < 0)), pwm(t, en, abs(s) * 65535 // 100)]
    return tr


def test_status_and_no_error():
    r = result([], status="error", error="NameError: x")
    ok, msg = run_check({"status": "ok"}, r)
    assert not ok and "NameError" in msg
    assert run_check({"status": ["error"]}, r)[0]
    assert run_check({"kind": "no_error"}, result([], status="budget"))[0]
    assert not run_check({"no_error": None}, r)[0]


def test_toggles_period_interval_and_count():
    r = blink(1.0, 8)
    assert run_check({"toggles": {"pin": 2, "period_s": 1.0, "tolerance": 0.001}}, r)[0]
    assert run_check({"toggles": {"pin": "led", "interval_s": 0.5}}, r)[0]
    ok, msg = run_check({"toggles": {"pin": 2, "period_s": 0.4}}, r)
    assert not ok and "off 0.4" in msg
    assert not run_check({"toggles": {"pin": 2, "min_count": 20}}, r)[0]
    assert not run_check({"toggles": {"pin": 4}}, r)[0]
    # asymmetric blink: 0.1 s on, 0.9 s off still has a 1 s period, but not a 0.5 s interval
    asym = result([pin(0, 2, 0)] + [pin(t, 2, v) for k in range(4) for t, v in ((k, 1), (k + 0.1, 0))])
    assert run_check({"toggles": {"pin": 2, "period_s": 1.0}}, asym)[0]
    assert not run_check({"toggles": {"pin": 2, "interval_s": 0.5}}, asym)[0]


def test_pwm_counts_as_level_for_toggles():
    r = result([pwm(t * 0.5, 2, 65535 if t % 2 else 0) for t in range(8)])
    assert run_check({"toggles": {"pin": 2, "period_s": 1.0}}, r)[0]


def test_pin_level_at_after_final():
    r = result([pin(0, 2, 0), pin(1.0, 2, 1), pin(3.0, 2, 0)])
    assert run_check({"pin_level": {"pin": 2, "value": 1, "at": 2.0}}, r)[0]
    assert not run_check({"pin_level": {"pin": 2, "value": 1, "at": 3.5}}, r)[0]
    assert run_check({"pin_level": {"pin": 2, "value": 1, "after": 0.5}}, r)[0]
    assert not run_check({"pin_level": {"pin": 2, "value": 1, "after": 3.1}}, r)[0]
    assert run_check({"pin_level": {"pin": 2, "value": 0, "final": True}}, r)[0]
    assert not run_check({"pin_level": {"pin": 5, "value": 1}}, r)[0]


def test_servo_sweep_and_angle():
    up = [pwm(i * 0.1, 13, 0, 50, angle=a) for i, a in enumerate(range(0, 181, 30))]
    down = [pwm(1 + i * 0.1, 13, 0, 50, angle=a) for i, a in enumerate(range(180, -1, -30))]
    r = result(up + down)
    assert run_check({"servo_sweep": {"min_angle": 0, "max_angle": 180, "min_sweeps": 2}}, r)[0]
    assert not run_check({"servo_sweep": {"min_sweeps": 3}}, r)[0]
    jump = result([pwm(0, 13, 0, 50, angle=0), pwm(1, 13, 0, 50, angle=180)])
    ok, msg = run_check({"servo_sweep": {}}, jump)
    assert not ok  # a jump is not a sweep
    assert run_check({"servo_angle": {"angle": 90}}, r)[0]
    assert not run_check({"servo_angle": {"angle": 45, "tolerance": 2}}, r)[0]
    assert not run_check({"servo_sweep": {}}, result([]))[0]


def test_motors_directions_and_durations():
    r = result(motors([(0, 60, 60), (2.0, -50, 50), (2.5, 50, -50), (3.0, -40, -40), (4.0, 0, 0)]))
    assert [s[1] for s in motor_states(r)] == ["forward", "left", "right", "backward", "stop"]
    assert run_check({"motors": {"direction": "forward", "for_s": 2, "exact": True}}, r)[0]
    assert not run_check({"motors": {"direction": "forward", "for_s": 3}}, r)[0]
    assert run_check({"motors": {"direction": "left", "for_s": 0.5}}, r)[0]
    assert run_check({"motors": {"direction": "stop", "for_s": 1.0}}, r)[0]
    seq = {"motor_sequence": {"steps": [{"direction": "forward", "for_s": 2}, {"direction": "left", "for_s": 0.5},
                                        {"direction": "right"}]}}
    assert run_check(seq, r)[0]
    bad = {"motor_sequence": {"steps": [{"direction": "forward"}, {"direction": "stop"}]}}
    ok, msg = run_check(bad, r)
    assert not ok and "forward 0-2" in msg
    with pytest.raises(ValueError, match="direction"):
        run_check({"motors": {"direction": "sideways"}}, r)


def test_motors_without_enable_pins_count_as_jumpered():
    r = result([pin(0, 27, 1), pin(0, 26, 0), pin(0, 25, 1), pin(0, 33, 0), pin(1.5, 27, 0), pin(1.5, 25, 0)])
    assert run_check({"motor_sequence": {"steps": [{"direction": "forward", "for_s": 1.5},
                                                   {"direction": "stop"}]}}, r)[0]


def test_led_when_dark():
    sc = {"light": [[0, 3000], [2, 300], [4, 3000]]}
    good = result([pin(0, 2, 0), pin(2.1, 2, 1), pin(4.1, 2, 0)], end_t=6.0, scenario=sc)
    assert run_check({"led_when_dark": {}}, good)[0]
    late = result([pin(0, 2, 0), pin(2.8, 2, 1), pin(4.1, 2, 0)], end_t=6.0, scenario=sc)
    ok, msg = run_check({"led_when_dark": {"max_delay_s": 0.5}}, late)
    assert not ok and "first at t=2.5" in msg
    always = result([pin(0, 2, 1)], end_t=6.0, scenario=sc)
    assert not run_check({"led_when_dark": {}}, always)[0]
    px = result([{"t": 2.0, "kind": "pixels", "pin": 16, "pixels": [[255, 255, 255]] * 8},
                 {"t": 4.0, "kind": "pixels", "pin": 16, "pixels": [[0, 0, 0]] * 8}], end_t=6.0, scenario=sc)
    assert run_check({"led_when_dark": {"pixels": True}}, px)[0]
    with pytest.raises(ValueError, match="light"):
        run_check({"led_when_dark": {}}, result([]))


def test_obstacle_avoid():
    sc = {"distance_cm": [[0, 100], [2, 10], [3, 100]]}
    good = result(motors([(0, 50, 50), (2.1, 50, -50), (3.1, 50, 50)]), end_t=4.0, scenario=sc)
    assert run_check({"obstacle_avoid": {"max_delay_s": 0.3}}, good)[0]
    crash = result(motors([(0, 50, 50)]), end_t=4.0, scenario=sc)
    ok, msg = run_check({"obstacle_avoid": {}}, crash)
    assert not ok and "closer than 20 cm" in msg
    idle = result(motors([(0, 0, 0)]), end_t=4.0, scenario=sc)
    assert not run_check({"obstacle_avoid": {}}, idle)[0]
    with pytest.raises(ValueError, match="distance_cm"):
        run_check({"obstacle_avoid": {}}, result([]))


def test_buzzer_pixels_oled_prints_wifi_event():
    r = result([pwm(0, 23, 0, 1000), pwm(0.5, 23, 32768, 440), pwm(0.7, 23, 0, 440),
                {"t": 1, "kind": "pixels", "pin": 16, "pixels": [[255, 0, 0]] * 7 + [[0, 0, 255]]},
                {"t": 2, "kind": "oled", "text": "Hello\nWorld", "lines": ["Hello", "World"]},
                {"t": 3, "kind": "wifi", "value": "connected", "ssid": "x", "ip": "1.2.3.4"},
                {"t": 4, "kind": "reset"}],
               prints=[(0.1, "distance 12 cm"), (0.2, "distance 30 cm")])
    assert run_check({"buzzer": {"freq": 440}}, r)[0]
    assert run_check({"buzzer": {}}, r)[0]
    assert not run_check({"buzzer": {"freq": 1000}}, r)[0]  # duty 0 at 1000 Hz is silence
    assert run_check({"pixels": {"color": [255, 0, 0], "all": False}}, r)[0]
    assert not run_check({"pixels": {"color": [255, 0, 0]}}, r)[0]
    assert run_check({"pixels": {"color": [0, 0, 255], "index": 7}}, r)[0]
    assert run_check({"oled_text": {"contains": "world", "ignore_case": True}}, r)[0]
    assert not run_check({"oled_text": {"contains": "world"}}, r)[0]
    assert run_check({"prints": {"regex": r"distance \d+ cm", "min_count": 2}}, r)[0]
    assert not run_check({"prints": {"contains": "obstacle"}}, r)[0]
    assert run_check({"wifi": {}}, r)[0] and not run_check({"wifi": {"connected": False}}, r)[0]
    assert run_check({"event": {"event_kind": "reset"}}, r)[0]


def test_combinators_and_yaml_specs():
    r = blink(1.0, 8)
    spec = yaml.safe_load("""
- status: [ok, budget]
- any_of:
    - toggles: {pin: 2, period_s: 2.0}
    - toggles: {pin: led, period_s: 1.0}
- not:
    motors: {direction: forward}
""")
    ok, msg = run_check(spec, r)
    assert ok, msg
    ok, msg = run_check({"all_of": [{"status": "ok"}, {"toggles": {"pin": 2}}]}, r)
    assert not ok and "status budget" in msg


def test_spec_errors_are_loud():
    r = blink(1.0, 4)
    with pytest.raises(ValueError, match="unknown check kind"):
        run_check({"blinks": {}}, r)
    with pytest.raises(ValueError, match="bad parameters"):
        run_check({"toggles": {"pin": 2, "perod_s": 1}}, r)
    with pytest.raises(ValueError, match="unknown pin role"):
        run_check({"toggles": {"pin": "lamp"}}, r)
    with pytest.raises(ValueError):
        run_check({"toggles": {}, "status": "ok"}, r)
