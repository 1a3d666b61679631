"""Phones: a static aarch64 robolm_run (scripts/cross_build_aarch64.sh) run under qemu-aarch64
gives the same greedy tokens as the x86 build, and the NEON kernels equal the scalar
references. Skipped with a reason where the cross compiler or qemu is missing
(apt-get install gcc-aarch64-linux-gnu qemu-user; CI installs them)."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "cross_build_aarch64.sh"
PROMPT = [2, 4, 100, 120, 5, 30, 6, 200, 7, 8, 50, 60]

pytestmark = pytest.mark.skipif(
    shutil.which("aarch64-linux-gnu-gcc") is None or shutil.which("qemu-aarch64") is None,
    reason="needs gcc-aarch64-linux-gnu and qemu-user (apt-get install gcc-aarch64-linux-gnu qemu-user)")

# Checks every NEON kernel against its scalar reference on random data, inside qemu.
NEON_CHECK = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "quant.h"
static unsigned s = 12345;
static float rnd(void) { s = s * 1103515245u + 12345u; return ((s >> 8) & 0xFFFF) / 32768.0f - 1.0f; }
int main(void) {
    int bad = 0;
    if (quant_isa_best() < QUANT_ISA_NEON) { printf("no NEON kernels picked (%s)\n", quant_isa_name(quant_isa_best())); return 1; }
    for (int n = 32; n <= 1024; n *= 2) {
        float* w = malloc(n * 4); float* x = malloc(n * 4); uint16_t* h = malloc(n * 2);
        block_q8_0* w8 = malloc(n / 32 * 34); block_q4_0* w4 = malloc(n / 32 * 18); block_q8_0* xq = malloc(n / 32 * 34);
        block_q8_0* xq2 = malloc(n / 32 * 34);
        for (int i = 0; i < n; i++) { w[i] = rnd(); x[i] = rnd(); h[i] = fp32_to_fp16(w[i]); }
        quantize_row_q8_0(w8, w, n); quantize_row_q4_0(w4, w, n); quantize_row_q8_0(xq, x, n);
        quantize_row_q8_0_fast(xq2, x, n);
        for (int b = 0; b < n / 32; b++) for (int j = 0; j < 32; j++) if (xq[b].qs[j] != xq2[b].qs[j]) bad++;
        /* exact integer dots: every scale 1.0 */
        for (int b = 0; b < n / 32; b++) { w8[b].d = 0x3C00; w4[b].d = 0x3C00; xq[b].d = 0x3C00; }
        if (vec_dot_q8_0(n, w8, xq) != vec_dot_q8_0_ref(n, w8, xq)) { printf("q8_0 n=%d\n", n); bad++; }
        if (vec_dot_q4_0(n, w4, xq) != vec_dot_q4_0_ref(n, w4, xq)) { printf("q4_0 n=%d\n", n); bad++; }
        float a = vec_dot_f32(n, w, x), r = vec_dot_f32_ref(n, w, x);
        if (fabsf(a - r) > 1e-5f * n) { printf("f32 n=%d %g %g\n", n, a, r); bad++; }
        a = vec_dot_f16(n, h, x); r = vec_dot_f16_ref(n, h, x);
        if (fabsf(a - r) > 1e-5f * n) { printf("f16 n=%d %g %g\n", n, a, r); bad++; }
    }
    printf("%s %s\n", quant_isa_name(quant_isa_get()), bad ? "MISMATCH" : "ok");
    return bad != 0;
}
"""


def build(tmp_path, *flags):
    out = tmp_path / ("robolm_run-aarch64" + "".join(f.strip("-") for f in flags))
    r = subprocess.run(["sh", str(SCRIPT), str(out), *flags], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def arm_binary(tmp_path_factory):
    """The default (armv8.2-a + dot product) static build, made once for this module."""
    return build(tmp_path_factory.mktemp("aarch64"))


@pytest.mark.parametrize("flags", [(), ("--baseline",)], ids=["dotprod", "baseline"])
def test_neon_kernels_equal_scalar_reference(tmp_path, flags):
    src = tmp_path / "neon_check.c"
    src.write_text(NEON_CHECK)
    exe = tmp_path / "neon_check"
    march = "-march=armv8-a" if flags else "-march=armv8.2-a+dotprod"
    r = subprocess.run(["aarch64-linux-gnu-gcc", "-std=gnu11", "-O2", march, "-static", f"-I{ROOT / 'csrc'}",
                        str(src), str(ROOT / "csrc" / "quant.c"), "-o", str(exe), "-lm", "-lpthread"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["qemu-aarch64", "-cpu", "max", str(exe)], capture_output=True, text=True, timeout=120)
    print(r.stdout)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr
    assert ("neon_dotprod" in r.stdout) == (not flags)


def x86_robolm_run():
    import sys
    exe = Path(sys.executable).parent / "robolm_run"
    return str(exe) if exe.exists() else shutil.which("robolm_run")


@pytest.mark.parametrize("wtype", ["f32", "q8_0", "q4_0"])
def test_aarch64_build_generates_the_same_tokens_as_x86(tmp_path, wtype, arm_binary):
    pytest.importorskip("torch")
    tg = pytest.importorskip("test_gguf")
    x86 = x86_robolm_run()
    if x86 is None:
        pytest.skip("the x86 robolm_run is not built (pip install -e .)")
    try:
        tok = tg.make_tokenizer()
    except Exception:           # the tokenizer is another part's work in progress
        tok = tg.ByteTokenizer()
    V = len(tok.gguf_vocab()["tokens"])
    model, args = tg.make_model(V)
    path = tg.write_model_file(tmp_path / f"m-{wtype}.gguf", model, args, tok, wtype)
    arm = arm_binary
    ids = ",".join(map(str, PROMPT))
    cmd = [str(path), "--tokens", ids, "-n", "20", "--ids", "--threads", "1"]
    a = subprocess.run([x86, *cmd], capture_output=True, text=True, timeout=60)
    b = subprocess.run(["qemu-aarch64", "-cpu", "max", str(arm), *cmd], capture_output=True, text=True, timeout=300)
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    print("x86:", a.stdout.strip(), "\naarch64:", b.stdout.strip())
    assert len(set(a.stdout.split())) > 2, "the fixture should give varied tokens"
    assert b.stdout.split() == a.stdout.split()


def test_cross_build_is_static(tmp_path):
    arm = build(tmp_path, "--baseline")
    head = arm.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[18] == 183          # e_machine EM_AARCH64
    r = subprocess.run(["qemu-aarch64", str(arm), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "robolm_run" in r.stdout
    assert np.frombuffer(head[16:18], np.uint16)[0] == 2        # ET_EXEC: static, no interpreter needed
