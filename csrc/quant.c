// ============================================================================
// RoboLM quantized kernels: GGUF's Q8_0 / Q4_0 blocks, their dot products and
// the typed matmul. Read beside robolm/quant.py (the NumPy twin).
//
//   1. fp16 and the blocks (quantize / dequantize, byte-exact with ggml)
//   2. scalar reference dot products
//   3. fast dot products: x86-64 AVX2, AVX-512, AVX-512 VNNI (picked at run time),
//      aarch64 NEON (+ dot-product instructions when built for them)
//   4. kernel choice
//   5. the thread pool
//   6. matmul_typed / matmul_typed_batch
// ============================================================================
#if defined(__GNUC__) && !defined(__clang__)
// ggml's quantizers compute x*id + 8.5f with two roundings; a fused multiply-add
// would change some nibbles. Explicit SIMD intrinsics below are unaffected.
#pragma GCC optimize("fp-contract=off")
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define _GNU_SOURCE
#include "quant.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QUANT_X86 1
#include <immintrin.h>
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
#define QUANT_NEON 1
#include <arm_neon.h>
#endif

#define MINI(a, b) ((a) < (b) ? (a) : (b))

// ============================================================================
// 1. fp16 and the blocks
// ============================================================================
static inline float f32_from_bits(uint32_t w) { float f; memcpy(&f, &w, 4); return f; }
static inline uint32_t f32_to_bits(float f) { uint32_t w; memcpy(&w, &f, 4); return w; }

// numpy: np.float16 bits -> float32. Exact (every fp16 is a float32).
float fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    if (exp == 0x1F) return f32_from_bits(sign | 0x7F800000u | (man << 13));  // inf / nan
    if (exp == 0) {  // zero or subnormal: man * 2^-24
        float v = (float)man * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

// numpy: np.float32(f).astype(np.float16), round to nearest, ties to even.
uint16_t fp32_to_fp16(float f) {
    uint32_t x = f32_to_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) return sign | 0x7C00 | (ax > 0x7F800000u ? 0x200 : 0);  // inf / nan
    if (ax >= 0x477FF000u) return sign | 0x7C00;  // rounds to >= 65520: overflow to inf
    if (ax < 0x38800000u) {  // below 2^-14: subnormal fp16 (or zero)
        // value / 2^-24, rounded to nearest even, is the mantissa
        float v = f32_from_bits(ax) * 16777216.0f;  // exact (power of two scale)
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1))) m++;
        return sign | (uint16_t)m;
    }
    uint32_t e = (ax >> 23) - 112;          // fp16 exponent, 1..30
    uint32_t man = ax & 0x7FFFFF;
    uint32_t h = (e << 10) | (man >> 13);
    uint32_t rest = man & 0x1FFF;           // the 13 bits dropped
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;  // may carry into the exponent: fine
    return sign | (uint16_t)h;
}

size_t quant_row_bytes(int type, int n) {
    if (n <= 0) return 0;
    switch (type) {
        case QTYPE_F32: return (size_t)n * 4;
        case QTYPE_F16: return (size_t)n * 2;
        case QTYPE_Q8_0: return n % QK8_0 ? 0 : (size_t)(n / QK8_0) * sizeof(block_q8_0);
        case QTYPE_Q4_0: return n % QK4_0 ? 0 : (size_t)(n / QK4_0) * sizeof(block_q4_0);
        default: return 0;
    }
}

const char* quant_type_name(int type) {
    switch (type) {
        case QTYPE_F32: return "F32";
        case QTYPE_F16: return "F16";
        case QTYPE_Q8_0: return "Q8_0";
        case QTYPE_Q4_0: return "Q4_0";
        default: return "unknown";
    }
}

// numpy: quantize_q8_0: d = max|x| / 127, qs = round(x / d) (halves away from zero)
void quantize_row_q8_0(block_q8_0* y, const float* x, int n) {
    for (int b = 0; b < n / QK8_0; b++) {
        const float* xb = x + (size_t)b * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) y[b].qs[j] = (int8_t)roundf(xb[j] * id);
    }
}

// numpy: dequantize_q8_0: x = qs * d
void dequantize_row_q8_0(float* y, const block_q8_0* x, int n) {
    for (int b = 0; b < n / QK8_0; b++) {
        const float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK8_0; j++) y[(size_t)b * QK8_0 + j] = x[b].qs[j] * d;
    }
}

// numpy: quantize_q4_0: d = m / -8 (m the signed value of largest |x|),
// q = min(15, trunc(x / d + 8.5)); low nibble element j, high nibble element j+16
void quantize_row_q4_0(block_q4_0* y, const float* x, int n) {
    for (int b = 0; b < n / QK4_0; b++) {
        const float* xb = x + (size_t)b * QK4_0;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            if (amax < fabsf(xb[j])) { amax = fabsf(xb[j]); max = xb[j]; }
        }
        const float d = max / -8.0f;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const float x0 = xb[j] * id;
            const float x1 = xb[QK4_0 / 2 + j] * id;
            const uint8_t q0 = (uint8_t)MINI(15, (int8_t)(x0 + 8.5f));
            const uint8_t q1 = (uint8_t)MINI(15, (int8_t)(x1 + 8.5f));
            y[b].qs[j] = q0 | (uint8_t)(q1 << 4);
        }
    }
}

// numpy: dequantize_q4_0: x[j] = (lo - 8) * d, x[j+16] = (hi - 8) * d
void dequantize_row_q4_0(float* y, const block_q4_0* x, int n) {
    for (int b = 0; b < n / QK4_0; b++) {
        const float d = fp16_to_fp32(x[b].d);
        float* yb = y + (size_t)b * QK4_0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            yb[j] = ((x[b].qs[j] & 0x0F) - 8) * d;
            yb[j + QK4_0 / 2] = ((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_row(float* y, const void* row, int type, int n) {
    switch (type) {
        case QTYPE_F32: memcpy(y, row, (size_t)n * sizeof(float)); break;
        case QTYPE_F16: {
            const uint16_t* h = (const uint16_t*)row;
            for (int j = 0; j < n; j++) y[j] = fp16_to_fp32(h[j]);
            break;
        }
        case QTYPE_Q8_0: dequantize_row_q8_0(y, (const block_q8_0*)row, n); break;
        case QTYPE_Q4_0: dequantize_row_q4_0(y, (const block_q4_0*)row, n); break;
        default: memset(y, 0, (size_t)n * sizeof(float));
    }
}

// ============================================================================
// 2. scalar reference dot products
// ============================================================================
float vec_dot_f32_ref(int n, const float* w, const float* x) {
    float acc = 0.0f;
    for (int j = 0; j < n; j++) acc += w[j] * x[j];
    return acc;
}

float vec_dot_f16_ref(int n, const uint16_t* w, const float* x) {
    float acc = 0.0f;
    for (int j = 0; j < n; j++) acc += fp16_to_fp32(w[j]) * x[j];
    return acc;
}

// sum over blocks of (integer dot of the quants) * d_w * d_x
float vec_dot_q8_0_ref(int n, const block_q8_0* w, const block_q8_0* x) {
    float acc = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        int32_t sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += (int32_t)w[b].qs[j] * x[b].qs[j];
        acc += (float)sumi * (fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
    }
    return acc;
}

float vec_dot_q4_0_ref(int n, const block_q4_0* w, const block_q8_0* x) {
    float acc = 0.0f;
    for (int b = 0; b < n / QK4_0; b++) {
        int32_t sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((w[b].qs[j] & 0x0F) - 8) * (int32_t)x[b].qs[j];
            sumi += ((w[b].qs[j] >> 4) - 8) * (int32_t)x[b].qs[j + QK4_0 / 2];
        }
        acc += (float)sumi * (fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
    }
    return acc;
}

// The load-time repack's layout (see quant_repack and "8 interleaved rows"): block b of 8 rows
typedef struct { uint16_t d[8]; uint8_t qs[2][8][8]; } block_q4_0x8;  // 144 bytes = 8 x 18
typedef struct { uint16_t d[8]; uint8_t qs[4][8][8]; } block_q8_0x8;  // 272 bytes = 8 x 34

// ============================================================================
// 3a. x86-64: AVX2 + FMA + F16C
// ============================================================================
#ifdef QUANT_X86
#define T_AVX2 __attribute__((target("avx2,fma,f16c")))
#define T_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")))
#define T_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

T_AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 32 signed bytes x 32 signed bytes -> 8 int32 partial sums, as floats.
// maddubs wants unsigned * signed: use |w| and x carrying w's sign.
T_AVX2 static inline __m256 dot32_i8_avx2(__m256i w, __m256i x) {
    __m256i aw = _mm256_sign_epi8(w, w);
    __m256i sx = _mm256_sign_epi8(x, w);
    __m256i p16 = _mm256_maddubs_epi16(aw, sx);                 // 16 x int16 (no overflow: |w| <= 128, |x| <= 127)
    __m256i p32 = _mm256_madd_epi16(p16, _mm256_set1_epi16(1)); // 8 x int32
    return _mm256_cvtepi32_ps(p32);
}

// 16 bytes of nibbles -> 32 bytes in [0, 15]: low nibbles first (elements 0..15)
T_AVX2 static inline __m256i nibbles_avx2(const uint8_t* qs) {
    __m128i q = _mm_loadu_si128((const __m128i*)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

T_AVX2 static float dot_f32_avx2(int n, const float* w, const float* x) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + j), _mm256_loadu_ps(x + j), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + j + 8), _mm256_loadu_ps(x + j + 8), a1);
    }
    float acc = hsum256(_mm256_add_ps(a0, a1));
    for (; j < n; j++) acc += w[j] * x[j];
    return acc;
}

T_AVX2 static float dot_f16_avx2(int n, const uint16_t* w, const float* x) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w + j)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w + j + 8)));
        a0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j), a0);
        a1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + j + 8), a1);
    }
    float acc = hsum256(_mm256_add_ps(a0, a1));
    for (; j < n; j++) acc += _cvtsh_ss(w[j]) * x[j];
    return acc;
}

T_AVX2 static float dot_q8_0_avx2(int n, const block_q8_0* w, const block_q8_0* x) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < n / QK8_0; b++) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
        __m256 p = dot32_i8_avx2(_mm256_loadu_si256((const __m256i*)w[b].qs),
                                 _mm256_loadu_si256((const __m256i*)x[b].qs));
        acc = _mm256_fmadd_ps(d, p, acc);
    }
    return hsum256(acc);
}

T_AVX2 static float dot_q4_0_avx2(int n, const block_q4_0* w, const block_q8_0* x) {
    __m256 acc = _mm256_setzero_ps();
    const __m256i eight = _mm256_set1_epi8(8);
    for (int b = 0; b < n / QK4_0; b++) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
        __m256i q = _mm256_sub_epi8(nibbles_avx2(w[b].qs), eight);  // [-8, 7]
        __m256 p = dot32_i8_avx2(q, _mm256_loadu_si256((const __m256i*)x[b].qs));
        acc = _mm256_fmadd_ps(d, p, acc);
    }
    return hsum256(acc);
}

