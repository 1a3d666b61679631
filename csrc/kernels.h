// RoboLM's float kernels. Each one has a NumPy twin of the same name in
// robolm/kernels.py and a PyTorch line in robolm/model.py; the comment above
// each declaration is that line.
#ifndef ROBOLM_KERNELS_H
#define ROBOLM_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// torch: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight
// out (n,), x (n,), weight (n,)
void rmsnorm(float* out, const float* x, const float* weight, int n, float eps);

// torch: apply_rope(x, cos, sin) on one position; x is (n_heads, head_dim),
// rotating adjacent pairs (x[2i], x[2i+1]) by angle pos * theta^(-2i/head_dim)
void rope(float* x, int n_heads, int head_dim, int pos, float theta);

// torch: F.linear(x, w) = x @ w.T ; x (n,), w (d, n) row-major like nn.Linear.weight, out (d,)
void matmul(float* out, const float* x, const float* w, int n, int d);
// the same product, written as plainly as possible: the reference for faster kernels
void matmul_naive(float* out, const float* x, const float* w, int n, int d);

// torch: torch.softmax(x, dim=-1), in place; x (n,)
void softmax(float* x, int n);

// torch: F.silu(gate) * up, into gate; gate (n,), up (n,)
void swiglu(float* gate, const float* up, int n);
// the same written plainly (libm's expf): the reference for the vectorized one
void swiglu_ref(float* gate, const float* up, int n);

#ifdef __cplusplus
}
#endif
#endif
