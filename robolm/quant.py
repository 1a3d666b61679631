"""Q8_0 and Q4_0: GGUF's standard 32-weight blocks, in NumPy.

The bytes these functions write are the bytes llama.cpp writes (ggml-quants.c,
`quantize_row_q8_0_ref` / `quantize_row_q4_0_ref`), so a RoboLM file quantized here
runs unchanged in llama.cpp, and the C twins in csrc/quant.c produce the same bytes.

A row of n weights (n a multiple of 32) becomes n/32 blocks laid end to end:

    Q8_0 block, 34 bytes:  d (fp16)  qs[32] (int8)          x[j] ~= qs[j] * d
    Q4_0 block, 18 bytes:  d (fp16)  qs[16] (two nibbles)   x[j] ~= (nibble - 8) * d

Q4_0's nibble order: the LOW nibble of byte j holds element j, the HIGH nibble holds
element j + 16 (the first half of the block in the low nibbles). Not adjacent pairs.

Only the last axis is blocked: a (d, n) weight becomes (d, n/32 * 34) uint8 bytes.
A last axis that does not divide into 32 is refused, never padded.
"""
from __future__ import annotations

import numpy as np

QK = 32                   # weights per block, for both types
Q8_0_BYTES = 2 + QK       # fp16 scale + 32 int8
Q4_0_BYTES = 2 + QK // 2  # fp16 scale + 16 bytes of nibbles

# GGUF / ggml type ids (ggml.h); the C side uses the same numbers (csrc/quant.h)
TYPE_F32, TYPE_F16, TYPE_Q4_0, TYPE_Q8_0 = 0, 1, 2, 8
BLOCK_BYTES = {TYPE_Q8_0: Q8_0_BYTES, TYPE_Q4_0: Q4_0_BYTES}
TYPE_NAMES = {TYPE_F32: "F32", TYPE_F16: "F16", TYPE_Q4_0: "Q4_0", TYPE_Q8_0: "Q8_0"}


