# network: a simulated WLAN (runs INSIDE MicroPython).
# The scenario decides whether connect() succeeds (flag "wifi", default true) and how
# long it takes (flag "wifi_delay_us"); events record connect/disconnect.

import _sim

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_BEACON_TIMEOUT = 200
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3


def hostname(*args):
    return "robolm-esp32" if not args else None


class WLAN:
    def __init__(self, interface_id=STA_IF):
        self._if = interface_id
        self._active = False
        self._ssid = None
        self._t_connect = None
        self._ip = _sim.flags.get("wifi_ip", "192.168.1.42")

    def active(self, *args):
        if args:
            self._active = bool(args[0])
            _sim.event("wifi", value="active" if self._active else "inactive")
            return None
        return self._active

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        self._ssid = ssid
        self._t_connect = _sim.now_us
        _sim.event("wifi", value="connect", ssid=ssid)

    def _ok(self):
        if self._t_connect is None or not _sim.flags.get("wifi", True):
            return False
        return _sim.now_us >= self._t_connect + _sim.flags.get("wifi_delay_us", 500000)

    def isconnected(self):
        _sim.cost()
        ok = self._ok()
        if ok and not getattr(self, "_told", False):
            self._told = True
            _sim.event("wifi", value="connected", ssid=self._ssid, ip=self._ip)
        return ok

    def status(self, *args):
        if args:
            if args[0] == "rssi":
                return -55
            return None
        if self._t_connect is None:
            return STAT_IDLE
        if self._ok():
            return STAT_GOT_IP
        if not _sim.flags.get("wifi", True) and _sim.now_us >= self._t_connect + 2000000:
            return STAT_NO_AP_FOUND
        return STAT_CONNECTING

    def disconnect(self):
        self._t_connect = None
        self._told = False
        _sim.event("wifi", value="disconnect")

    def ifconfig(self, *args):
        if args:
            self._ip = args[0][0]
            return None
        if self._if == AP_IF:
            return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0")
        if self._ok():
            return (self._ip, "255.255.255.0", "192.168.1.1", "8.8.8.8")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    def ipconfig(self, *args, **kw):
        return self.ifconfig()[0] if self._ok() else "0.0.0.0"

    def config(self, *args, **kw):
        if args:
            name = args[0]
            if name == "mac":
                return b"\x24\x0a\xc4\x00\x00\x01"
            if name in ("essid", "ssid"):
                return self._ssid or ""
            return None
        return None

    def scan(self):
        _sim.cost(1000000)
        if not _sim.flags.get("wifi", True):
            return []
        return [(b"ClassroomWiFi", b"\x24\x0a\xc4\x00\x00\x02", 6, -55, 3, False)]