// roundf on 8 floats exactly: r = floor(|v|), +1 when |v| - r >= 0.5, sign back
T_AVX2 static inline __m256i roundf_epi32_avx2(__m256 v) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 a = _mm256_andnot_ps(sign_mask, v);
    __m256 r = _mm256_round_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_cmp_ps(_mm256_sub_ps(a, r), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    r = _mm256_add_ps(r, _mm256_and_ps(up, _mm256_set1_ps(1.0f)));
    r = _mm256_or_ps(r, _mm256_and_ps(sign_mask, v));
    return _mm256_cvtps_epi32(r);
}

T_AVX2 static void quantize_q8_0_avx2(block_q8_0* y, const float* x, int n) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    for (int b = 0; b < n / QK8_0; b++) {
        const float* xb = x + (size_t)b * QK8_0;
        __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
        __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, abs_mask), _mm256_and_ps(v1, abs_mask)),
                                 _mm256_max_ps(_mm256_and_ps(v2, abs_mask), _mm256_and_ps(v3, abs_mask)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f;
        const float id = d ? 1.0f / d : 0.0f;
        y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);  // F16C: IEEE round to nearest even, as fp32_to_fp16
        const __m256 vid = _mm256_set1_ps(id);
        __m256i i0 = roundf_epi32_avx2(_mm256_mul_ps(v0, vid));
        __m256i i1 = roundf_epi32_avx2(_mm256_mul_ps(v1, vid));
        __m256i i2 = roundf_epi32_avx2(_mm256_mul_ps(v2, vid));
        __m256i i3 = roundf_epi32_avx2(_mm256_mul_ps(v3, vid));
        // pack int32 -> int16 -> int8; packs work per 128-bit lane, so fix the order after
        __m256i p01 = _mm256_packs_epi32(i0, i1);
        __m256i p23 = _mm256_packs_epi32(i2, i3);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i*)y[b].qs, p);
    }
}

// ============================================================================
// 3b. x86-64: AVX-512 (two blocks per step), with or without VNNI
// ============================================================================
T_AVX512 static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

// 64 signed bytes x 64 signed bytes -> 16 int32 sums (4 bytes each)
T_AVX512 static inline __m512i dot64_i8_avx512(__m512i w, __m512i x) {
    __m512i aw = _mm512_abs_epi8(w);
    __m512i sx = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
    __m512i p16 = _mm512_maddubs_epi16(aw, sx);
    return _mm512_madd_epi16(p16, _mm512_set1_epi16(1));
}
T_VNNI static inline __m512i dot64_i8_vnni(__m512i w, __m512i x) {
    __m512i aw = _mm512_abs_epi8(w);
    __m512i sx = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), aw, sx);
}
// one block with 256-bit VNNI (the odd block at the end)
T_VNNI static inline __m256 dot32_i8_vnni(__m256i w, __m256i x) {
    __m256i aw = _mm256_sign_epi8(w, w);
    __m256i sx = _mm256_sign_epi8(x, w);
    return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx));
}

T_AVX512 static inline __m512i load2x32(const int8_t* a, const int8_t* b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)a)),
                              _mm256_loadu_si256((const __m256i*)b), 1);
}
// nibbles of two Q4_0 blocks -> 64 bytes in [-8, 7]: [b0 lo | b0 hi | b1 lo | b1 hi]
T_AVX512 static inline __m512i nibbles2_avx512(const uint8_t* q0, const uint8_t* q1) {
    __m512i z = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)q0))),
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)q1)), 1);
    // shift 128-bit lanes 1 and 3 right by 4 (16-bit element shifts, then mask)
    const __m512i shifts = _mm512_set_epi64(4 * 0x0001000100010001LL, 4 * 0x0001000100010001LL, 0, 0,
                                            4 * 0x0001000100010001LL, 4 * 0x0001000100010001LL, 0, 0);
    z = _mm512_and_si512(_mm512_srlv_epi16(z, shifts), _mm512_set1_epi8(0x0F));
    return _mm512_sub_epi8(z, _mm512_set1_epi8(8));
}
// scales of two blocks as 16 floats: d0 in the low 8 lanes, d1 in the high 8
T_AVX512 static inline __m512 scales2(float d0, float d1) {
    return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(d0), _mm512_set1_ps(d1));
}

// 4 running sums: an FMA's latency is 4 cycles, so 4 independent chains keep the unit busy
T_AVX512 static float dot_f32_avx512(int n, const float* w, const float* x) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 64 <= n; j += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + j), _mm512_loadu_ps(x + j), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + j + 16), _mm512_loadu_ps(x + j + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + j + 32), _mm512_loadu_ps(x + j + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + j + 48), _mm512_loadu_ps(x + j + 48), a3);
    }
    for (; j < n; j += 16) {  // masked tail, up to 63 more
        const __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + j), _mm512_maskz_loadu_ps(m, x + j), a0);
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

T_AVX512 static float dot_f16_avx512(int n, const uint16_t* w, const float* x) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 64 <= n; j += 64) {
        a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(w + j))), _mm512_loadu_ps(x + j), a0);
        a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(w + j + 16))),
                             _mm512_loadu_ps(x + j + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(w + j + 32))),
                             _mm512_loadu_ps(x + j + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(w + j + 48))),
                             _mm512_loadu_ps(x + j + 48), a3);
    }
    for (; j < n; j += 16) {  // masked tail
        const __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + j)), _mm512_maskz_loadu_ps(m, x + j), a0);
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// The Q8_0 / Q4_0 kernels for AVX-512 and VNNI differ only in the 64-byte integer dot.
#define DEFINE_DOT_Q_AVX512(SUFFIX, TARGET, DOT64, DOT32)                                        \
    TARGET static float dot_q8_0_##SUFFIX(int n, const block_q8_0* w, const block_q8_0* x) {   \
        __m512 acc = _mm512_setzero_ps();                                                      \
        int nb = n / QK8_0, b = 0;                                                             \
        for (; b + 2 <= nb; b += 2) {                                                          \
            __m512 d = scales2(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d),                          \
                               _cvtsh_ss(w[b + 1].d) * _cvtsh_ss(x[b + 1].d));                 \
            __m512i p = DOT64(load2x32(w[b].qs, w[b + 1].qs), load2x32(x[b].qs, x[b + 1].qs)); \
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);                              \
        }                                                                                      \
        float sum = hsum512(acc);                                                              \
        if (b < nb) {                                                                          \
            __m256 p = DOT32(_mm256_loadu_si256((const __m256i*)w[b].qs),                      \
                             _mm256_loadu_si256((const __m256i*)x[b].qs));                     \
            sum += hsum256(p) * (_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));                       \
        }                                                                                      \
        return sum;                                                                            \
    }                                                                                          \
    TARGET static float dot_q4_0_##SUFFIX(int n, const block_q4_0* w, const block_q8_0* x) {   \
        __m512 acc = _mm512_setzero_ps();                                                      \
        int nb = n / QK4_0, b = 0;                                                             \
        for (; b + 2 <= nb; b += 2) {                                                          \
            __m512 d = scales2(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d),                          \
                               _cvtsh_ss(w[b + 1].d) * _cvtsh_ss(x[b + 1].d));                 \
            __m512i p = DOT64(nibbles2_avx512(w[b].qs, w[b + 1].qs),                           \
                              load2x32(x[b].qs, x[b + 1].qs));                                 \
            acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc);                              \
        }                                                                                      \
        float sum = hsum512(acc);                                                              \
        if (b < nb) {                                                                          \
            __m256i q = _mm256_sub_epi8(nibbles_avx2(w[b].qs), _mm256_set1_epi8(8));           \
            __m256 p = DOT32(q, _mm256_loadu_si256((const __m256i*)x[b].qs));                  \
            sum += hsum256(p) * (_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));                       \
        }                                                                                      \
        return sum;                                                                            \
    }

DEFINE_DOT_Q_AVX512(avx512, T_AVX512, dot64_i8_avx512, dot32_i8_avx2)
DEFINE_DOT_Q_AVX512(vnni, T_VNNI, dot64_i8_vnni, dot32_i8_vnni)

// ---------------------------------------------------------------- 4 rows at a time
// The matmul's inner loop: up to 4 weight rows against one quantized activation row, so
// each activation block is loaded once for 4 rows. xd[b] is the activation block's scale as
// float, xcorr[b] = -2 * the sum of its 32 quants (Q4_0 stores q + 8: dot(q, x) = dot(nibble, x) - 8 sum x,
// so each 4-lane integer accumulator starts at -2 sum x).
// out[r] = sum_b d_w[r,b] * xd[b] * dot(w[r,b], x[b])   for r < nr
#define Q4_ROWS_BODY(DOT32)                                                              \
    const block_q4_0* w0 = (const block_q4_0*)w;                                         \
    const block_q4_0* w1 = (const block_q4_0*)(w + (nr > 1 ? 1 : 0) * row_bytes);        \
    const block_q4_0* w2 = (const block_q4_0*)(w + (nr > 2 ? 2 : 0) * row_bytes);        \
    const block_q4_0* w3 = (const block_q4_0*)(w + (nr > 3 ? 3 : 0) * row_bytes);        \
    /* a01: lanes 0-3 row 0, lanes 4-7 row 1; a23 the same for rows 2 and 3 */           \
    __m256 a01 = _mm256_setzero_ps(), a23 = _mm256_setzero_ps();                         \
    const __m256i m4 = _mm256_set1_epi8(0x0F);                                           \
    const __m256i lo_rows = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);                   \
    const __m256i hi_rows = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);                   \
    for (int b = 0; b < nb; b++) {                                                       \
        const __m256i xl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)x[b].qs));        \
        const __m256i xh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)(x[b].qs + 16)));  \
        const __m256i init = _mm256_set1_epi32(xcorr[b]);                            \
        /* the 4 rows' scales times the activation's, in one conversion */               \
        const __m128 sc4 = _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi16((short)w0[b].d, (short)w1[b].d,        \
                                          (short)w2[b].d, (short)w3[b].d, 0, 0, 0, 0)), _mm_set1_ps(xd[b])); \
        const __m256 sc = _mm256_castps128_ps256(sc4);                                   \
        __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)w0[b].qs)), \
                                            _mm_loadu_si128((const __m128i*)w1[b].qs), 1);                  \
        __m256i s = DOT32(init, _mm256_and_si256(q, m4), xl);                            \
        s = DOT32(s, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), xh);                 \
        a01 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_permutevar8x32_ps(sc, lo_rows), a01);        \
        q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)w2[b].qs)),     \
                                    _mm_loadu_si128((const __m128i*)w3[b].qs), 1);                          \
        s = DOT32(init, _mm256_and_si256(q, m4), xl);                                    \
        s = DOT32(s, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), xh);                 \
        a23 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_permutevar8x32_ps(sc, hi_rows), a23);        \
    }                                                                                    \
    /* row r = sum of its 4 lanes */                                                     \
    __m128 r01 = _mm_hadd_ps(_mm256_castps256_ps128(a01), _mm256_extractf128_ps(a01, 1)); \
    __m128 r23 = _mm_hadd_ps(_mm256_castps256_ps128(a23), _mm256_extractf128_ps(a23, 1)); \
    __m128 tot = _mm_hadd_ps(r01, r23); /* (row0, row1, row2, row3) */                 \
    float t4[4];                                                                         \
    _mm_storeu_ps(t4, tot);                                                              \
    for (int r = 0; r < nr; r++) out[r] = t4[r];

