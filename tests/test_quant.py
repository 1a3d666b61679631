"""Q8_0 / Q4_0: NumPy and C blocks byte-identical with gguf-py's reference quantizers,
every SIMD kernel equal to the scalar reference, the typed matmul equal to NumPy."""
import numpy as np
import pytest

from robolm import quant

gguf_quants = pytest.importorskip("gguf.quants")
from gguf import GGMLQuantizationType as GT  # noqa: E402

try:
    from robolm import _native as N
except ImportError:  # the native module is not built
    N = None
needs_native = pytest.mark.skipif(N is None or not hasattr(N, "quantize_q8_0"),
                                   reason="robolm._native with bind_quant is not built")

SHAPES = [(64,), (3, 96), (2, 3, 128), (17, 384)]
SCALES = [1e-6, 0.02, 1.0, 300.0]


def random_tensor(rng, shape, scale):
    x = (rng.standard_normal(shape) * scale).astype(np.float32)
    flat = x.reshape(-1)
    flat[:32] = 0.0                       # an all-zero block: d = 0
    if flat.size >= 96:
        flat[32:64] = scale               # ties: every value the same
        flat[64:96] = rng.integers(-8, 8, 32) * np.float32(scale / 8)  # exact grid points, halves
    return x


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("kind", ["q8_0", "q4_0"])
def test_numpy_blocks_match_gguf_py(shape, scale, kind):
    rng = np.random.default_rng(hash((shape, scale, kind)) % 2**32)
    x = random_tensor(rng, shape, scale)
    qt = GT.Q8_0 if kind == "q8_0" else GT.Q4_0
    ours = getattr(quant, f"quantize_{kind}")(x)
    ref = gguf_quants.quantize(x, qt)
    assert ours.dtype == np.uint8 and ours.shape == ref.shape
    assert np.array_equal(ours, ref), f"{kind} bytes differ from gguf-py at {np.argwhere(ours != ref)[:5]}"
    back = getattr(quant, f"dequantize_{kind}")(ours)
    assert back.shape == x.shape
    assert np.array_equal(back, gguf_quants.dequantize(ref, qt))


def test_block_sizes_and_nibble_order():
    x = np.arange(32, dtype=np.float32) - 16.0  # -16..15: the largest |x| is -16 -> d = 2
    b = quant.quantize_q4_0(x)
    assert b.shape == (18,)
    assert np.frombuffer(b[:2].tobytes(), np.float16)[0] == 2.0
    q = np.concatenate([b[2:] & 0x0F, b[2:] >> 4])
    # element j in the low nibble of byte j, element j+16 in the high nibble
    assert q[0] == 0 and q[16] == 8 and q[31] == min(15, int(15 / 2 + 8.5))
    assert quant.quantize_q8_0(x).shape == (34,)
    assert quant.row_bytes(quant.TYPE_Q4_0, 64) == 36 and quant.row_bytes(quant.TYPE_Q8_0, 64) == 68


@pytest.mark.parametrize("fn", [quant.quantize_q8_0, quant.quantize_q4_0])
def test_refuses_shapes_that_do_not_block(fn):
    with pytest.raises(ValueError, match="multiple of 32"):
        fn(np.zeros((4, 48), np.float32))
    with pytest.raises(ValueError, match="multiple of 32"):
        quant.row_bytes(quant.TYPE_Q8_0, 33)


def test_quantization_error_is_small():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 256)).astype(np.float32)
    e8 = np.abs(quant.dequantize_q8_0(quant.quantize_q8_0(x)) - x).max()
    e4 = np.abs(quant.dequantize_q4_0(quant.quantize_q4_0(x)) - x).max()
    amax = np.abs(x).max()
    assert e8 <= amax / 127 * 0.51 + 1e-3
    assert e4 <= amax / 8 * 1.01 and e4 > e8


# ---------------------------------------------------------------- C
@needs_native
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", SCALES)
def test_c_blocks_match_numpy(shape, scale):
    rng = np.random.default_rng(7)
    x = random_tensor(rng, shape, scale)
    for kind in ("q8_0", "q4_0"):
        ours = getattr(quant, f"quantize_{kind}")(x)
        c = getattr(N, f"quantize_{kind}")(x)
        assert np.array_equal(ours, c), kind
        assert np.array_equal(getattr(N, f"dequantize_{kind}")(c), getattr(quant, f"dequantize_{kind}")(ours))


@needs_native
def test_c_refuses_shapes_that_do_not_block():
    with pytest.raises(ValueError, match="multiple of 32"):
        N.quantize_q4_0(np.zeros(40, np.float32))


