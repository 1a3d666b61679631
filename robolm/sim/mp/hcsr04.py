# hcsr04: the common HC-SR04 driver file (rsc1975/micropython-hcsr04 API), as learners copy it
# onto the board, written on top of the simulated machine module (runs INSIDE MicroPython).

import machine
import time


class HCSR04:
    def __init__(self, trigger_pin, echo_pin, echo_timeout_us=500 * 2 * 30):
        self.echo_timeout_us = echo_timeout_us
        self.trigger = machine.Pin(trigger_pin, mode=machine.Pin.OUT, pull=None)
        self.trigger.value(0)
        self.echo = machine.Pin(echo_pin, mode=machine.Pin.IN, pull=None)

    def _send_pulse_and_wait(self):
        self.trigger.value(0)
        time.sleep_us(5)
        self.trigger.value(1)
        time.sleep_us(10)
        self.trigger.value(0)
        pulse_time = machine.time_pulse_us(self.echo, 1, self.echo_timeout_us)
        if pulse_time < 0:
            raise OSError("Out of range")
        return pulse_time

    def distance_mm(self):
        return self._send_pulse_and_wait() * 100 // 582

    def distance_cm(self):
        return (self._send_pulse_and_wait() / 2) / 29.1