#define Q8_ROWS_BODY(DOT32)                                                              \
    const block_q8_0* w0 = (const block_q8_0*)w;                                         \
    const block_q8_0* w1 = (const block_q8_0*)(w + (nr > 1 ? 1 : 0) * row_bytes);        \
    const block_q8_0* w2 = (const block_q8_0*)(w + (nr > 2 ? 2 : 0) * row_bytes);        \
    const block_q8_0* w3 = (const block_q8_0*)(w + (nr > 3 ? 3 : 0) * row_bytes);        \
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps(); \
    for (int b = 0; b < nb; b++) {                                                       \
        const __m256i xv = _mm256_loadu_si256((const __m256i*)x[b].qs);                  \
        const float dx = xd[b];                                                          \
        _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {                            \
            const block_q8_0* wr = r == 0 ? w0 : r == 1 ? w1 : r == 2 ? w2 : w3;         \
            const __m256i q = _mm256_loadu_si256((const __m256i*)wr[b].qs);              \
            const __m256 v = _mm256_mul_ps(DOT32(q, xv), _mm256_set1_ps(_cvtsh_ss(wr[b].d) * dx)); \
            if (r == 0) a0 = _mm256_add_ps(a0, v);                                       \
            else if (r == 1) a1 = _mm256_add_ps(a1, v);                                  \
            else if (r == 2) a2 = _mm256_add_ps(a2, v);                                  \
            else a3 = _mm256_add_ps(a3, v);                                              \
        }                                                                                \
    }                                                                                    \
    float t8[4] = {hsum256(a0), hsum256(a1), hsum256(a2), hsum256(a3)};                  \
    for (int r = 0; r < nr; r++) out[r] = t8[r];

// 32 unsigned bytes x 32 signed bytes, added to 8 int32 sums (4 bytes each)
T_AVX2 static inline __m256i dot32_u8i8_avx2(__m256i acc, __m256i u, __m256i s) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
T_VNNI static inline __m256i dot32_u8i8_vnni(__m256i acc, __m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(acc, u, s);
}

// Q8_0 with AVX-512: rows in pairs, one 64-byte register holding a block of each
#define Q8_ROWS_BODY_512(DOT64)                                                          \
    const block_q8_0* w0 = (const block_q8_0*)w;                                         \
    const block_q8_0* w1 = (const block_q8_0*)(w + (nr > 1 ? 1 : 0) * row_bytes);        \
    const block_q8_0* w2 = (const block_q8_0*)(w + (nr > 2 ? 2 : 0) * row_bytes);        \
    const block_q8_0* w3 = (const block_q8_0*)(w + (nr > 3 ? 3 : 0) * row_bytes);        \
    __m512 a01 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps();                         \
    const __m512i lo_rows = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1); \
    const __m512i hi_rows = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3); \
    for (int b = 0; b < nb; b++) {                                                       \
        const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)x[b].qs)); \
        const __m128 sc4 = _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi16((short)w0[b].d, (short)w1[b].d,        \
                                          (short)w2[b].d, (short)w3[b].d, 0, 0, 0, 0)), _mm_set1_ps(xd[b])); \
        const __m512 sc = _mm512_castps128_ps512(sc4);                                   \
        __m512i p = DOT64(load2x32(w0[b].qs, w1[b].qs), xv);                             \
        a01 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(lo_rows, sc), a01); \
        p = DOT64(load2x32(w2[b].qs, w3[b].qs), xv);                                     \
        a23 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_permutexvar_ps(hi_rows, sc), a23); \
    }                                                                                    \
    float t4[4] = {hsum256(_mm512_castps512_ps256(a01)), hsum256(_mm512_extractf32x8_ps(a01, 1)), \
                   hsum256(_mm512_castps512_ps256(a23)), hsum256(_mm512_extractf32x8_ps(a23, 1))}; \
    for (int r = 0; r < nr; r++) out[r] = t4[r];

// 8 rows at a time (generation, Q8_0 with AVX-512): 4 pairs of rows, the 8 scales converted once
#define Q8_ROWS8_BODY_512(DOT64)                                                                 \
    const block_q8_0* wr[8];                                                                     \
    for (int r = 0; r < 8; r++) wr[r] = (const block_q8_0*)(w + r * row_bytes);                  \
    __m512 acc[4];                                                                               \
    for (int p = 0; p < 4; p++) acc[p] = _mm512_setzero_ps();                                    \
    const __m512i idx[4] = {                                                                     \
        _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),                       \
        _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3),                       \
        _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5),                       \
        _mm512_setr_epi32(6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7)};                      \
    for (int b = 0; b < nb; b++) {                                                               \
        const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)x[b].qs));  \
        const __m512 sc = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtph_ps(_mm_setr_epi16(    \
            (short)wr[0][b].d, (short)wr[1][b].d, (short)wr[2][b].d, (short)wr[3][b].d,          \
            (short)wr[4][b].d, (short)wr[5][b].d, (short)wr[6][b].d, (short)wr[7][b].d)),        \
            _mm256_set1_ps(xd[b])));                                                             \
        _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++) {                                    \
            __m512i d = DOT64(load2x32(wr[2 * p][b].qs, wr[2 * p + 1][b].qs), xv);               \
            acc[p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_permutexvar_ps(idx[p], sc), acc[p]); \
        }                                                                                        \
    }                                                                                            \
    _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++) {                                        \
        out[2 * p] = hsum256(_mm512_castps512_ps256(acc[p]));                                    \
        out[2 * p + 1] = hsum256(_mm512_extractf32x8_ps(acc[p], 1));                             \
    }

T_AVX512 static void rows8_q8_0_avx512(float* out, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                       const float* xd, const int32_t* xcorr, int nb) {
    Q8_ROWS8_BODY_512(dot64_i8_avx512)
}
T_VNNI static void rows8_q8_0_vnni(float* out, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                   const float* xd, const int32_t* xcorr, int nb) {
    Q8_ROWS8_BODY_512(dot64_i8_vnni)
}

T_AVX512 static void rows_q8_0_avx512(float* out, int nr, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                      const float* xd, const int32_t* xcorr, int nb) {
    Q8_ROWS_BODY_512(dot64_i8_avx512)
}
T_VNNI static void rows_q8_0_vnni512(float* out, int nr, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                     const float* xd, const int32_t* xcorr, int nb) {
    Q8_ROWS_BODY_512(dot64_i8_vnni)
}

// ---------------------------------------------------------------- 4 rows x 4 tokens (prompt)
// The batched matmul's tile: 4 weight rows against 4 activation rows (tokens). Each weight
// block is unpacked and its scale converted once for the 4 tokens.
// out[t * ldo + r] = sum_b d_w[r,b] * xd[t,b] * dot(w[r,b], x[t,b])   r < nr, t < nt
#define Q4_TILE_BODY(DOT32)                                                              \
    const block_q4_0* w0 = (const block_q4_0*)w;                                         \
    const block_q4_0* w1 = (const block_q4_0*)(w + (nr > 1 ? 1 : 0) * row_bytes);        \
    const block_q4_0* w2 = (const block_q4_0*)(w + (nr > 2 ? 2 : 0) * row_bytes);        \
    const block_q4_0* w3 = (const block_q4_0*)(w + (nr > 3 ? 3 : 0) * row_bytes);        \
    size_t xo[4];                                                                        \
    for (int t = 0; t < 4; t++) xo[t] = (size_t)(t < nt ? t : nt - 1) * ldx;             \
    __m256 acc[4][2];                                                                    \
    for (int t = 0; t < 4; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps();             \
    const __m256i m4 = _mm256_set1_epi8(0x0F);                                           \
    const __m256i lo_rows = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);                   \
    const __m256i hi_rows = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);                   \
    for (int b = 0; b < nb; b++) {                                                       \
        __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)w0[b].qs)), \
                                            _mm_loadu_si128((const __m128i*)w1[b].qs), 1);                  \
        const __m256i l01 = _mm256_and_si256(q, m4), h01 = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);  \
        q = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)w2[b].qs)),     \
                                    _mm_loadu_si128((const __m128i*)w3[b].qs), 1);                          \
        const __m256i l23 = _mm256_and_si256(q, m4), h23 = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);  \
        const __m128 wd = _mm_cvtph_ps(_mm_setr_epi16((short)w0[b].d, (short)w1[b].d,  \
                                                      (short)w2[b].d, (short)w3[b].d, 0, 0, 0, 0)); \
        _Pragma("GCC unroll 4") for (int t = 0; t < 4; t++) {                            \
            const block_q8_0* xb = x + xo[t] + b;                                        \
            const __m256i xl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)xb->qs));       \
            const __m256i xh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)(xb->qs + 16))); \
            const __m256i init = _mm256_set1_epi32(xcorr[xo[t] + b]);                \
            const __m256 sc = _mm256_castps128_ps256(_mm_mul_ps(wd, _mm_set1_ps(xd[xo[t] + b]))); \
            __m256i s = DOT32(DOT32(init, l01, xl), h01, xh);                            \
            acc[t][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_permutevar8x32_ps(sc, lo_rows), acc[t][0]); \
            s = DOT32(DOT32(init, l23, xl), h23, xh);                                    \
            acc[t][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_permutevar8x32_ps(sc, hi_rows), acc[t][1]); \
        }                                                                                \
    }                                                                                    \
    for (int t = 0; t < nt; t++) {                                                       \
        __m128 r01 = _mm_hadd_ps(_mm256_castps256_ps128(acc[t][0]), _mm256_extractf128_ps(acc[t][0], 1)); \
        __m128 r23 = _mm_hadd_ps(_mm256_castps256_ps128(acc[t][1]), _mm256_extractf128_ps(acc[t][1], 1)); \
        float t4[4];                                                                     \
        _mm_storeu_ps(t4, _mm_hadd_ps(r01, r23));                                        \
        for (int r = 0; r < nr; r++) out[(size_t)t * ldo + r] = t4[r];                   \
    }

#define TILE_ARGS float* out, size_t ldo, int nr, int nt, const uint8_t* w, size_t row_bytes, \
                  const block_q8_0* x, size_t ldx, const float* xd, const int32_t* xcorr, int nb

T_AVX2 static void tile_q4_0_avx2(TILE_ARGS) { Q4_TILE_BODY(dot32_u8i8_avx2) }
T_VNNI static void tile_q4_0_vnni(TILE_ARGS) { Q4_TILE_BODY(dot32_u8i8_vnni) }