@needs_native
def test_fp16_conversion_matches_numpy():
    rng = np.random.default_rng(3)
    vals = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-9, 5, 2000),
                           [0.0, -0.0, 65504.0, 65519.0, 65520.0, 1e9, 6e-8, 3e-8, 2.98e-8, 6.1e-5, -6.1e-5]])
    vals = vals.astype(np.float32)
    with np.errstate(over="ignore"):
        want = vals.astype(np.float16).view(np.uint16)
    for v, h16 in zip(vals, want):
        assert N.fp32_to_fp16(float(v)) == int(h16), v
    h = np.arange(0, 0x7C00, 7, dtype=np.uint16)
    assert all(N.fp16_to_fp32(int(b)) == float(b.view(np.float16)) for b in h)


def simd_isas():
    if N is None or not hasattr(N, "quant_isa_supported"):
        return []
    return [i for i in range(1, 6) if N.quant_isa_supported(i)]


@needs_native
@pytest.mark.parametrize("n", [32, 96, 256, 512])
def test_simd_integer_dots_equal_reference_exactly(n):
    """Scales of 1.0 make every product an exact integer in float, so any order of
    summation must give the reference's number exactly."""
    rng = np.random.default_rng(n)
    one = np.array([1.0], np.float16).view(np.uint8)
    xq = quant.quantize_q8_0(rng.standard_normal(n).astype(np.float32)).reshape(-1, 34)
    xq[:, :2] = one
    w8 = quant.quantize_q8_0(rng.standard_normal(n).astype(np.float32)).reshape(-1, 34)
    w8[:, :2] = one
    w8[0, 2] = np.int8(-128).view(np.uint8)  # the corner case a file may hold
    w4 = quant.quantize_q4_0(rng.standard_normal(n).astype(np.float32)).reshape(-1, 18)
    w4[:, :2] = one
    qx = xq[:, 2:].view(np.int8).astype(np.int64).reshape(-1)
    exact8 = int((w8[:, 2:].view(np.int8).astype(np.int64).reshape(-1) * qx).sum())
    q4 = np.concatenate([w4[:, 2:] & 15, w4[:, 2:] >> 4], axis=1).astype(np.int64) - 8
    exact4 = int((q4.reshape(-1) * qx).sum())
    xb = xq.reshape(-1)
    assert N.quant_dot(quant.TYPE_Q8_0, w8.reshape(-1), xb, n, -1) == exact8
    assert N.quant_dot(quant.TYPE_Q4_0, w4.reshape(-1), xb, n, -1) == exact4
    for isa in simd_isas():
        assert N.quant_dot(quant.TYPE_Q8_0, w8.reshape(-1), xb, n, isa) == exact8, N.quant_isa_name(isa)
        assert N.quant_dot(quant.TYPE_Q4_0, w4.reshape(-1), xb, n, isa) == exact4, N.quant_isa_name(isa)


