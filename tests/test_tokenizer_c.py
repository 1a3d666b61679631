"""csrc/tokenizer.c on its own, as robolm_run uses it: compiled with AddressSanitizer and
UBSan into a small fuzz program (written to tmp_path) that throws random bytes at the split,
encode/decode round trip, the user-defined cut and the GGUF-string builder."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer.h"

static unsigned long long rng = 88172645463325252ULL;
static unsigned rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (unsigned)rng; }

int main(void) {
    // vocabulary: 256 bytes, "ab", "abc", " c", control "<eos>", user-defined "Pin.OUT" and "    "
    const char* extra[] = {"ab", "abc", " c", "<eos>", "Pin.OUT", "    "};
    int32_t extra_type[] = {TOK_TYPE_NORMAL, TOK_TYPE_NORMAL, TOK_TYPE_NORMAL, TOK_TYPE_CONTROL,
                            TOK_TYPE_USER_DEFINED, TOK_TYPE_USER_DEFINED};
    size_t n = 256 + 6;
    const char* toks[262]; size_t lens[262]; int32_t types[262]; char bytes[256];
    for (int b = 0; b < 256; b++) { bytes[b] = (char)b; toks[b] = &bytes[b]; lens[b] = 1; types[b] = TOK_TYPE_NORMAL; }
    for (int i = 0; i < 6; i++) { toks[256 + i] = extra[i]; lens[256 + i] = strlen(extra[i]); types[256 + i] = extra_type[i]; }
    int32_t merges[] = {'a', 'b', 256, 'c', ' ', 'c'};
    char err[200];
    Tokenizer* t = tokenizer_build(toks, lens, types, n, merges, 3, err, sizeof err);
    if (!t) { printf("build failed: %s\n", err); return 1; }
    const char* alphabet[] = {"a", "b", "c", " ", "\n", "Pin.OUT", "    ", "<eos>", "\xe0\xa4\xa8", "\xe0\xa5\x8d",
                              "\xf0\x9f\x98\x80", "\xff", "\xc3", "'s", "1", "."};
    char text[512]; int32_t ids[1024]; char back[512]; size_t ends[600];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        int parts = rnd() % 40;
        for (int k = 0; k < parts; k++) {
            const char* piece; char raw[1];
            size_t pl;
            if (rnd() % 4 == 0) { raw[0] = (char)(rnd() & 255); piece = raw; pl = 1; }
            else { piece = alphabet[rnd() % 16]; pl = strlen(piece); }
            if (len + pl >= sizeof text) break;
            memcpy(text + len, piece, pl); len += pl;
        }
        size_t ns = tok_split(text, len, ends, 600);
        size_t prev = 0;
        for (size_t k = 0; k < ns && k < 600; k++) { if (ends[k] <= prev || ends[k] > len) { printf("bad split\n"); return 1; } prev = ends[k]; }
        if (len && prev != len) { printf("split does not cover\n"); return 1; }
        size_t cap = rnd() % 3 == 0 ? rnd() % 8 : 1024;   // small buffers too
        size_t m = tokenizer_encode(t, text, len, ids, cap);
        if (m == TOK_ERROR) { printf("encode error\n"); return 1; }
        if (m > cap) m = tokenizer_encode(t, text, len, ids, 1024);
        for (size_t k = 0; k < m; k++) if (tokenizer_token_type(t, ids[k]) == TOK_TYPE_CONTROL) { printf("control token from text\n"); return 1; }
        size_t bl = tokenizer_decode(t, ids, m, 0, back, sizeof back);
        if (bl != len || memcmp(back, text, len) != 0) { printf("round trip failed at iter %d\n", iter); return 1; }
        // garbage into the GGUF builder: must fail cleanly or succeed, never crash
        const char* gt[3] = {text, text + len / 2, "a"}; size_t gl[3] = {len / 2, len - len / 2, 1};
        const char* gm[1] = {text}; size_t gml[1] = {len};
        Tokenizer* g = tokenizer_build_gguf(gt, gl, NULL, 3, gm, gml, 1, err, sizeof err);
        tokenizer_free(g);
        int32_t bad_ids[2] = {(int32_t)(rnd() % 600) - 100, 5};
        tokenizer_decode(t, bad_ids, 2, rnd() & 1, back, sizeof back);
    }
    if (tokenizer_find(t, "<eos>", 5) != 259 || tokenizer_encode(NULL, "x", 1, ids, 4) != TOK_ERROR) { printf("api\n"); return 1; }
    tokenizer_free(t);
    printf("ok\n");
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_tokenizer_c_fuzz_under_sanitizers(tmp_path):
    src = tmp_path / "fuzz.c"
    src.write_text(HARNESS)
    exe = tmp_path / "fuzz"
    cmd = ["gcc", "-std=c11", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
           "-I", str(ROOT / "csrc"), str(src), str(ROOT / "csrc" / "tokenizer.c"),
           str(ROOT / "csrc" / "unicode_tables.c"), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 and "sanitizer" in r.stderr.lower():
        pytest.skip("this gcc cannot link the sanitizers: " + r.stderr.splitlines()[-1])
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
