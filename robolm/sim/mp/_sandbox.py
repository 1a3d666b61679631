# _sandbox: the bootstrap that runs a learner's program (runs INSIDE MicroPython).
#
# Order matters:
#   1. read the job (code, scenario, budget) from job.json in the fresh temp dir,
#   2. load the simulated modules (and the robot firmware) while files are still reachable,
#   3. compile the program (a SyntaxError ends here with status syntax_error),
#   4. lock down: unmount the whole filesystem (no open(), no file imports), replace
#      open/execfile/input by refusals, exec/eval/compile by versions that refuse viper and
#      inline assembler, and __import__ by a whitelist that hands out the simulated modules
#      and a few pure built-ins only (no os, socket, uctypes, vfs, real sys or builtins, ...),
#   5. run the program; its end (ok, budget, error, timeout) is written as the last line.
# Everything dangerous lives in local variables of main(): nothing the program can
# reach through a function's __globals__ holds the real sys, vfs or stdout.
# Output protocol (one JSON array per line): ["ev", [events]], ["budget", t_us],
# ["end", status, error, traceback, t_us].


def main():
    import sys
    import json
    import builtins
    import vfs
    import gc

    real_stdout = sys.stdout
    real_print_exception = sys.print_exception

    def write(line):
        real_stdout.write(line)
        real_stdout.write("\n")

    f = open("job.json")
    job = json.loads(f.read())
    f.close()

    sys.path.clear()
    sys.path.append(job["mpdir"])
    import _sim
    _sim.setup(job, write)
    import machine
    import time
    import neopixel
    import dht
    import network
    import ssd1306
    import hcsr04
    import random
    import io as real_io
    random.seed(job.get("seed", 0))

    def format_exc(e):
        s = real_io.StringIO()
        real_print_exception(e, s)
        return s.getvalue()

    provided = {
        "machine": machine, "time": time, "neopixel": neopixel, "dht": dht,
        "network": network, "ssd1306": ssd1306, "hcsr04": hcsr04,
    }
    robot_error = None
    if job.get("firmware_dir") and "robot" in job["code"]:  # load the firmware only when used
        sys.path.append(job["firmware_dir"])
        try:
            import robot
            provided["robot"] = robot
        except Exception as e:
            robot_error = "the robot firmware failed to load: " + format_exc(e).strip().split("\n")[-1]
    sys.path.clear()

    def end(status, error=None, tb=None):
        try:
            _sim.flush()
            write(json.dumps(["end", status, error, tb, _sim.now_us]))
        except MemoryError:
            gc.collect()
            write(json.dumps(["end", status, error, None, _sim.now_us]))

    # ---- compile -------------------------------------------------------------------------
    # @micropython.viper and @micropython.asm_* reach raw memory (viper's ptr8/ptr32, inline
    # assembly): refused here and in exec/eval/compile below. @micropython.native keeps
    # Python's semantics (it only compiles them to machine code), so it stays allowed.
    NATIVE_MSG = "@micropython.viper and inline assembler are not available in the robot simulator"

    def has_native(src):
        if isinstance(src, (bytes, bytearray)):
            src = bytes(src).decode()
        if not isinstance(src, str):
            return False
        flat = "".join(src.split()).replace("\\", "")
        return "@micropython.viper" in flat or "@micropython.asm_" in flat

    if has_native(job["code"]):
        end("error", "NotImplementedError: " + NATIVE_MSG)
        return
    try:
        code = compile(job["code"], "main.py", "exec")
    except SyntaxError as e:
        tb = format_exc(e)
        end("syntax_error", tb.strip().split("\n")[-1], tb)
        return
    del job

    # ---- the program's view of the world ---------------------------------------------------
    line_buf = [""]

    def emit_text(s):
        s = line_buf[0] + s
        parts = s.split("\n")
        for p in parts[:-1]:
            _sim.record_print(p)
        line_buf[0] = parts[-1]

    class Stream:
        def write(self, s):
            if isinstance(s, (bytes, bytearray)):
                s = bytes(s).decode()
            emit_text(s)
            return len(s)

        def flush(self):
            pass

        def read(self, *a):
            return ""

        def readline(self):
            return ""

    stream = Stream()

    def sim_print(*args, sep=" ", end="\n", file=None):
        text = sep.join([str(a) for a in args]) + end
        if file is not None and file is not stream:
            file.write(text)  # e.g. an io.StringIO of the program's own
        else:
            emit_text(text)

    def sim_exit(code=0):
        raise SystemExit(code)

    def sim_print_exception(e, file=None):
        emit_text(format_exc(e))

    class FakeSys:
        argv = []
        path = []
        modules = {}
        platform = "esp32"
        byteorder = "little"
        maxsize = sys.maxsize
        implementation = sys.implementation
        version = sys.version
        version_info = sys.version_info
        stdout = stream
        stderr = stream
        stdin = stream
        exit = sim_exit
        print_exception = sim_print_exception

    class FakeIO:
        StringIO = real_io.StringIO
        BytesIO = real_io.BytesIO

    def const(x):
        return x

    def same(f):
        return f

    def nothing(*a, **k):
        return None

    def schedule(f, arg):
        f(arg)

    class FakeMicropython:
        pass

    FakeMicropython.const = const
    FakeMicropython.native = same
    FakeMicropython.viper = same
    FakeMicropython.alloc_emergency_exception_buf = nothing
    FakeMicropython.mem_info = nothing
    FakeMicropython.qstr_info = nothing
    FakeMicropython.opt_level = nothing
    FakeMicropython.schedule = schedule

    class FakeEsp:
        osdebug = nothing

        def flash_size():
            return 4194304

    class FakeEsp32:
        def raw_temperature():
            return 120

        def hall_sensor():
            return 0

    provided["sys"] = FakeSys
    provided["io"] = FakeIO
    provided["micropython"] = FakeMicropython
    provided["esp"] = FakeEsp
    provided["esp32"] = FakeEsp32
    pure = ("math", "cmath", "json", "struct", "random", "gc", "collections", "array", "re",
            "binascii", "hashlib", "heapq", "errno", "framebuf", "deflate")
    real_import = builtins.__import__

    def sim_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level:
            raise ImportError("relative imports are not available in the robot simulator")
        if name in provided:
            return provided[name]
        if name == "robot" and robot_error:
            raise ImportError(robot_error)
        if name[:1] == "u" and (name[1:] in provided or name[1:] in pure):
            name = name[1:]
            if name in provided:
                return provided[name]
        if name in pure:
            return real_import(name, globals, locals, fromlist, level)
        raise ImportError("module '%s' is not available in the robot simulator" % name)

    # ---- lock down --------------------------------------------------------------------------
    gc.collect()
    vfs.umount("/")

    def not_here(*a, **k):
        raise OSError("files and the console are not available in the robot simulator")

    real_compile, real_exec, real_eval = compile, exec, eval
    g = {"__name__": "__main__", "__file__": "main.py"}

    def sim_compile(src, filename="<string>", mode="exec", *args):
        if has_native(src):
            raise NotImplementedError(NATIVE_MSG)
        return real_compile(src, filename, mode)

    def sim_exec(src, globals=None, locals=None):
        if has_native(src):
            raise NotImplementedError(NATIVE_MSG)
        globals = g if globals is None else globals
        return real_exec(src, globals, globals if locals is None else locals)

    def sim_eval(src, globals=None, locals=None):
        if has_native(src):
            raise NotImplementedError(NATIVE_MSG)
        globals = g if globals is None else globals
        return real_eval(src, globals, globals if locals is None else locals)

    builtins.compile = sim_compile
    builtins.exec = sim_exec
    builtins.eval = sim_eval
    builtins.open = not_here
    builtins.execfile = not_here
    builtins.input = not_here
    builtins.__import__ = sim_import
    builtins.print = sim_print

    # `import builtins` must not hand out the real module: its attributes are the ROM
    # originals (the real __import__ and open), whatever the overrides above say.
    class FakeBuiltins:
        pass

    for name in dir(builtins):
        if not name.startswith("__") or name in ("__build_class__", "__repl_print__"):
            setattr(FakeBuiltins, name, getattr(builtins, name))
    FakeBuiltins.__import__ = sim_import
    FakeBuiltins.open = not_here
    FakeBuiltins.execfile = not_here
    FakeBuiltins.input = not_here
    FakeBuiltins.print = sim_print
    FakeBuiltins.compile = sim_compile
    FakeBuiltins.exec = sim_exec
    FakeBuiltins.eval = sim_eval
    provided["builtins"] = FakeBuiltins
    del vfs, f

    # ---- run --------------------------------------------------------------------------------
    status, error, exc = "ok", None, None
    try:
        try:
            real_exec(code, g)
            _sim.run_background()
        except SystemExit:
            pass
        except _sim.SimReset:
            pass
    except _sim.SimBudget:
        status = "budget"
    except _sim.SimLimit as e:
        status, error = "timeout", str(e)
    except KeyboardInterrupt:
        status, error = "timeout", "wall-clock timeout: the program ran too long without sleeping"
        if _sim.timers or _sim.irqs:
            # `while True: pass` after arming timers/interrupts: on the board the loop idles
            # while they work, so run them until the budget.
            try:
                _sim.run_background()
            except _sim.SimBudget:
                status, error = "budget", None
            except BaseException as e:
                status, exc = "error", e
    except BaseException as e:  # Exception, MemoryError, ...: the program's own error
        status, exc = "error", e
    g.clear()  # free the program's memory first: a program that filled the heap is reported too
    _sim.timers.clear()
    _sim.irqs.clear()
    gc.collect()
    tb = None
    if exc is not None:
        tb = format_exc(exc)
        error = tb.strip().split("\n")[-1]
        if isinstance(exc, MemoryError):
            error += " (the program used more memory than the board has)"
    if line_buf[0]:
        try:
            _sim.record_print(line_buf[0], charge=False)
        except BaseException:
            pass
    if _sim.limit_msg and status != "timeout":
        status, error = "timeout", _sim.limit_msg
    if _sim.budget_hit:
        # virtual time ran out; whatever the program did after swallowing that (an error,
        # spinning until the interrupt) does not change how it ended
        status, error, tb = "budget", None, None
    end(status, error, tb)
