"""The simulator's fork server: a small CPython process that runs MicroPython programs.

Started by robolm.sim.runner as `python forkserver.py` (a plain script: it imports only the
standard library and `micropython_run`, never torch or the robolm package). It preloads the
MicroPython interpreter once, then for every job (one JSON line on stdin):

  1. makes a fresh temporary directory holding job.json,
  2. forks; the child drops into that directory, closes every inherited file descriptor,
     sets OS limits (CPU seconds, address space, file size 0, no new files or processes,
     no core dumps), installs a seccomp filter (no exec, fork, sockets, or file creation and
     change: see DENIED_SYSCALLS), confines file reads to its own folders with Landlock where
     the kernel has it, and calls MicroPython's main() on the sandbox bootstrap,
  3. collects the child's stdout (the protocol lines) until it exits or the wall-clock
     timeout passes: then SIGINT (MicroPython turns it into KeyboardInterrupt, so the
     bootstrap can still report the trace) and, after a grace period, SIGKILL,
  4. answers with one JSON line: {"id", "out", "rc", "signal", "killed", "wall_s",
     "child_cpu_s", "server_cpu_s"}.

Forking a preloaded process costs about 4 ms per program instead of about 25 ms for a fresh
interpreter. The program itself never runs in this process or in the caller's process.
"""

import hashlib
import json
import os
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import micropython_run

MAX_OUTPUT = 8 * 1024 * 1024  # bytes of protocol output kept per program
# Job folders live on tmpfs when there is one: creating and removing a folder on this
# machine's disk costs 3-4 ms, on /dev/shm 0.1 ms.
WORK_ROOT = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
GRACE_S = 0.3                 # between SIGINT and SIGKILL
ARMED_IDLE_S = 0.5            # CPU seconds of main loop once timers/interrupts are armed (see _sim.armed)
LOAD_STRETCH = 4.0            # a timeout may wait up to this many times timeout_s on a loaded machine
BOOT = "import sys\nsys.path.clear()\nsys.path.append(%r)\nimport _sandbox\n_sandbox.main()\n"