def _blocks(x: np.ndarray, what: str) -> np.ndarray:
    """(..., n) float -> (n_blocks, 32) float32, refusing an n that is not a multiple of 32."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 0 or x.shape[-1] % QK != 0:
        raise ValueError(
            f"{what}: the last dimension of a tensor with shape {tuple(x.shape)} must be a "
            f"multiple of {QK} (GGUF quantizes whole 32-weight blocks along each row); "
            f"keep this tensor F32/F16 or choose sizes divisible by {QK}")
    return np.ascontiguousarray(x).reshape(-1, QK)  # (n_blocks, 32)


def _byte_blocks(b: np.ndarray, block_bytes: int, what: str) -> np.ndarray:
    """(..., k) uint8 -> (n_blocks, block_bytes), checking k is a whole number of blocks."""
    b = np.asarray(b)
    if b.dtype != np.uint8:
        raise TypeError(f"{what}: expected uint8 bytes, got {b.dtype}")
    if b.ndim == 0 or b.shape[-1] % block_bytes != 0:
        raise ValueError(f"{what}: last dimension {b.shape[-1] if b.ndim else 0} is not a "
                         f"multiple of the {block_bytes}-byte block")
    return np.ascontiguousarray(b).reshape(-1, block_bytes)  # (n_blocks, block_bytes)


def _roundf(v: np.ndarray) -> np.ndarray:
    """C's roundf (halves away from zero) on float32 values, exact: |v| <= 127 here,
    so v + 0.5 is exact in float64."""
    a = np.abs(v).astype(np.float64)
    return np.sign(v) * np.floor(a + 0.5)


# ---------------------------------------------------------------- Q8_0
def quantize_q8_0(x: np.ndarray) -> np.ndarray:
    """(..., n) float -> (..., n/32*34) uint8 Q8_0 blocks. d = max|x| / 127, q = round(x / d)."""
    blocks = _blocks(x, "quantize_q8_0")                                # (nb, 32)
    amax = np.abs(blocks).max(axis=1, keepdims=True)                    # (nb, 1)
    d = (amax / np.float32(127)).astype(np.float32)                     # (nb, 1)
    with np.errstate(divide="ignore"):
        inv_d = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    qs = _roundf((blocks * inv_d).astype(np.float32)).astype(np.int8)   # (nb, 32)
    out = np.concatenate([d.astype(np.float16).view(np.uint8), qs.view(np.uint8)], axis=1)
    return out.reshape(*np.shape(x)[:-1], -1)                           # (..., n/32*34)


def dequantize_q8_0(b: np.ndarray) -> np.ndarray:
    """(..., n/32*34) uint8 Q8_0 blocks -> (..., n) float32."""
    blocks = _byte_blocks(b, Q8_0_BYTES, "dequantize_q8_0")             # (nb, 34)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)        # (nb, 1)
    qs = blocks[:, 2:].view(np.int8).astype(np.float32)                 # (nb, 32)
    return (qs * d).reshape(*np.shape(b)[:-1], -1)                      # (..., n)


# ---------------------------------------------------------------- Q4_0
def quantize_q4_0(x: np.ndarray) -> np.ndarray:
    """(..., n) float -> (..., n/32*18) uint8 Q4_0 blocks.

    d = m / -8 where m is the signed value of largest magnitude (so m maps to nibble 0,
    i.e. -8, using the full range), q = min(15, trunc(x / d + 8.5))."""
    blocks = _blocks(x, "quantize_q4_0")                                # (nb, 32)
    imax = np.abs(blocks).argmax(axis=1)[:, None]                       # (nb, 1) first largest
    m = np.take_along_axis(blocks, imax, axis=1)                        # (nb, 1) signed
    d = (m / np.float32(-8)).astype(np.float32)                         # (nb, 1)
    with np.errstate(divide="ignore"):
        inv_d = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    v = (blocks * inv_d).astype(np.float32) + np.float32(8.5)           # (nb, 32) in [0.5, 16.5]
    q = np.minimum(np.trunc(v), 15).astype(np.uint8)                    # (nb, 32) in [0, 15]
    qs = q[:, :16] | (q[:, 16:] << 4)                                   # (nb, 16) low = j, high = j+16
    out = np.concatenate([d.astype(np.float16).view(np.uint8), qs.astype(np.uint8)], axis=1)
    return out.reshape(*np.shape(x)[:-1], -1)                           # (..., n/32*18)


def dequantize_q4_0(b: np.ndarray) -> np.ndarray:
    """(..., n/32*18) uint8 Q4_0 blocks -> (..., n) float32."""
    blocks = _byte_blocks(b, Q4_0_BYTES, "dequantize_q4_0")             # (nb, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)        # (nb, 1)
    qs = blocks[:, 2:]                                                  # (nb, 16)
    lo = (qs & 0x0F).astype(np.int8) - 8                                # (nb, 16) elements 0..15
    hi = (qs >> 4).astype(np.int8) - 8                                  # (nb, 16) elements 16..31
    q = np.concatenate([lo, hi], axis=1).astype(np.float32)             # (nb, 32)
    return (q * d).reshape(*np.shape(b)[:-1], -1)                       # (..., n)


# ---------------------------------------------------------------- by type id
def quantize(x: np.ndarray, wtype: int) -> np.ndarray:
    """float (..., n) -> the bytes (or F32/F16 array) GGUF stores for type `wtype`."""
    if wtype == TYPE_F32:
        return np.ascontiguousarray(x, dtype=np.float32)
    if wtype == TYPE_F16:
        return np.ascontiguousarray(x, dtype=np.float16)
    if wtype == TYPE_Q8_0:
        return quantize_q8_0(x)
    if wtype == TYPE_Q4_0:
        return quantize_q4_0(x)
    raise ValueError(f"quantize: unsupported type id {wtype}; RoboLM knows {TYPE_NAMES}")


def dequantize(b: np.ndarray, wtype: int) -> np.ndarray:
    """The inverse of quantize: GGUF data of type `wtype` -> float32 (..., n)."""
    if wtype in (TYPE_F32, TYPE_F16):
        return np.asarray(b).astype(np.float32)
    if wtype == TYPE_Q8_0:
        return dequantize_q8_0(b)
    if wtype == TYPE_Q4_0:
        return dequantize_q4_0(b)
    raise ValueError(f"dequantize: unsupported type id {wtype}; RoboLM knows {TYPE_NAMES}")


def row_bytes(wtype: int, n: int) -> int:
    """Bytes of one row of n weights stored as `wtype`."""
    if wtype == TYPE_F32:
        return 4 * n
    if wtype == TYPE_F16:
        return 2 * n
    if wtype in BLOCK_BYTES:
        if n % QK:
            raise ValueError(f"row_bytes: a row of {n} weights is not a multiple of {QK} (whole blocks)")
        return n // QK * BLOCK_BYTES[wtype]
    raise ValueError(f"row_bytes: unsupported type id {wtype}")


def matmul_q_naive(x: np.ndarray, w_bytes: np.ndarray, wtype: int) -> np.ndarray:
    """The quantized matmul as the C runtime computes it (llama.cpp's scheme), for tests:
    the activation row x (n,) is itself quantized to Q8_0, then each weight row's block
    dot products are integer sums scaled by d_w * d_x.  w_bytes (d, row_bytes) -> out (d,)."""
    xq = _byte_blocks(quantize_q8_0(x), Q8_0_BYTES, "x")               # (nbx, 34)
    dx = xq[:, :2].copy().view(np.float16).astype(np.float32)[:, 0]    # (nbx,)
    qx = xq[:, 2:].view(np.int8).astype(np.int32)                      # (nbx, 32)
    w_bytes = np.asarray(w_bytes, dtype=np.uint8)
    d = w_bytes.shape[0]
    bb = BLOCK_BYTES[wtype]
    wb = w_bytes.reshape(d, -1, bb)                                    # (d, nb, bb)
    dw = wb[:, :, :2].copy().view(np.float16).astype(np.float32)[..., 0]  # (d, nb)
    if wtype == TYPE_Q8_0:
        qw = wb[:, :, 2:].view(np.int8).astype(np.int32)              # (d, nb, 32)
    else:
        qs = wb[:, :, 2:]
        qw = np.concatenate([(qs & 0x0F), (qs >> 4)], axis=2).astype(np.int32) - 8  # (d, nb, 32)
    sumi = (qw * qx[None]).sum(axis=2)                                  # (d, nb) exact integers
    return (sumi.astype(np.float32) * (dw * dx[None])).sum(axis=1, dtype=np.float32)  # (d,)


def pack_q4_0(d: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Chosen scales d (..., n/32) and nibbles q (..., n) in [0, 15] -> Q4_0 bytes (..., n/32*18).
    For quantizers that pick their own grid (GPTQ); x ~= (q - 8) * d."""
    q = np.asarray(q)
    if q.shape[-1] % QK or np.any(q > 15):
        raise ValueError("pack_q4_0: q must be (..., n) with n a multiple of 32 and values in 0..15")
    qb = q.astype(np.uint8).reshape(-1, QK)                              # (nb, 32)
    d16 = np.asarray(d, dtype=np.float16).reshape(-1, 1)                 # (nb, 1)
    if d16.shape[0] != qb.shape[0]:
        raise ValueError(f"pack_q4_0: {d16.shape[0]} scales for {qb.shape[0]} blocks")
    qs = qb[:, :16] | (qb[:, 16:] << 4)                                  # (nb, 16)
    out = np.concatenate([d16.view(np.uint8), qs], axis=1)               # (nb, 18)
    return out.reshape(*q.shape[:-1], -1)
