#!/bin/sh
# Cross-build a static robolm_run for 64-bit ARM phones and boards (aarch64 Linux/Android).
#
#   scripts/cross_build_aarch64.sh [OUT] [--baseline]
#
# OUT defaults to build/aarch64/robolm_run. The default build targets armv8.2-a with the
# dot-product instructions (every phone core since about 2018: Cortex-A55/A75 and later);
# --baseline builds for plain armv8-a NEON (older phones, Raspberry Pi 3/4).
# Needs Debian's cross compiler: apt-get install gcc-aarch64-linux-gnu qemu-user
# (qemu-user only to try the result here: qemu-aarch64 OUT model.gguf -p "...").
#
# On an Android phone (no root needed; USB debugging on, `adb` on the computer):
#   adb push build/aarch64/robolm_run exports/robolm-q4_0.gguf /data/local/tmp/
#   adb shell
#   cd /data/local/tmp && chmod +x robolm_run
#   ./robolm_run robolm-q4_0.gguf -p "blink the LED on pin 2" --lang en --threads 4 --stats
# The binary is static (no libraries needed), so it also runs inside Termux or on any
# aarch64 Linux board. --threads 4 uses the big cores on most phones; try 2 on small ones.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/build/aarch64/robolm_run"
ARCH="-march=armv8.2-a+dotprod"
for a in "$@"; do
    case "$a" in
        --baseline) ARCH="-march=armv8-a" ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) OUT="$a" ;;
    esac
done
CC=${CC:-aarch64-linux-gnu-gcc}
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "cross_build_aarch64: $CC not found. Hint: apt-get install gcc-aarch64-linux-gnu qemu-user" >&2
    exit 2
fi
mkdir -p "$(dirname "$OUT")"
# The same sources CMake globs into the core library, plus the CLI; C11, libc + libm + pthreads.
"$CC" -std=gnu11 -O2 $ARCH -static -Wall -Wextra -Wno-unused-parameter \
    -I"$ROOT/csrc" "$ROOT"/csrc/*.c "$ROOT/csrc/cli/robolm_run.c" \
    -o "$OUT" -lm -lpthread
"${STRIP:-aarch64-linux-gnu-strip}" "$OUT" 2>/dev/null || true
echo "built $OUT ($(wc -c < "$OUT") bytes, $ARCH, static)"