def compile_mpy(src_dir, mpy_cross):
    """Precompile every .py in src_dir to .mpy (faster import); None if mpy-cross fails.

    The result lives in a cache folder named by a hash of the sources, shared by all fork
    servers of this user and kept between runs (a few tens of KB per version); it is built in
    a private folder and renamed into place, so a folder that exists is complete."""
    try:
        names = sorted(n for n in os.listdir(src_dir) if n.endswith(".py"))
        h = hashlib.sha256(mpy_cross.encode())
        for name in names:
            with open(os.path.join(src_dir, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read() + b"\0")
    except OSError:
        return None
    final = os.path.join(tempfile.gettempdir(), f"robolm-sim-mpy-{os.getuid()}-{h.hexdigest()[:16]}")
    if _own_private_dir(final):
        return final
    tmp = tempfile.mkdtemp(prefix="robolm-sim-mpy-build-")
    try:
        for name in names:
            subprocess.run([mpy_cross, "-o", os.path.join(tmp, name[:-3] + ".mpy"),
                            os.path.join(src_dir, name)], check=True, capture_output=True, timeout=30)
        try:
            os.rename(tmp, final)
        except OSError:  # another server got there first
            shutil.rmtree(tmp, ignore_errors=True)
        return final if _own_private_dir(final) else None
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        return None


def _own_private_dir(path):
    """A folder owned by this user that nobody else can write (never trust a planted cache)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and (st.st_mode & 0o077) == 0


_firmware_cache = {}  # firmware folder -> (fingerprint, folder of .mpy files)


def firmware_mpy(firmware_dir, mpy_cross):
    """The firmware folder precompiled to .mpy (recompiled when a .py file changes).

    Falls back to the source folder when mpy-cross is missing or refuses a file, so that
    MicroPython itself reports the firmware's error to the program that imports it."""
    if not firmware_dir or not mpy_cross:
        return firmware_dir
    try:
        names = sorted(n for n in os.listdir(firmware_dir) if n.endswith(".py"))
        stamp = [(n, os.stat(os.path.join(firmware_dir, n)).st_mtime_ns,
                  os.stat(os.path.join(firmware_dir, n)).st_size) for n in names]
    except OSError:
        return firmware_dir
    cached = _firmware_cache.get(firmware_dir)
    if cached and cached[0] == stamp:
        return cached[1]
    out = compile_mpy(firmware_dir, mpy_cross) or firmware_dir
    _firmware_cache[firmware_dir] = (stamp, out)
    return out


def set_limits(cpu_s, as_bytes):
    def lim(which, value):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    lim(resource.RLIMIT_CPU, cpu_s)
    lim(resource.RLIMIT_AS, as_bytes)
    lim(resource.RLIMIT_FSIZE, 0)     # no file can grow (nothing to write anyway)
    lim(resource.RLIMIT_CORE, 0)
    lim(resource.RLIMIT_NOFILE, 4)    # stdin/stdout/stderr + job.json, nothing more
    lim(resource.RLIMIT_NPROC, 0)     # no fork, no threads (ignored for root)


# ---- seccomp: the kernel refuses dangerous system calls in the child (x86-64 Linux) ----------
# A second wall behind the MicroPython-level sandbox: even if a program reached the real `os`
# or `socket`, it could not start a process, open a socket, or create/change a file.
DENIED_SYSCALLS = {  # x86-64 numbers
    "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "execve": 59, "execveat": 322,
    "socket": 41, "connect": 42, "accept": 43, "bind": 49, "listen": 50, "socketpair": 53,
    "accept4": 288, "kill": 62, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "creat": 85, "openat2": 437, "unlink": 87, "unlinkat": 263, "rename": 82, "renameat": 264,
    "renameat2": 316, "mkdir": 83, "mkdirat": 258, "rmdir": 84, "link": 86, "linkat": 265,
    "symlink": 88, "symlinkat": 266, "chmod": 90, "fchmod": 91, "fchmodat": 268, "chown": 92,
    "fchown": 93, "lchown": 94, "fchownat": 260, "truncate": 76, "ftruncate": 77, "mknod": 133,
    "mknodat": 259, "mount": 165, "umount2": 166, "chroot": 161, "pivot_root": 155,
}
OPEN_NR, OPENAT_NR = 2, 257
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def build_seccomp():
    """Return a callable that installs the filter in the calling process, or None."""
    import ctypes
    if sys.platform != "linux" or platform_machine() != "x86_64":
        return None

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    ALLOW, DENY = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    AUDIT_ARCH_X86_64 = 0xC000003E
    prog = [(LD_ABS, 0, 0, 4), (JEQ, 1, 0, AUDIT_ARCH_X86_64), (RET, 0, 0, DENY),
            (LD_ABS, 0, 0, 0), (JGE, 0, 1, 0x40000000), (RET, 0, 0, DENY)]
    for nr in sorted(DENIED_SYSCALLS.values()):
        prog += [(JEQ, 0, 1, nr), (RET, 0, 0, DENY)]
    for nr, flags_offset in ((OPEN_NR, 16 + 8 * 1), (OPENAT_NR, 16 + 8 * 2)):
        prog += [(JEQ, 0, 4, nr), (LD_ABS, 0, 0, flags_offset), (JSET, 0, 1, WRITE_FLAGS),
                 (RET, 0, 0, DENY), (RET, 0, 0, ALLOW)]
    prog += [(RET, 0, 0, ALLOW)]
    arr = (SockFilter * len(prog))(*[SockFilter(c, jt, jf, k) for c, jt, jf, k in prog])
    fprog = SockFprog(len(prog), arr)
    libc = ctypes.CDLL(None, use_errno=True)

    def install():
        if libc.prctl(38, 1, 0, 0, 0) != 0:           # PR_SET_NO_NEW_PRIVS
            return False
        return libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0  # PR_SET_SECCOMP, MODE_FILTER

    install.keep = (arr, fprog)  # keep the buffers alive
    return install


# ---- Landlock: the child may read only its own folders (Linux 5.13+, when enabled) ---------------
# The third wall: even code that reached raw memory could not read a host file outside the
# simulator's modules, the firmware and the job folder, nor write anywhere.
LANDLOCK_READ = 4 | 8  # READ_FILE | READ_DIR
LANDLOCK_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}