@needs_native
@pytest.mark.parametrize("n", [32, 64, 160, 384, 1024])
def test_simd_float_dots_match_reference(n):
    rng = np.random.default_rng(n + 1)
    w = rng.standard_normal(n).astype(np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    xq = N.quantize_q8_0(x)
    cases = [(quant.TYPE_F32, w.view(np.uint8), x), (quant.TYPE_F16, w.astype(np.float16).view(np.uint8), x),
             (quant.TYPE_Q8_0, quant.quantize_q8_0(w), xq), (quant.TYPE_Q4_0, quant.quantize_q4_0(w), xq)]
    for wtype, wb, xx in cases:
        ref = N.quant_dot(wtype, wb, xx, n, -1)
        scale = float(np.abs(quant.dequantize(wb.view(np.float16) if wtype == 1 else
                                              (wb.view(np.float32) if wtype == 0 else wb), wtype)).sum()
                      * np.abs(x).max())  # bound on the size of the partial sums
        for isa in simd_isas():
            got = N.quant_dot(wtype, wb, xx, n, isa)
            assert abs(got - ref) <= 1e-5 * max(abs(ref), 1e-3 * scale), (quant.TYPE_NAMES[wtype], N.quant_isa_name(isa), got, ref)


@needs_native
@pytest.mark.parametrize("n", [32, 160, 384])
def test_simd_activation_quantizer_is_byte_exact(n):
    rng = np.random.default_rng(5)
    x = random_tensor(rng, (n,), 0.5)
    ref = quant.quantize_q8_0(x)
    for isa in [0] + simd_isas():
        assert np.array_equal(N.quantize_q8_0_fast(x, isa), ref), N.quant_isa_name(isa)


@needs_native
@pytest.mark.parametrize("wtype", [quant.TYPE_F32, quant.TYPE_F16, quant.TYPE_Q8_0, quant.TYPE_Q4_0])
@pytest.mark.parametrize("T", [7, 40])  # 40: the prompt's tiles of 32 tokens and a remainder
def test_matmul_typed_matches_numpy(wtype, T):
    rng = np.random.default_rng(wtype)
    n, d = 384, 203  # d not a multiple of the 4-row chunks or the threads
    w = rng.standard_normal((d, n)).astype(np.float32)
    x = rng.standard_normal((T, n)).astype(np.float32)
    if wtype == quant.TYPE_F32:
        wb, want = w.view(np.uint8), x @ w.T
    elif wtype == quant.TYPE_F16:
        wb, want = w.astype(np.float16).view(np.uint8), x @ w.astype(np.float16).astype(np.float32).T
    else:
        wb = quant.quantize(w, wtype)
        want = np.stack([quant.matmul_q_naive(x[t], wb, wtype) for t in range(T)])  # (T, d)
    ref = np.stack([N.matmul_typed(x[t], wb, wtype, ref=True) for t in range(T)])
    tol = 1e-5 * np.abs(want).max() * 4
    np.testing.assert_allclose(ref, want, rtol=0, atol=tol)
    for isa in [0] + simd_isas():
        for threads in (1, 2, 3):
            one = N.matmul_typed(x[2], wb, wtype, isa=isa, threads=threads)          # (d,)
            batch = N.matmul_typed(x, wb, wtype, isa=isa, threads=threads)          # (T, d)
            np.testing.assert_allclose(one, ref[2], rtol=0, atol=tol)
            np.testing.assert_allclose(batch, ref, rtol=0, atol=tol)


@needs_native
@pytest.mark.parametrize("wtype", [quant.TYPE_Q8_0, quant.TYPE_Q4_0])
def test_repacked_matmul_matches_reference(wtype):
    """The load-time repack (8 rows interleaved, the runtime's layout where the CPU has kernels
    for it) gives the reference's numbers, for one token and for the prompt's 4-token tiles;
    rows past the last multiple of 8 come from the unpacked rows."""
    rng = np.random.default_rng(20 + wtype)
    n, d, T = 384, 203, 19  # 19 tokens: two 8-token tiles and 3 alone
    wb = quant.quantize(rng.standard_normal((d, n)).astype(np.float32), wtype)
    x = rng.standard_normal((T, n)).astype(np.float32)
    ref = np.stack([N.matmul_typed(x[t], wb, wtype, ref=True) for t in range(T)])
    tol = 1e-5 * np.abs(ref).max() * 4
    for isa in [0] + simd_isas():
        N.quant_isa_set(isa)
        rows = N.quant_packed_rows(wtype, n, d)
        assert rows in (0, 200), rows
        for threads in (1, 2, 3):
            one = N.matmul_typed(x[2], wb, wtype, isa=isa, threads=threads, packed=True)
            batch = N.matmul_typed(x, wb, wtype, isa=isa, threads=threads, packed=True)
            np.testing.assert_allclose(one, ref[2], rtol=0, atol=tol)
            np.testing.assert_allclose(batch, ref, rtol=0, atol=tol)
            # one token alone and inside a batch: the same kernel arithmetic, the same bits
            assert np.array_equal(batch[2], one) or rows == 0
    N.quant_isa_set(N.quant_isa_best())


@needs_native
def test_quantized_matmul_close_to_float():
    rng = np.random.default_rng(11)
    w = rng.standard_normal((64, 256)).astype(np.float32) * 0.05
    x = rng.standard_normal(256).astype(np.float32)
    exact = w @ x
    for wtype, tol in ((quant.TYPE_Q8_0, 0.01), (quant.TYPE_Q4_0, 0.12)):
        got = N.matmul_typed(x, quant.quantize(w, wtype), wtype)
        rel = np.linalg.norm(got - exact) / np.linalg.norm(exact)
        assert rel < tol, (quant.TYPE_NAMES[wtype], rel)


@needs_native
def test_thread_defaults_are_sane():
    assert 1 <= N.quant_default_threads() <= 64
    assert N.quant_isa_supported(N.quant_isa_best())


@needs_native
def test_thread_pool_gives_bitwise_identical_results_under_stress():
    """Every row is computed by exactly one thread with the same kernel, so any thread count
    must give the very same bits; 300 back-to-back jobs shake out races in the pool."""
    rng = np.random.default_rng(9)
    n, d = 256, 136                       # 9 chunks of 16 rows: threads share uneven work
    w = quant.quantize_q4_0(rng.standard_normal((d, n)).astype(np.float32))
    xs = rng.standard_normal((300, n)).astype(np.float32)
    want = [N.matmul_typed(x, w, quant.TYPE_Q4_0, threads=1) for x in xs[:20]]
    before = N.quant_get_threads()
    try:
        N.quant_set_threads(3)
        for i, x in enumerate(xs):
            got = N.matmul_typed(x, w, quant.TYPE_Q4_0)
            if i < 20:
                assert np.array_equal(got, want[i]), i
        batch = N.matmul_typed(xs[:20], w, quant.TYPE_Q4_0)
        assert np.array_equal(batch, N.matmul_typed(xs[:20], w, quant.TYPE_Q4_0, threads=1))
    finally:
        N.quant_set_threads(before)