// Q8_0, AVX-512 VNNI: a pair of rows per 64-byte register; x takes the sign of w per token
T_VNNI static void tile_q8_0_vnni(TILE_ARGS) {
    const block_q8_0* w0 = (const block_q8_0*)w;
    const block_q8_0* w1 = (const block_q8_0*)(w + (nr > 1 ? 1 : 0) * row_bytes);
    const block_q8_0* w2 = (const block_q8_0*)(w + (nr > 2 ? 2 : 0) * row_bytes);
    const block_q8_0* w3 = (const block_q8_0*)(w + (nr > 3 ? 3 : 0) * row_bytes);
    size_t xo[4];
    for (int t = 0; t < 4; t++) xo[t] = (size_t)(t < nt ? t : nt - 1) * ldx;
    __m512 acc[4][2];
    for (int t = 0; t < 4; t++) acc[t][0] = acc[t][1] = _mm512_setzero_ps();
    const __m512i lo_rows = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i hi_rows = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m512i zero = _mm512_setzero_si512();
    for (int b = 0; b < nb; b++) {
        const __m512i q01 = load2x32(w0[b].qs, w1[b].qs), q23 = load2x32(w2[b].qs, w3[b].qs);
        const __m512i a01 = _mm512_abs_epi8(q01), a23 = _mm512_abs_epi8(q23);
        const __mmask64 n01 = _mm512_movepi8_mask(q01), n23 = _mm512_movepi8_mask(q23);
        const __m128 wd = _mm_cvtph_ps(_mm_setr_epi16((short)w0[b].d, (short)w1[b].d, (short)w2[b].d,
                                                      (short)w3[b].d, 0, 0, 0, 0));
        _Pragma("GCC unroll 4") for (int t = 0; t < 4; t++) {
            const block_q8_0* xb = x + xo[t] + b;
            const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i*)xb->qs));
            const __m512 sc = _mm512_castps128_ps512(_mm_mul_ps(wd, _mm_set1_ps(xd[xo[t] + b])));
            __m512i s = _mm512_dpbusd_epi32(zero, a01, _mm512_mask_sub_epi8(xv, n01, zero, xv));
            acc[t][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(lo_rows, sc), acc[t][0]);
            s = _mm512_dpbusd_epi32(zero, a23, _mm512_mask_sub_epi8(xv, n23, zero, xv));
            acc[t][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_permutexvar_ps(hi_rows, sc), acc[t][1]);
        }
    }
    for (int t = 0; t < nt; t++) {
        float t4[4] = {hsum256(_mm512_castps512_ps256(acc[t][0])), hsum256(_mm512_extractf32x8_ps(acc[t][0], 1)),
                       hsum256(_mm512_castps512_ps256(acc[t][1])), hsum256(_mm512_extractf32x8_ps(acc[t][1], 1))};
        for (int r = 0; r < nr; r++) out[(size_t)t * ldo + r] = t4[r];
    }
}

// ---------------------------------------------------------------- F32 / F16 tiles (AVX-512)
// 4 tokens x up to 4 rows of float weights (the prompt): each weight vector is loaded (and
// for F16 converted) once for the 4 tokens, each activation vector once for the 4 rows; the
// 16 sums stay in registers and are reduced together at the end.
// out[t * ldo + r] = sum_j w[r, j] * x[t, j]
#define LOAD_F32(p, m) _mm512_maskz_loadu_ps((m), (const float*)(p))
#define LOAD_F16(p, m) _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((m), (const uint16_t*)(p)))
// the 4 sums of a, b, c, d (horizontal), as one 128-bit vector
T_AVX512 static inline __m128 hsum4x512(__m512 a, __m512 b, __m512 c, __m512 d) {
    // 128-bit lanes: [a0+a2, a1+a3, b0+b2, b1+b3], then [c.., d..]
    __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    // lanes: [a, b, c, d] (each 4 partial sums)
    __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4E));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0xB1));  // every element of lane k: sum of vector k
    // element 0 of each lane -> (a, b, c, d)
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), t));
}
#define DEFINE_TILE_FLOAT(NAME, ELEM, LOADW)                                                      \
    T_AVX512 static void NAME(float* out, size_t ldo, int nr, int nt, const uint8_t* w,          \
                              size_t row_bytes, const float* x, size_t ldx, int n) {             \
        const ELEM* w0 = (const ELEM*)w;                                                         \
        const ELEM* w1 = (const ELEM*)(w + (size_t)(nr > 1 ? 1 : 0) * row_bytes);                \
        const ELEM* w2 = (const ELEM*)(w + (size_t)(nr > 2 ? 2 : 0) * row_bytes);                \
        const ELEM* w3 = (const ELEM*)(w + (size_t)(nr > 3 ? 3 : 0) * row_bytes);                \
        const float* x0 = x;                                                                     \
        const float* x1 = x + (size_t)(nt > 1 ? 1 : 0) * ldx;                                    \
        const float* x2 = x + (size_t)(nt > 2 ? 2 : 0) * ldx;                                    \
        const float* x3 = x + (size_t)(nt > 3 ? 3 : 0) * ldx;                                    \
        __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, \
               c12 = c00, c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00,      \
               c31 = c00, c32 = c00, c33 = c00;                                                  \
        for (int j = 0; j < n; j += 16) {                                                        \
            const __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);        \
            const __m512 a0 = LOADW(w0 + j, m), a1 = LOADW(w1 + j, m), a2 = LOADW(w2 + j, m),     \
                         a3 = LOADW(w3 + j, m);                                                  \
            __m512 b = LOAD_F32(x0 + j, m);                                                      \
            c00 = _mm512_fmadd_ps(a0, b, c00); c01 = _mm512_fmadd_ps(a1, b, c01);                \
            c02 = _mm512_fmadd_ps(a2, b, c02); c03 = _mm512_fmadd_ps(a3, b, c03);                \
            b = LOAD_F32(x1 + j, m);                                                             \
            c10 = _mm512_fmadd_ps(a0, b, c10); c11 = _mm512_fmadd_ps(a1, b, c11);                \
            c12 = _mm512_fmadd_ps(a2, b, c12); c13 = _mm512_fmadd_ps(a3, b, c13);                \
            b = LOAD_F32(x2 + j, m);                                                             \
            c20 = _mm512_fmadd_ps(a0, b, c20); c21 = _mm512_fmadd_ps(a1, b, c21);                \
            c22 = _mm512_fmadd_ps(a2, b, c22); c23 = _mm512_fmadd_ps(a3, b, c23);                \
            b = LOAD_F32(x3 + j, m);                                                             \
            c30 = _mm512_fmadd_ps(a0, b, c30); c31 = _mm512_fmadd_ps(a1, b, c31);                \
            c32 = _mm512_fmadd_ps(a2, b, c32); c33 = _mm512_fmadd_ps(a3, b, c33);                \
        }                                                                                        \
        float res[4][4];                                                                         \
        _mm_storeu_ps(res[0], hsum4x512(c00, c01, c02, c03));                                    \
        _mm_storeu_ps(res[1], hsum4x512(c10, c11, c12, c13));                                    \
        _mm_storeu_ps(res[2], hsum4x512(c20, c21, c22, c23));                                    \
        _mm_storeu_ps(res[3], hsum4x512(c30, c31, c32, c33));                                    \
        for (int t = 0; t < nt && t < 4; t++)                                                    \
            for (int r = 0; r < nr; r++) out[(size_t)t * ldo + r] = res[t][r];                   \
    }
// fp16 row -> float row (the prompt converts F16 weight rows once for all its tokens)
T_AVX512 static void f16_to_f32_avx512(float* y, const uint16_t* x, int n) {
    for (int j = 0; j < n; j += 16) {
        const __mmask16 m = (__mmask16)(n - j >= 16 ? 0xFFFF : (1u << (n - j)) - 1);
        _mm512_mask_storeu_ps(y + j, m, LOAD_F16(x + j, m));
    }
}
// 8 rows x 32 tokens of float weights against x transposed (the prompt): xT (n, ldt) holds
// token t of x in column t, so one vector load is 16 tokens' x[j] and each weight w[r, j] is a
// broadcast: out (t, r) builds up in the lanes of 16 registers with no horizontal sums, each
// sum taken in plain order over j. nt <= 32 tokens from column t0 (the rest computed, dropped).
// out[t * ldo + r] for t < nt, r < nr; w rows are float (F16 rows are converted before).
T_AVX512 static void tileT_f32_avx512(float* out, size_t ldo, int nr, int nt, const float* w, size_t ldw,
                                      const float* xT, size_t ldt, int n) {
    const float* wr[8];
    for (int r = 0; r < 8; r++) wr[r] = w + (size_t)(r < nr ? r : 0) * ldw;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
    for (int j = 0; j < n; j++) {
        const __m512 x0 = _mm512_loadu_ps(xT + (size_t)j * ldt), x1 = _mm512_loadu_ps(xT + (size_t)j * ldt + 16);
        __m512 v = _mm512_set1_ps(wr[0][j]);
        a0 = _mm512_fmadd_ps(v, x0, a0); b0 = _mm512_fmadd_ps(v, x1, b0);
        v = _mm512_set1_ps(wr[1][j]);
        a1 = _mm512_fmadd_ps(v, x0, a1); b1 = _mm512_fmadd_ps(v, x1, b1);
        v = _mm512_set1_ps(wr[2][j]);
        a2 = _mm512_fmadd_ps(v, x0, a2); b2 = _mm512_fmadd_ps(v, x1, b2);
        v = _mm512_set1_ps(wr[3][j]);
        a3 = _mm512_fmadd_ps(v, x0, a3); b3 = _mm512_fmadd_ps(v, x1, b3);
        v = _mm512_set1_ps(wr[4][j]);
        a4 = _mm512_fmadd_ps(v, x0, a4); b4 = _mm512_fmadd_ps(v, x1, b4);
        v = _mm512_set1_ps(wr[5][j]);
        a5 = _mm512_fmadd_ps(v, x0, a5); b5 = _mm512_fmadd_ps(v, x1, b5);
        v = _mm512_set1_ps(wr[6][j]);
        a6 = _mm512_fmadd_ps(v, x0, a6); b6 = _mm512_fmadd_ps(v, x1, b6);
        v = _mm512_set1_ps(wr[7][j]);
        a7 = _mm512_fmadd_ps(v, x0, a7); b7 = _mm512_fmadd_ps(v, x1, b7);
    }
    float res[8][32];  // (row, token)
    _mm512_storeu_ps(res[0], a0); _mm512_storeu_ps(res[0] + 16, b0);
    _mm512_storeu_ps(res[1], a1); _mm512_storeu_ps(res[1] + 16, b1);
    _mm512_storeu_ps(res[2], a2); _mm512_storeu_ps(res[2] + 16, b2);
    _mm512_storeu_ps(res[3], a3); _mm512_storeu_ps(res[3] + 16, b3);
    _mm512_storeu_ps(res[4], a4); _mm512_storeu_ps(res[4] + 16, b4);
    _mm512_storeu_ps(res[5], a5); _mm512_storeu_ps(res[5] + 16, b5);
    _mm512_storeu_ps(res[6], a6); _mm512_storeu_ps(res[6] + 16, b6);
    _mm512_storeu_ps(res[7], a7); _mm512_storeu_ps(res[7] + 16, b7);
    for (int t = 0; t < nt; t++)
        for (int r = 0; r < nr; r++) out[(size_t)t * ldo + r] = res[r][t];
}

DEFINE_TILE_FLOAT(tile_f32_4_avx512, float, LOAD_F32)
DEFINE_TILE_FLOAT(tile_f16_4_avx512, uint16_t, LOAD_F16)

