// ============================================================================
// RoboLM float kernels: the arithmetic of one transformer step, one vector at
// a time. Read beside robolm/model.py (PyTorch) and robolm/kernels.py (NumPy).
// ============================================================================
#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

// ---------------------------------------------------------------- RMSNorm
// torch: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight
void rmsnorm(float* out, const float* x, const float* weight, int n, float eps) {
    double ss = 0.0;  // sum of squares, in double so long rows do not lose bits
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * weight[i];
}

// ---------------------------------------------------------------- RoPE
// torch: apply_rope(x, cos, sin), pairs (x[2i], x[2i+1]) as llama.cpp's `llama` arch
void rope(float* x, int n_heads, int head_dim, int pos, float theta) {
    for (int i = 0; i < head_dim / 2; i++) {
        double freq = pow((double)theta, -2.0 * i / head_dim);
        double angle = pos * freq;
        float c = (float)cos(angle), s = (float)sin(angle);
        for (int h = 0; h < n_heads; h++) {
            float* v = x + (size_t)h * head_dim + 2 * i;
            float v0 = v[0], v1 = v[1];
            v[0] = v0 * c - v1 * s;
            v[1] = v0 * s + v1 * c;
        }
    }
}

// ---------------------------------------------------------------- matmul
// torch: F.linear(x, w) -> out[d] = sum_j w[d, j] * x[j]
void matmul_naive(float* out, const float* x, const float* w, int n, int d) {
    for (int i = 0; i < d; i++) {
        float acc = 0.0f;
        for (int j = 0; j < n; j++) acc += w[(size_t)i * n + j] * x[j];
        out[i] = acc;
    }
}

// Same sum, four rows at a time with independent accumulators so the compiler
// can vectorise along j and keep x in registers across rows.
void matmul(float* out, const float* x, const float* w, int n, int d) {
    int i = 0;
    for (; i + 4 <= d; i += 4) {
        const float* w0 = w + (size_t)i * n;
        const float* w1 = w0 + n;
        const float* w2 = w1 + n;
        const float* w3 = w2 + n;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (int j = 0; j < n; j++) {
            float xj = x[j];
            a0 += w0[j] * xj;
            a1 += w1[j] * xj;
            a2 += w2[j] * xj;
            a3 += w3[j] * xj;
        }
        out[i] = a0; out[i + 1] = a1; out[i + 2] = a2; out[i + 3] = a3;
    }
    for (; i < d; i++) {
        const float* wi = w + (size_t)i * n;
        float acc = 0.0f;
        for (int j = 0; j < n; j++) acc += wi[j] * x[j];
        out[i] = acc;
    }
}

// ---------------------------------------------------------------- exp
// e^x for the loops below, written so the compiler vectorizes them (libm's expf is one
// call per element): Cephes' expf, x = n ln2 + r with |r| <= ln2/2, e^r by a degree-7
// polynomial, 2^n put into the exponent bits. Within 2 ulp of expf; 0 below -87.3.
static inline float exp_approx(float x) {
    const float xc = x > 88.0f ? 88.0f : (x < -87.3f ? -87.3f : x);
    const float magic = 12582912.0f;                  // 1.5 * 2^23: adding it rounds to an integer
    const float fn = (xc * 1.44269504088896341f + magic) - magic;   // round(x / ln2)
    const float r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f; // x - n ln2, in two steps
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * (r * r) + r + 1.0f;           // e^r
    const int32_t bits = ((int32_t)fn + 127) << 23;   // 2^n, n in [-126, 127]
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.3f ? 0.0f : y * scale;
}

// ---------------------------------------------------------------- softmax
// torch: torch.softmax(x, dim=-1)
// The max and the sum are kept as 16 partial results (one vector register), so both
// loops vectorize; the 16 partial sums are added in double.
void softmax(float* x, int n) {
    float m16[16];
    for (int k = 0; k < 16; k++) m16[k] = x[0];
    int i = 0;
    for (; i + 16 <= n; i += 16)
#pragma GCC unroll 1  /* keep it one 16-wide loop, which vectorizes whole */
        for (int k = 0; k < 16; k++) m16[k] = x[i + k] > m16[k] ? x[i + k] : m16[k];
    float max = x[0];
    for (int k = 0; k < 16; k++) if (m16[k] > max) max = m16[k];
    for (; i < n; i++) if (x[i] > max) max = x[i];
    float s16[16] = {0};
    for (i = 0; i + 16 <= n; i += 16)
#pragma GCC unroll 1
        for (int k = 0; k < 16; k++) {
            x[i + k] = exp_approx(x[i + k] - max);
            s16[k] += x[i + k];
        }
    double sum = 0.0;
    for (; i < n; i++) { x[i] = exp_approx(x[i] - max); sum += x[i]; }
    for (int k = 0; k < 16; k++) sum += s16[k];
    float inv = (float)(1.0 / sum);
    for (i = 0; i < n; i++) x[i] *= inv;
}

// ---------------------------------------------------------------- SwiGLU
// torch: F.silu(self.w1(x)) * self.w3(x)
// (exp_approx instead of expf so the loop vectorizes; swiglu_ref below is the plain one)
void swiglu(float* gate, const float* up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + exp_approx(-g)) * up[i];
    }
}

// the same with libm's expf: the reference (tested equal within 1e-5)
void swiglu_ref(float* gate, const float* up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}