def build_landlock():
    """Return install(paths) that confines the calling process to reading `paths`, or None."""
    import ctypes
    if sys.platform != "linux" or platform_machine() != "x86_64":
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    SYS_CREATE, SYS_ADD, SYS_RESTRICT = 444, 445, 446
    abi = libc.syscall(SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # ..._VERSION
    if abi < 1:
        return None
    handled = LANDLOCK_FS_BY_ABI.get(abi, (1 << 16) - 1)

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    def install(paths):
        attr = ctypes.c_uint64(handled)
        rs = libc.syscall(SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
        if rs < 0:
            return False
        try:
            for path in paths:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                try:
                    rule = PathBeneath(LANDLOCK_READ, fd)
                    if libc.syscall(SYS_ADD, ctypes.c_int(rs), ctypes.c_int(1), ctypes.byref(rule),
                                    ctypes.c_uint32(0)) != 0:
                        return False
                finally:
                    os.close(fd)
            if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
                return False
            return libc.syscall(SYS_RESTRICT, ctypes.c_int(rs), ctypes.c_uint32(0)) == 0
        finally:
            os.close(rs)

    install.abi = abi
    return install


def platform_machine():
    return os.uname().machine


def child_cpu(pid):
    """CPU seconds a child has used so far (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def vm_size():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


SERVER_VM = vm_size()  # the forked child starts with this much address space


def run_job(job, mpdir, seccomp=None, mpy_cross=None, landlock=None):
    t0 = time.perf_counter()
    workdir = tempfile.mkdtemp(prefix="robolm-sim-", dir=WORK_ROOT)
    try:
        mp_job = {"code": job["code"], "scenario": job["scenario"], "budget_us": job["budget_us"],
                  "seed": job.get("seed", 0),
                  "firmware_dir": firmware_mpy(job.get("firmware_dir"), mpy_cross),
                  "mpdir": mpdir}
        with open(os.path.join(workdir, "job.json"), "w", encoding="utf-8") as f:
            json.dump(mp_job, f)
        heap_kb = int(job.get("heap_kb", 256))
        timeout_s = float(job.get("timeout_s", 2.0))
        argv = ["micropython", "-X", "heapsize=%dK" % heap_kb, "-c", BOOT % mpdir]
        as_bytes = SERVER_VM + 256 * 1024 * 1024 + heap_kb * 1024
        cpu_s = int(timeout_s) + 2  # RLIMIT_CPU: the kernel's own backstop
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # ---- child: never returns
            try:
                os.chdir(workdir)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(w, 1)
                os.dup2(w, 2)
                os.closerange(3, 1 << 20)  # one close_range() syscall on current Linux
                if landlock is not None:
                    readable = [workdir, mpdir] + [d for d in (job.get("firmware_dir"),
                                                               mp_job["firmware_dir"]) if d]
                    if not landlock(readable):
                        os._exit(122)  # never run a program with a wall missing
                for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                    signal.signal(s, signal.SIG_DFL)
                set_limits(cpu_s, as_bytes)
                if seccomp is not None and not seccomp():
                    os._exit(121)  # never run a program with a wall missing
                rc = micropython_run.run_main(argv)
            except BaseException:
                rc = 120
            os._exit(rc)
        # ---- server
        os.close(w)
        chunks, size, killed = [], 0, None
        deadline = t0 + timeout_s
        sent_int = None
        armed = False
        limit_cpu = timeout_s  # CPU seconds the child may use before it is interrupted
        while True:
            now = time.perf_counter()
            if sent_int is None and now >= deadline and now < t0 + LOAD_STRETCH * timeout_s:
                # On a busy machine the child may have had little of the CPU: judge the
                # timeout by the CPU time it really got (up to LOAD_STRETCH x the wall time).
                cpu = child_cpu(pid)
                if cpu is not None and cpu < 0.9 * limit_cpu:
                    deadline = now + max(0.05, limit_cpu - cpu)
                    continue
            if sent_int is None and now >= deadline:
                killed = "timeout"
                os.kill(pid, signal.SIGINT)
                sent_int = now
            if sent_int is not None and now >= sent_int + GRACE_S:
                os.kill(pid, signal.SIGKILL)
                break
            wait = (deadline - now) if sent_int is None else (sent_int + GRACE_S - now)
            ready, _, _ = select.select([r], [], [], max(0.0, wait))
            if not ready:
                continue
            b = os.read(r, 65536)
            if not b:
                break
            if not armed and b'["armed"]' in b:
                # timers or interrupts are armed: an idle `while True: pass` is the usual
                # main loop now, so interrupt it sooner (the sandbox then runs the timers)
                armed = True
                limit_cpu = min(limit_cpu, (child_cpu(pid) or 0.0) + ARMED_IDLE_S)
                deadline = min(deadline, time.perf_counter() + ARMED_IDLE_S)
            size += len(b)
            if size > MAX_OUTPUT:
                killed = "output"
                os.kill(pid, signal.SIGKILL)
                break
            chunks.append(b)
        os.close(r)
        _, st, usage = os.wait4(pid, 0)
        return {"id": job.get("id"), "out": b"".join(chunks).decode("utf-8", "replace"),
                "rc": os.WEXITSTATUS(st) if os.WIFEXITED(st) else None,
                "signal": os.WTERMSIG(st) if os.WIFSIGNALED(st) else None,
                "killed": killed, "wall_s": time.perf_counter() - t0,
                "child_cpu_s": usage.ru_utime + usage.ru_stime}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    src_dir = sys.argv[1]
    mpy_cross = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    mpdir = (compile_mpy(src_dir, mpy_cross) if mpy_cross else None) or src_dir
    try:
        seccomp = build_seccomp()
    except Exception:
        seccomp = None
    try:
        landlock = build_landlock()
    except Exception:
        landlock = None
    out = sys.stdout
    out.write(json.dumps({"ready": True, "mpdir": mpdir, "seccomp": seccomp is not None,
                          "landlock": getattr(landlock, "abi", 0)}) + "\n")
    out.flush()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            job = json.loads(line)
            cpu0 = time.process_time()
            try:
                res = run_job(job, mpdir, seccomp, mpy_cross, landlock)
            except Exception as e:  # a server-side failure is reported, never hidden
                res = {"id": job.get("id"), "out": "", "rc": None, "signal": None,
                       "killed": None, "server_error": repr(e), "wall_s": 0.0}
            res["server_cpu_s"] = time.process_time() - cpu0
            out.write(json.dumps(res) + "\n")
            out.flush()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