// 8 rows at a time (generation, Q4_0): the activation block and the 8 weight scales are
// loaded and converted once for 8 rows. out[r] for r < 8.
#define Q4_ROWS8_BODY(DOT32)                                                                     \
    const block_q4_0* wr[8];                                                                     \
    for (int r = 0; r < 8; r++) wr[r] = (const block_q4_0*)(w + r * row_bytes);                  \
    __m256 acc[4];                                                                               \
    for (int p = 0; p < 4; p++) acc[p] = _mm256_setzero_ps();                                    \
    const __m256i m4 = _mm256_set1_epi8(0x0F);                                                   \
    const __m256i idx[4] = {_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3), \
                            _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5), _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7)}; \
    for (int b = 0; b < nb; b++) {                                                               \
        const __m256i xl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)x[b].qs));        \
        const __m256i xh = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i*)(x[b].qs + 16)));  \
        const __m256i init = _mm256_set1_epi32(xcorr[b]);                                        \
        const __m256 sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm_setr_epi16(                          \
            (short)wr[0][b].d, (short)wr[1][b].d, (short)wr[2][b].d, (short)wr[3][b].d,          \
            (short)wr[4][b].d, (short)wr[5][b].d, (short)wr[6][b].d, (short)wr[7][b].d)),        \
            _mm256_set1_ps(xd[b]));                                                              \
        _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++) {                                    \
            __m256i q = _mm256_inserti128_si256(                                                 \
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i*)wr[2 * p][b].qs)),        \
                _mm_loadu_si128((const __m128i*)wr[2 * p + 1][b].qs), 1);                        \
            __m256i s = DOT32(init, _mm256_and_si256(q, m4), xl);                                \
            s = DOT32(s, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4), xh);                     \
            acc[p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_permutevar8x32_ps(sc, idx[p]), acc[p]); \
        }                                                                                        \
    }                                                                                            \
    _Pragma("GCC unroll 4") for (int p = 0; p < 4; p++) {  /* lanes 0-3: row 2p, 4-7: row 2p+1 */ \
        __m128 t = _mm_hadd_ps(_mm256_castps256_ps128(acc[p]), _mm256_extractf128_ps(acc[p], 1)); \
        t = _mm_hadd_ps(t, t);                                                                   \
        out[2 * p] = _mm_cvtss_f32(t);                                                           \
        out[2 * p + 1] = _mm_cvtss_f32(_mm_shuffle_ps(t, t, 1));                                 \
    }

T_AVX2 static void rows8_q4_0_avx2(float* out, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                   const float* xd, const int32_t* xcorr, int nb) {
    Q4_ROWS8_BODY(dot32_u8i8_avx2)
}
T_VNNI static void rows8_q4_0_vnni(float* out, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                   const float* xd, const int32_t* xcorr, int nb) {
    Q4_ROWS8_BODY(dot32_u8i8_vnni)
}

T_AVX2 static void rows_q4_0_avx2(float* out, int nr, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                  const float* xd, const int32_t* xcorr, int nb) {
    Q4_ROWS_BODY(dot32_u8i8_avx2)
}
T_VNNI static void rows_q4_0_vnni(float* out, int nr, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                  const float* xd, const int32_t* xcorr, int nb) {
    Q4_ROWS_BODY(dot32_u8i8_vnni)
}
T_AVX2 static void rows_q8_0_avx2(float* out, int nr, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                                  const float* xd, const int32_t* xcorr, int nb) {
    Q8_ROWS_BODY(dot32_i8_avx2)
}

// ---------------------------------------------------------------- 8 interleaved rows (load-time repack)
// Weights repacked at load (see quant_repack): block b of rows 8g..8g+7 lies together, the 8
// fp16 scales first, then the quants 8 bytes per row at a time: [row 0 bytes 0-7 | row 1 bytes
// 0-7 | ... | row 7 bytes 0-7], [row 0 bytes 8-15 | ...], ... One 64-byte load holds 8 bytes
// of each of the 8 rows; VNNI's 4-byte lanes 2r, 2r+1 belong to row r, and x's matching 8 bytes
// are one broadcast, so a block's 4 products add up in one register of 8 rows.
// Q8_0 quants are stored + 128 (unsigned, as VNNI's first operand wants): sum (q + 128) x =
// sum q x + 128 sum x, so the accumulator starts at -64 sum x in each lane (2 lanes a row).
// Q4_0's nibbles are q + 8: the accumulator starts at -4 sum x a lane.
// NT tokens at once (1 when generating, 8 for the prompt): each weight block is loaded, unpacked
// and its scales converted once for the NT tokens.
// out[t * ldo + r] = sum_b d_w[r,b] * xd[t,b] * dot(w[r,b], x[t,b])   r < 8, t < NT

// rows from lane pairs: row r = lanes 2r + 2r+1 -> 8 floats into out
T_VNNI static inline void store_rows8(float* out, __m512 acc) {
    acc = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0xB1));  // lane 2r: row r
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0);
    _mm256_storeu_ps(out, _mm512_castps512_ps256(_mm512_permutexvar_ps(even, acc)));
}

// the 8 rows' scales, each in its 2 lanes
T_VNNI static inline __m512 scales8(const uint16_t* d) {
    const __m512i pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    return _mm512_permutexvar_ps(pairs, _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)d))));
}

static inline int64_t load8(const int8_t* p) { int64_t v; memcpy(&v, p, 8); return v; }

T_VNNI static inline __attribute__((always_inline)) void q4_0x8_body(
    float* out, size_t ldo, const uint8_t* w, const block_q8_0* x, size_t ldx, const float* xd,
    const int32_t* xcorr, int nb, const int NT) {
    const block_q4_0x8* wb = (const block_q4_0x8*)w;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[8];
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const __m512 ws = scales8(wb[b].d);
        const __m512i q0 = _mm512_loadu_si512(wb[b].qs[0]), q1 = _mm512_loadu_si512(wb[b].qs[1]);
        const __m512i l0 = _mm512_and_si512(q0, m4), h0 = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4);
        const __m512i l1 = _mm512_and_si512(q1, m4), h1 = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4);
        for (int t = 0; t < NT; t++) {
            const block_q8_0* xb = x + t * ldx + b;
            __m512i s = _mm512_set1_epi32(2 * xcorr[t * ldx + b]);   // -4 sum x
            s = _mm512_dpbusd_epi32(s, l0, _mm512_set1_epi64(load8(xb->qs)));        // elements 0-7
            s = _mm512_dpbusd_epi32(s, l1, _mm512_set1_epi64(load8(xb->qs + 8)));    // 8-15
            s = _mm512_dpbusd_epi32(s, h0, _mm512_set1_epi64(load8(xb->qs + 16)));   // 16-23
            s = _mm512_dpbusd_epi32(s, h1, _mm512_set1_epi64(load8(xb->qs + 24)));   // 24-31
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(ws, _mm512_set1_ps(xd[t * ldx + b])), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) store_rows8(out + t * ldo, acc[t]);
}

T_VNNI static inline __attribute__((always_inline)) void q8_0x8_body(
    float* out, size_t ldo, const uint8_t* w, const block_q8_0* x, size_t ldx, const float* xd,
    const int32_t* xcorr, int nb, const int NT) {
    const block_q8_0x8* wb = (const block_q8_0x8*)w;
    __m512 acc[8];
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const __m512 ws = scales8(wb[b].d);
        const __m512i q0 = _mm512_loadu_si512(wb[b].qs[0]), q1 = _mm512_loadu_si512(wb[b].qs[1]);
        const __m512i q2 = _mm512_loadu_si512(wb[b].qs[2]), q3 = _mm512_loadu_si512(wb[b].qs[3]);
        for (int t = 0; t < NT; t++) {
            const block_q8_0* xb = x + t * ldx + b;
            __m512i s = _mm512_set1_epi32(32 * xcorr[t * ldx + b]);  // -64 sum x
            s = _mm512_dpbusd_epi32(s, q0, _mm512_set1_epi64(load8(xb->qs)));
            s = _mm512_dpbusd_epi32(s, q1, _mm512_set1_epi64(load8(xb->qs + 8)));
            s = _mm512_dpbusd_epi32(s, q2, _mm512_set1_epi64(load8(xb->qs + 16)));
            s = _mm512_dpbusd_epi32(s, q3, _mm512_set1_epi64(load8(xb->qs + 24)));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(ws, _mm512_set1_ps(xd[t * ldx + b])), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) store_rows8(out + t * ldo, acc[t]);
}

#define X8_ARGS float* out, size_t ldo, const uint8_t* w, const block_q8_0* x, size_t ldx, const float* xd, \
                const int32_t* xcorr, int nb
T_VNNI static void q4_0x8_1_vnni(X8_ARGS) { q4_0x8_body(out, ldo, w, x, ldx, xd, xcorr, nb, 1); }
T_VNNI static void q4_0x8_8_vnni(X8_ARGS) { q4_0x8_body(out, ldo, w, x, ldx, xd, xcorr, nb, 8); }
T_VNNI static void q8_0x8_1_vnni(X8_ARGS) { q8_0x8_body(out, ldo, w, x, ldx, xd, xcorr, nb, 1); }
T_VNNI static void q8_0x8_8_vnni(X8_ARGS) { q8_0x8_body(out, ldo, w, x, ldx, xd, xcorr, nb, 8); }
#endif  // QUANT_X86

// ============================================================================
// 3c. aarch64: NEON, with the dot-product instructions when built for them
//     (e.g. -march=armv8.2-a+dotprod; every phone core since ~2018 has them)
// ============================================================================
#ifdef QUANT_NEON
// 16 x int8 * 16 x int8 -> 4 x int32, added to acc
static inline int32x4_t dot16_i8_neon(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    int16x8_t hi = vmull_s8(vget_high_s8(a), vget_high_s8(b));
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

static float dot_f32_neon(int n, const float* w, const float* x) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        a0 = vfmaq_f32(a0, vld1q_f32(w + j), vld1q_f32(x + j));
        a1 = vfmaq_f32(a1, vld1q_f32(w + j + 4), vld1q_f32(x + j + 4));
    }
    float acc = vaddvq_f32(vaddq_f32(a0, a1));
    for (; j < n; j++) acc += w[j] * x[j];
    return acc;
}

static float dot_f16_neon(int n, const uint16_t* w, const float* x) {
    float32x4_t a0 = vdupq_n_f32(0), a1 = vdupq_n_f32(0);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        float32x4_t w0 = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w + j)));
        float32x4_t w1 = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w + j + 4)));
        a0 = vfmaq_f32(a0, w0, vld1q_f32(x + j));
        a1 = vfmaq_f32(a1, w1, vld1q_f32(x + j + 4));
    }
    float acc = vaddvq_f32(vaddq_f32(a0, a1));
    for (; j < n; j++) acc += fp16_to_fp32(w[j]) * x[j];
    return acc;
}

static float dot_q8_0_neon(int n, const block_q8_0* w, const block_q8_0* x) {
    float32x4_t acc = vdupq_n_f32(0);
    for (int b = 0; b < n / QK8_0; b++) {
        int32x4_t s = vdupq_n_s32(0);
        s = dot16_i8_neon(s, vld1q_s8(w[b].qs), vld1q_s8(x[b].qs));
        s = dot16_i8_neon(s, vld1q_s8(w[b].qs + 16), vld1q_s8(x[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
    }
    return vaddvq_f32(acc);
}

static float dot_q4_0_neon(int n, const block_q4_0* w, const block_q8_0* x) {
    float32x4_t acc = vdupq_n_f32(0);
    const int8x16_t eight = vdupq_n_s8(8);
    for (int b = 0; b < n / QK4_0; b++) {
        uint8x16_t q = vld1q_u8(w[b].qs);
        int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), eight);  // elements 0..15
        int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);               // elements 16..31
        int32x4_t s = vdupq_n_s32(0);
        s = dot16_i8_neon(s, lo, vld1q_s8(x[b].qs));
        s = dot16_i8_neon(s, hi, vld1q_s8(x[b].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), fp16_to_fp32(w[b].d) * fp16_to_fp32(x[b].d));
    }
    return vaddvq_f32(acc);
}
#endif  // QUANT_NEON

