// ============================================================================
// RoboLM float kernels: the arithmetic of one transformer step, one vector at
// a time. Read beside robolm/model.py (PyTorch) and robolm/kernels.py (NumPy).
// ============================================================================
#include "kernels.h"

#include <math.h>

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

// ---------------------------------------------------------------- softmax
// torch: torch.softmax(x, dim=-1)
void softmax(float* x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++) if (x[i] > max) max = x[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

// ---------------------------------------------------------------- SwiGLU
// torch: F.silu(self.w1(x)) * self.w3(x)
void swiglu(float* gate, const float* up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}
