# dht: simulated DHT11/DHT22 sensors (runs INSIDE MicroPython).
# measure() samples the scenario's temperature and humidity at the current virtual time.

import _sim


class DHTBase:
    def __init__(self, pin):
        self.pin = pin
        self._t = None
        self._h = None

    def measure(self):
        if _sim.flags.get("dht_fail"):
            _sim.cost(20000)
            raise OSError(116)  # ETIMEDOUT, as the board does when no sensor answers
        _sim.cost(20000)  # a DHT read takes about 20 ms
        self._t = _sim.signal("temperature", 25)
        self._h = _sim.signal("humidity", 50)


class DHT11(DHTBase):
    def temperature(self):
        return int(self._t) if self._t is not None else 0

    def humidity(self):
        return int(self._h) if self._h is not None else 0


class DHT22(DHTBase):
    def temperature(self):
        return round(float(self._t), 1) if self._t is not None else 0.0

    def humidity(self):
        return round(float(self._h), 1) if self._h is not None else 0.0