// ============================================================================
// 4. kernel choice
// ============================================================================
typedef struct {
    float (*dot_f32)(int, const float*, const float*);
    float (*dot_f16)(int, const uint16_t*, const float*);
    float (*dot_q8_0)(int, const block_q8_0*, const block_q8_0*);
    float (*dot_q4_0)(int, const block_q4_0*, const block_q8_0*);
    void (*quantize_x)(block_q8_0*, const float*, int);
    // up to 4 rows of Q8_0 / Q4_0 weights against one activation row (see "4 rows at a time")
    void (*rows_q8_0)(float*, int, const uint8_t*, size_t, const block_q8_0*, const float*, const int32_t*, int);
    void (*rows_q4_0)(float*, int, const uint8_t*, size_t, const block_q8_0*, const float*, const int32_t*, int);
    // up to 4 rows x 4 tokens (the prompt's matmul); NULL: use the rows kernel per token
    void (*tile_q8_0)(float*, size_t, int, int, const uint8_t*, size_t, const block_q8_0*, size_t, const float*,
                      const int32_t*, int);
    void (*tile_q4_0)(float*, size_t, int, int, const uint8_t*, size_t, const block_q8_0*, size_t, const float*,
                      const int32_t*, int);
    // exactly 8 rows x 1 token (generation); NULL: the 4-row kernels
    void (*rows8_q8_0)(float*, const uint8_t*, size_t, const block_q8_0*, const float*, const int32_t*, int);
    void (*rows8_q4_0)(float*, const uint8_t*, size_t, const block_q8_0*, const float*, const int32_t*, int);
    // float weights: up to 4 rows x 4 tokens (the prompt); NULL: one dot product per row and token
    void (*tile_f32_4)(float*, size_t, int, int, const uint8_t*, size_t, const float*, size_t, int);
    void (*tile_f16_4)(float*, size_t, int, int, const uint8_t*, size_t, const float*, size_t, int);
    void (*f16_to_f32)(float*, const uint16_t*, int);  // NULL: convert per tile (tile_f16_4)
    // float weights: 8 rows x 32 tokens against x transposed (the prompt); NULL: the 4x4 tiles
    void (*tileT_f32)(float*, size_t, int, int, const float*, size_t, const float*, size_t, int);
    // 8 repacked rows (quant_repack) x 1 or 8 tokens; NULL: this ISA reads the unpacked rows
    void (*x8_q4_0[2])(float*, size_t, const uint8_t*, const block_q8_0*, size_t, const float*, const int32_t*, int);
    void (*x8_q8_0[2])(float*, size_t, const uint8_t*, const block_q8_0*, size_t, const float*, const int32_t*, int);
} kernels_t;

static kernels_t K;            // the kernels in use

// The 4-row kernels of ISAs without a dedicated one: one dot product per row.
static void rows_q8_0_dots(float* out, int nr, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                           const float* xd, const int32_t* xcorr, int nb) {
    for (int r = 0; r < nr; r++) out[r] = K.dot_q8_0(nb * QK8_0, (const block_q8_0*)(w + r * row_bytes), x);
}
static void rows_q4_0_dots(float* out, int nr, const uint8_t* w, size_t row_bytes, const block_q8_0* x,
                           const float* xd, const int32_t* xcorr, int nb) {
    for (int r = 0; r < nr; r++) out[r] = K.dot_q4_0(nb * QK4_0, (const block_q4_0*)(w + r * row_bytes), x);
}
static int K_isa = -1;         // -1: not chosen yet

int quant_isa_supported(int isa) {
    switch (isa) {
        case QUANT_ISA_SCALAR: return 1;
#ifdef QUANT_X86
        case QUANT_ISA_AVX2:
            __builtin_cpu_init();
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case QUANT_ISA_AVX512:
            __builtin_cpu_init();
            return quant_isa_supported(QUANT_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512dq");
        case QUANT_ISA_AVX512_VNNI:
            return quant_isa_supported(QUANT_ISA_AVX512) && __builtin_cpu_supports("avx512vnni");
#endif
#ifdef QUANT_NEON
        case QUANT_ISA_NEON: return 1;
#if defined(__ARM_FEATURE_DOTPROD)
        case QUANT_ISA_NEON_DOT: return 1;  // built for it: the binary needs it anyway
#endif
#endif
        default: return 0;
    }
}

int quant_isa_best(void) {
    for (int isa = QUANT_ISA_NEON_DOT; isa > QUANT_ISA_SCALAR; isa--)
        if (quant_isa_supported(isa)) return isa;
    return QUANT_ISA_SCALAR;
}

const char* quant_isa_name(int isa) {
    switch (isa) {
        case QUANT_ISA_SCALAR: return "scalar";
        case QUANT_ISA_AVX2: return "avx2";
        case QUANT_ISA_AVX512: return "avx512";
        case QUANT_ISA_AVX512_VNNI: return "avx512_vnni";
        case QUANT_ISA_NEON: return "neon";
        case QUANT_ISA_NEON_DOT: return "neon_dotprod";
        default: return "unknown";
    }
}

int quant_isa_set(int isa) {
    if (!quant_isa_supported(isa)) return -1;
    kernels_t k = {vec_dot_f32_ref, vec_dot_f16_ref, vec_dot_q8_0_ref, vec_dot_q4_0_ref, quantize_row_q8_0,
                   rows_q8_0_dots, rows_q4_0_dots, NULL, NULL, NULL, NULL, NULL, NULL,
                   NULL, NULL, {NULL, NULL}, {NULL, NULL}};
    switch (isa) {
#ifdef QUANT_X86
        case QUANT_ISA_AVX2:
            k = (kernels_t){dot_f32_avx2, dot_f16_avx2, dot_q8_0_avx2, dot_q4_0_avx2, quantize_q8_0_avx2,
                            rows_q8_0_avx2, rows_q4_0_avx2, NULL, tile_q4_0_avx2,
                            NULL, rows8_q4_0_avx2, NULL, NULL, NULL, NULL, {NULL, NULL}, {NULL, NULL}};
            break;
        case QUANT_ISA_AVX512:
            k = (kernels_t){dot_f32_avx512, dot_f16_avx512, dot_q8_0_avx512, dot_q4_0_avx512, quantize_q8_0_avx2,
                            rows_q8_0_avx512, rows_q4_0_avx2, NULL, tile_q4_0_avx2,
                            rows8_q8_0_avx512, rows8_q4_0_avx2, tile_f32_4_avx512, tile_f16_4_avx512,
                            f16_to_f32_avx512, tileT_f32_avx512, {NULL, NULL}, {NULL, NULL}};
            break;
        case QUANT_ISA_AVX512_VNNI:
            k = (kernels_t){dot_f32_avx512, dot_f16_avx512, dot_q8_0_vnni, dot_q4_0_vnni, quantize_q8_0_avx2,
                            rows_q8_0_vnni512, rows_q4_0_vnni, tile_q8_0_vnni, tile_q4_0_vnni,
                            rows8_q8_0_vnni, rows8_q4_0_vnni, tile_f32_4_avx512, tile_f16_4_avx512,
                            f16_to_f32_avx512, tileT_f32_avx512, {q4_0x8_1_vnni, q4_0x8_8_vnni}, {q8_0x8_1_vnni, q8_0x8_8_vnni}};
            break;
#endif
#ifdef QUANT_NEON
        case QUANT_ISA_NEON:
        case QUANT_ISA_NEON_DOT:
            k = (kernels_t){dot_f32_neon, dot_f16_neon, dot_q8_0_neon, dot_q4_0_neon, quantize_row_q8_0,
                            rows_q8_0_dots, rows_q4_0_dots, NULL, NULL, NULL, NULL, NULL, NULL,
                            NULL, NULL, {NULL, NULL}, {NULL, NULL}};
            break;
#endif
        default: break;
    }
    K = k;
    K_isa = isa;
    return 0;
}

static inline void ensure_kernels(void) {
    if (K_isa < 0) {
        const char* env = getenv("ROBOLM_ISA");  // e.g. ROBOLM_ISA=avx2 to compare paths
        int isa = quant_isa_best();
        if (env) {
            for (int i = QUANT_ISA_SCALAR; i <= QUANT_ISA_NEON_DOT; i++)
                if (strcmp(env, quant_isa_name(i)) == 0 && quant_isa_supported(i)) isa = i;
        }
        quant_isa_set(isa);
    }
}

int quant_isa_get(void) { ensure_kernels(); return K_isa; }

float vec_dot_f32(int n, const float* w, const float* x) { ensure_kernels(); return K.dot_f32(n, w, x); }
float vec_dot_f16(int n, const uint16_t* w, const float* x) { ensure_kernels(); return K.dot_f16(n, w, x); }
float vec_dot_q8_0(int n, const block_q8_0* w, const block_q8_0* x) { ensure_kernels(); return K.dot_q8_0(n, w, x); }
float vec_dot_q4_0(int n, const block_q4_0* w, const block_q8_0* x) { ensure_kernels(); return K.dot_q4_0(n, w, x); }
void quantize_row_q8_0_fast(block_q8_0* y, const float* x, int n) { ensure_kernels(); K.quantize_x(y, x, n); }

// ============================================================================
// 5. the thread pool: a job is split into chunks that threads claim one at a time from
//    a shared counter, so the calling thread never waits for a worker the OS has not
//    scheduled: it takes the chunks itself. Workers spin briefly for the next job, then sleep.
// ============================================================================
#define POOL_MAX 64
#define POOL_SPIN 20000   // polls before a worker goes to sleep (~0.1-0.5 ms)
#define POOL_CLOSED (1 << 30)

typedef void (*pool_fn)(void* arg, int chunk);

static struct {
    int n_threads;               // including the calling thread; 0 = not started
    pthread_t tid[POOL_MAX];
    atomic_int gen;              // bumped once per job: wakes the workers
    atomic_int next;             // next chunk to claim (>= n_chunks: nothing left)
    atomic_int done;             // chunks finished
    atomic_int stop;
    int n_chunks;
    pool_fn fn;
    void* arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .next = POOL_CLOSED};

static int requested_threads = 0;  // 0: default

static inline void cpu_relax(void) {
#if defined(QUANT_X86)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// Claim and run chunks until none are left. A claim below n_chunks can only succeed
// after the job's fn/arg/n_chunks were published (the caller opens `next` last).
static void pool_work(void) {
    for (;;) {
        int c = atomic_fetch_add(&P.next, 1);
        if (c >= P.n_chunks) return;
        P.fn(P.arg, c);
        atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
    }
}

static void* pool_worker(void* unused) {
    int seen = 0;
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&P.gen, memory_order_acquire) == seen) {
            if (++spins < POOL_SPIN) { cpu_relax(); continue; }
            pthread_mutex_lock(&P.mu);
            while (atomic_load(&P.gen) == seen) pthread_cond_wait(&P.cv, &P.mu);
            pthread_mutex_unlock(&P.mu);
        }
        seen = atomic_load(&P.gen);
        if (atomic_load(&P.stop)) return NULL;
        pool_work();
    }
}

static void pool_stop(void) {
    if (P.n_threads <= 1) { P.n_threads = 0; return; }
    atomic_store(&P.stop, 1);
    pthread_mutex_lock(&P.mu);
    atomic_fetch_add(&P.gen, 1);
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    for (int i = 1; i < P.n_threads; i++) pthread_join(P.tid[i], NULL);
    atomic_store(&P.stop, 0);
    atomic_store(&P.gen, 0);
    P.n_threads = 0;
}

static void pool_start(int n) {
    if (n < 1) n = 1;
    if (n > POOL_MAX) n = POOL_MAX;
    P.n_threads = 1;
    for (int i = 1; i < n; i++) {
        if (pthread_create(&P.tid[i], NULL, pool_worker, NULL) != 0) {
            fprintf(stderr, "robolm quant: could not start thread %d; using %d\n", i, P.n_threads);
            break;
        }
        P.n_threads = i + 1;
    }
}

int quant_default_threads(void) {
    const char* env = getenv("ROBOLM_THREADS");
    if (env && atoi(env) > 0) return MINI(atoi(env), POOL_MAX);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    return (int)MINI(ncpu, 4);
}

void quant_set_threads(int n) {
    if (n <= 0) n = quant_default_threads();
    if (n > POOL_MAX) n = POOL_MAX;
    requested_threads = n;
    if (P.n_threads && P.n_threads != n) pool_stop();
}

int quant_get_threads(void) {
    return requested_threads ? requested_threads : quant_default_threads();
}

// Run fn(arg, c) for every chunk c in 0..n_chunks-1, on this thread and the workers.
static void pool_run(pool_fn fn, void* arg, int n_chunks, int use_threads) {
    int want = quant_get_threads();
    if (!use_threads || want <= 1 || n_chunks <= 1) {
        for (int c = 0; c < n_chunks; c++) fn(arg, c);
        return;
    }
    if (P.n_threads != want) { pool_stop(); pool_start(want); }
    atomic_store(&P.next, POOL_CLOSED);  // no claims while the job is being set up
    P.fn = fn;
    P.arg = arg;
    P.n_chunks = n_chunks;
    atomic_store(&P.done, 0);
    atomic_store(&P.next, 0);            // open: chunks can be claimed from here on
    pthread_mutex_lock(&P.mu);
    atomic_fetch_add_explicit(&P.gen, 1, memory_order_release);
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    pool_work();
    int spins = 0;                       // wait only for chunks a worker has already claimed
    while (atomic_load_explicit(&P.done, memory_order_acquire) < n_chunks) {
        if (++spins < POOL_SPIN) cpu_relax(); else sched_yield();
    }
}

// ============================================================================
// 6. matmul_typed / matmul_typed_batch
// ============================================================================
typedef struct {
    float* out;            // (T, d)
    const float* x;        // (T, n) floats, for F32 / F16 weights
    const float* xT;       // (n, ldt) x transposed (columns past T zero), for the float prompt tiles, or NULL
    size_t ldt;
    const block_q8_0* xq;  // (T, n/32) quantized x, for Q8_0 / Q4_0 weights
    const float* xd;       // (T, n/32) the scales of xq as float
    const int32_t* xcorr;  // (T, n/32) -2 x the sum of each block's quants (for Q4_0's +8)
    const uint8_t* w;      // (d, row_bytes)
    int wtype, n, d, T;
    size_t row_bytes;
    const uint8_t* packed; // rows 0..packed_rows-1 of w repacked 8 at a time (quant_repack), or NULL
    int packed_rows;
} matmul_job;

// up to 8 converted F16 rows, one buffer per thread (grows, never shrinks; freed when the
// thread ends: a pthread key with free as its destructor)
typedef struct {
    int n;
    float rows[];
} f16_rows_t;
static pthread_key_t f16_rows_key;
static pthread_once_t f16_rows_once = PTHREAD_ONCE_INIT;
static void f16_rows_key_init(void) { pthread_key_create(&f16_rows_key, free); }
static float* f16_rows_buffer(int n) {
    pthread_once(&f16_rows_once, f16_rows_key_init);
    f16_rows_t* b = (f16_rows_t*)pthread_getspecific(f16_rows_key);
    if (b && b->n >= n) return b->rows;
    f16_rows_t* nb = (f16_rows_t*)realloc(b, sizeof(f16_rows_t) + (size_t)8 * n * sizeof(float));
    if (!nb) { fprintf(stderr, "robolm matmul_typed: out of memory\n"); abort(); }
    nb->n = n;
    pthread_setspecific(f16_rows_key, nb);
    return nb->rows;
}

// Rows [r0, r1) of w against every row of x, 4 weight rows at a time: the 4 rows stay in
// L1 while all T activation rows pass by (T = 1 when generating, the prompt length when
// processing a prompt).
static void matmul_rows(const matmul_job* j, int r0, int r1) {
    const int n = j->n, d = j->d, T = j->T;
    const int nb = n / QK8_0;
    const int quantized = j->wtype == QTYPE_Q8_0 || j->wtype == QTYPE_Q4_0;
    int r = r0;
    if (j->xT) {                // float weights, the prompt: 8 rows x 32 tokens against x transposed
        for (; r < r1; r += 8) {
            const int nr = MINI(8, r1 - r);
            const uint8_t* wr = j->w + (size_t)r * j->row_bytes;
            const float* wf = (const float*)wr;
            if (j->wtype == QTYPE_F16) {  // converted once for all the tokens
                float* f16_rows = f16_rows_buffer(n);
                for (int i = 0; i < nr; i++)
                    K.f16_to_f32(f16_rows + (size_t)i * n, (const uint16_t*)(wr + (size_t)i * j->row_bytes), n);
                wf = f16_rows;
            }
            const size_t ldw = j->wtype == QTYPE_F16 ? (size_t)n : j->row_bytes / sizeof(float);
            for (int t = 0; t < T; t += 32)
                K.tileT_f32(j->out + (size_t)t * d + r, (size_t)d, nr, MINI(32, T - t), wf, ldw, j->xT + t, j->ldt, n);
        }
        return;
    }
    if (j->packed) {            // repacked rows, 8 at a time (r0 is a multiple of 8)
        void (**x8)(float*, size_t, const uint8_t*, const block_q8_0*, size_t, const float*, const int32_t*, int) =
            j->wtype == QTYPE_Q8_0 ? K.x8_q8_0 : K.x8_q4_0;
        const size_t group_bytes = 8 * j->row_bytes;
        if (x8[0])
            for (; r + 8 <= MINI(r1, j->packed_rows); r += 8) {
                const uint8_t* wg = j->packed + (size_t)(r / 8) * group_bytes;
                int t = 0;
                for (; t + 8 <= T; t += 8)
                    x8[1](j->out + (size_t)t * d + r, (size_t)d, wg, j->xq + (size_t)t * nb, (size_t)nb,
                          j->xd + (size_t)t * nb, j->xcorr + (size_t)t * nb, nb);
                for (; t < T; t++)
                    x8[0](j->out + (size_t)t * d + r, (size_t)d, wg, j->xq + (size_t)t * nb, (size_t)nb,
                          j->xd + (size_t)t * nb, j->xcorr + (size_t)t * nb, nb);
            }
    }
    if (T == 1 && quantized) {  // generating: 8 rows at a time where this CPU has the kernel
        void (*rows8)(float*, const uint8_t*, size_t, const block_q8_0*, const float*, const int32_t*, int) =
            j->wtype == QTYPE_Q8_0 ? K.rows8_q8_0 : K.rows8_q4_0;
        if (rows8)
            for (; r + 8 <= r1; r += 8)
                rows8(j->out + r, j->w + (size_t)r * j->row_bytes, j->row_bytes, j->xq, j->xd, j->xcorr, nb);
    }
    for (; r < r1; r += 4) {
        const int nr = MINI(4, r1 - r);
        const uint8_t* wr = j->w + (size_t)r * j->row_bytes;
        int t = 0;
        if (quantized && T > 1) {  // the prompt: 4 tokens at a time where a tile kernel exists
            void (*tile)(float*, size_t, int, int, const uint8_t*, size_t, const block_q8_0*, size_t, const float*,
                         const int32_t*, int) = j->wtype == QTYPE_Q8_0 ? K.tile_q8_0 : K.tile_q4_0;
            if (tile) {
                for (; t < T; t += 4) {
                    const size_t xo = (size_t)t * nb;
                    tile(j->out + (size_t)t * d + r, (size_t)d, nr, MINI(4, T - t), wr, j->row_bytes, j->xq + xo,
                         (size_t)nb, j->xd + xo, j->xcorr + xo, nb);
                }
            }
        }
        if (!quantized && T >= 4) {  // float weights, a short prompt (4..15 tokens): 4-token tiles
            // (one token at a time stays with the per-row dot: one sequential stream per row
            // is what the prefetchers like best for large float matrices)
            void (*t4)(float*, size_t, int, int, const uint8_t*, size_t, const float*, size_t, int) =
                j->wtype == QTYPE_F32 ? K.tile_f32_4 : K.tile_f16_4;
            if (t4)
                for (; t + 4 <= T; t += 4) t4(j->out + (size_t)t * d + r, (size_t)d, nr, 4, wr, j->row_bytes,
                                              j->x + (size_t)t * n, (size_t)n, n);
        }
        for (; t < T; t++) {
            float* o = j->out + (size_t)t * d + r;
            if (quantized) {
                const size_t xo = (size_t)t * nb;
                if (j->wtype == QTYPE_Q8_0) K.rows_q8_0(o, nr, wr, j->row_bytes, j->xq + xo, j->xd + xo, j->xcorr + xo, nb);
                else K.rows_q4_0(o, nr, wr, j->row_bytes, j->xq + xo, j->xd + xo, j->xcorr + xo, nb);
            } else {
                const float* xt = j->x + (size_t)t * n;
                for (int i = 0; i < nr; i++) {
                    const void* wi = wr + (size_t)i * j->row_bytes;
                    o[i] = j->wtype == QTYPE_F32 ? K.dot_f32(n, (const float*)wi, xt)
                                                 : K.dot_f16(n, (const uint16_t*)wi, xt);
                }
            }
        }
    }
}

#define MATMUL_CHUNK_ROWS 16  // rows per claimed chunk: 4 calls of the 4-row kernels

static void matmul_task(void* arg, int chunk) {
    const matmul_job* j = (const matmul_job*)arg;
    int r0 = chunk * MATMUL_CHUNK_ROWS;
    matmul_rows(j, r0, MINI(r0 + MATMUL_CHUNK_ROWS, j->d));
}

// scratch for quantized activations (grows, never shrinks)
static block_q8_0* xq_buf = NULL;
static float* xd_buf = NULL;
static int32_t* xcorr_buf = NULL;
static size_t xq_cap = 0;
static float* xT_buf = NULL;   // x transposed, for the float prompt tiles
static size_t xT_cap = 0;

static void matmul_check(int wtype, int n, int d, int T) {
    if (quant_row_bytes(wtype, n) == 0 || d <= 0 || T <= 0) {
        fprintf(stderr, "robolm matmul_typed: cannot multiply a %s weight with rows of %d (d %d, T %d): "
                "quantized rows must be a multiple of 32\n", quant_type_name(wtype), n, d, T);
        abort();
    }
}

// ---------------------------------------------------------------- load-time repack
// Q4_0 / Q8_0 rows interleaved 8 at a time for the "8 interleaved rows" kernels: group g
// (rows 8g..8g+7) is nb blocks of {8 fp16 scales, the 8 rows' quants of that block, 8 bytes
// of each row in turn}; Q8_0 quants are stored + 128 (as unsigned bytes). The same bytes as
// the rows, reordered.
int quant_packed_rows(int wtype, int n, int d) {
    ensure_kernels();
    if (quant_row_bytes(wtype, n) == 0 || d < 8) return 0;
    if (wtype == QTYPE_Q4_0 && K.x8_q4_0[0]) return d / 8 * 8;
    if (wtype == QTYPE_Q8_0 && K.x8_q8_0[0]) return d / 8 * 8;
    return 0;
}

void quant_repack(void* dst, const void* w, int wtype, int n, int d) {
    const int nb = n / QK8_0, rows = d / 8 * 8;
    const size_t rb = quant_row_bytes(wtype, n);
    const uint8_t* src = (const uint8_t*)w;
    uint8_t* out = (uint8_t*)dst;
    for (int g = 0; g < rows / 8; g++)
        for (int b = 0; b < nb; b++)
            for (int r = 0; r < 8; r++) {
                const uint8_t* row = src + (size_t)(8 * g + r) * rb;
                if (wtype == QTYPE_Q4_0) {  // 8 bytes of each row at a time
                    block_q4_0x8* blk = (block_q4_0x8*)out + (size_t)g * nb + b;
                    const block_q4_0* wb = (const block_q4_0*)row + b;
                    blk->d[r] = wb->d;
                    for (int k = 0; k < 2; k++) memcpy(blk->qs[k][r], wb->qs + 8 * k, 8);
                } else {                    // the same, quants + 128
                    block_q8_0x8* blk = (block_q8_0x8*)out + (size_t)g * nb + b;
                    const block_q8_0* wb = (const block_q8_0*)row + b;
                    blk->d[r] = wb->d;
                    for (int k = 0; k < 4; k++)
                        for (int i = 0; i < 8; i++) blk->qs[k][r][i] = (uint8_t)wb->qs[8 * k + i] ^ 0x80;
                }
            }
}

// row r of a repacked matrix (quant_repack) to float: y (n,) <- row r (r < the packed rows).
// The same numbers as dequantize_row on the file's row.
void dequantize_row_packed(float* y, const void* packed, int wtype, int n, int r) {
    const int nb = n / QK8_0, g = r / 8, i = r % 8;
    for (int b = 0; b < nb; b++) {
        float* yb = y + (size_t)b * QK8_0;
        if (wtype == QTYPE_Q4_0) {
            const block_q4_0x8* blk = (const block_q4_0x8*)packed + (size_t)g * nb + b;
            const float d = fp16_to_fp32(blk->d[i]);
            for (int k = 0; k < 2; k++)
                for (int j = 0; j < 8; j++) {
                    const uint8_t q = blk->qs[k][i][j];        // byte 8k + j of the row's 16
                    yb[8 * k + j] = ((q & 0x0F) - 8) * d;
                    yb[QK4_0 / 2 + 8 * k + j] = ((q >> 4) - 8) * d;
                }
        } else {
            const block_q8_0x8* blk = (const block_q8_0x8*)packed + (size_t)g * nb + b;
            const float d = fp16_to_fp32(blk->d[i]);
            for (int k = 0; k < 4; k++)
                for (int j = 0; j < 8; j++) yb[8 * k + j] = (int8_t)(blk->qs[k][i][j] ^ 0x80) * d;
        }
    }
}

void matmul_typed_batch(float* out, const float* x, const void* w, int wtype, int n, int d, int T) {
    matmul_typed_batch_packed(out, x, w, NULL, wtype, n, d, T);
}

void matmul_typed_batch_packed(float* out, const float* x, const void* w, const void* packed, int wtype, int n,
                               int d, int T) {
    const quant_matmul mm = {out, w, packed, wtype, d};
    matmul_typed_multi(&mm, 1, x, n, T);
}

// several matrices on the same x: one pool job over all their rows
typedef struct {
    matmul_job jobs[MATMUL_MULTI_MAX];
    int first_chunk[MATMUL_MULTI_MAX + 1];
    int count;
} matmul_multi_job;

static void matmul_multi_task(void* arg, int chunk) {
    const matmul_multi_job* mj = (const matmul_multi_job*)arg;
    int i = 0;
    while (chunk >= mj->first_chunk[i + 1]) i++;
    const matmul_job* j = &mj->jobs[i];
    int r0 = (chunk - mj->first_chunk[i]) * MATMUL_CHUNK_ROWS;
    matmul_rows(j, r0, MINI(r0 + MATMUL_CHUNK_ROWS, j->d));
}

// xT (n, ldt) = x (T, n) transposed, columns T..ldt-1 zero; 8 x 8 blocks in registers
#ifdef QUANT_X86
T_AVX2 static void transpose_8x8_avx2(float* dst, size_t ldd, const float* src, size_t lds) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds),
           r3 = _mm256_loadu_ps(src + 3 * lds), r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds),
           r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

static void transpose_x(float* xT, size_t ldt, const float* x, int n, int T) {
    int t0 = 0;
#ifdef QUANT_X86
    if (quant_isa_supported(QUANT_ISA_AVX2))
        for (; t0 + 8 <= T; t0 += 8) {
            int k = 0;
            for (; k + 8 <= n; k += 8) transpose_8x8_avx2(xT + (size_t)k * ldt + t0, ldt, x + (size_t)t0 * n + k, (size_t)n);
            for (; k < n; k++)
                for (int t = t0; t < t0 + 8; t++) xT[(size_t)k * ldt + t] = x[(size_t)t * n + k];
        }
#endif
    for (int k = 0; k < n; k++) {
        float* col = xT + (size_t)k * ldt;
        for (int t = t0; t < T; t++) col[t] = x[(size_t)t * n + k];
        for (size_t t = (size_t)T; t < ldt; t++) col[t] = 0.0f;
    }
}

void matmul_typed_multi(const quant_matmul* mm, int count, const float* x, int n, int T) {
    ensure_kernels();
    if (count < 1 || count > MATMUL_MULTI_MAX) {
        fprintf(stderr, "robolm matmul_typed_multi: %d matrices (1..%d)\n", count, MATMUL_MULTI_MAX);
        abort();
    }
    matmul_multi_job mj;
    mj.count = count;
    mj.first_chunk[0] = 0;
    int any_quantized = 0, any_float_prompt = 0;
    double macs = 0.0;
    for (int i = 0; i < count; i++) {
        const int wtype = mm[i].wtype, d = mm[i].d;
        matmul_check(wtype, n, d, T);
        matmul_job j = {mm[i].out, x, NULL, 0, NULL, NULL, NULL, (const uint8_t*)mm[i].w, wtype, n, d, T,
                        quant_row_bytes(wtype, n), NULL, 0};
        if (mm[i].packed && (j.packed_rows = quant_packed_rows(wtype, n, d)) > 0) j.packed = (const uint8_t*)mm[i].packed;
        any_quantized |= wtype == QTYPE_Q8_0 || wtype == QTYPE_Q4_0;
        any_float_prompt |= (wtype == QTYPE_F32 || wtype == QTYPE_F16) && T >= 16;
        mj.jobs[i] = j;
        mj.first_chunk[i + 1] = mj.first_chunk[i] + (d + MATMUL_CHUNK_ROWS - 1) / MATMUL_CHUNK_ROWS;
        macs += (double)n * d * T;
    }
    if (any_quantized) {  // x quantized to Q8_0 once for all the matrices
        const int nb = n / QK8_0;
        size_t need = (size_t)T * nb;
        if (need > xq_cap) {
            block_q8_0* a = (block_q8_0*)realloc(xq_buf, need * sizeof(block_q8_0));
            if (a) xq_buf = a;
            float* b = (float*)realloc(xd_buf, need * sizeof(float));
            if (b) xd_buf = b;
            int32_t* c = (int32_t*)realloc(xcorr_buf, need * sizeof(int32_t));
            if (c) xcorr_buf = c;
            if (!a || !b || !c) { fprintf(stderr, "robolm matmul_typed: out of memory\n"); abort(); }
            xq_cap = need;
        }
        for (int t = 0; t < T; t++) K.quantize_x(xq_buf + (size_t)t * nb, x + (size_t)t * n, n);
        for (size_t b = 0; b < need; b++) {
            xd_buf[b] = fp16_to_fp32(xq_buf[b].d);
            int32_t sum = 0;
            for (int k = 0; k < QK8_0; k++) sum += xq_buf[b].qs[k];
            xcorr_buf[b] = -2 * sum;
        }
        for (int i = 0; i < count; i++) {
            mj.jobs[i].xq = xq_buf;
            mj.jobs[i].xd = xd_buf;
            mj.jobs[i].xcorr = xcorr_buf;
        }
    }
    if (any_float_prompt && K.tileT_f32 && K.f16_to_f32) {  // x transposed once for the float tiles
        const size_t ldt = (size_t)(T + 31) / 32 * 32;      // whole tiles of 32 tokens
        if ((size_t)n * ldt > xT_cap) {
            float* a = (float*)realloc(xT_buf, (size_t)n * ldt * sizeof(float));
            if (!a) { fprintf(stderr, "robolm matmul_typed: out of memory\n"); abort(); }
            xT_buf = a;
            xT_cap = (size_t)n * ldt;
        }
        transpose_x(xT_buf, ldt, x, n, T);
        for (int i = 0; i < count; i++)
            if (mj.jobs[i].wtype == QTYPE_F32 || mj.jobs[i].wtype == QTYPE_F16) {
                mj.jobs[i].xT = xT_buf;
                mj.jobs[i].ldt = ldt;
            }
    }
    // threads only pay off beyond a few tens of thousands of multiply-adds
    int big = macs >= 32768.0 && mj.first_chunk[count] > 1;
    if (count == 1) pool_run(matmul_task, &mj.jobs[0], mj.first_chunk[1], big);
    else pool_run(matmul_multi_task, &mj, mj.first_chunk[count], big);
}

void matmul_typed(float* out, const float* x, const void* w, int wtype, int n, int d) {
    matmul_typed_batch(out, x, w, wtype, n, d, 1);
}

void matmul_typed_ref(float* out, const float* x, const void* w, int wtype, int n, int d) {
    matmul_check(wtype, n, d, 1);
    const size_t rb = quant_row_bytes(wtype, n);
    const uint8_t* wb = (const uint8_t*)w;
    block_q8_0* xq = NULL;
    if (wtype == QTYPE_Q8_0 || wtype == QTYPE_Q4_0) {
        xq = (block_q8_0*)malloc((size_t)(n / QK8_0) * sizeof(block_q8_0));
        if (!xq) { fprintf(stderr, "robolm matmul_typed_ref: out of memory\n"); abort(); }
        quantize_row_q8_0(xq, x, n);
    }
    for (int r = 0; r < d; r++) {
        const void* wr = wb + (size_t)r * rb;
        switch (wtype) {
            case QTYPE_F32: out[r] = vec_dot_f32_ref(n, (const float*)wr, x); break;
            case QTYPE_F16: out[r] = vec_dot_f16_ref(n, (const uint16_t*)wr, x); break;
            case QTYPE_Q8_0: out[r] = vec_dot_q8_0_ref(n, (const block_q8_0*)wr, xq); break;
            default: out[r] = vec_dot_q4_0_ref(n, (const block_q4_0*)wr, xq); break;
        }
    }
    free(xq);
}
