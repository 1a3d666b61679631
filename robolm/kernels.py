"""NumPy twins of the C kernels in csrc/kernels.c: same names, same arguments, same math.

Each function works on one position (a vector), exactly as the C runtime does, so a
student can read the three versions side by side: model.py (PyTorch, a whole batch),
this file (NumPy, one vector) and csrc/kernels.c (C, one vector).
"""
import numpy as np


def rmsnorm(x, weight, eps=1e-5):
    """torch: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight.  x, weight: (n,)"""
    ms = np.mean(x.astype(np.float64) ** 2)                      # scalar
    return (x * np.float32(1.0 / np.sqrt(ms + eps)) * weight).astype(np.float32)  # (n,)


def rope(x, pos, theta=10000.0):
    """Rotate adjacent pairs (x[2i], x[2i+1]) of each head by pos * theta^(-2i/head_dim).  x: (n_heads, head_dim)"""
    n_heads, head_dim = x.shape
    i = np.arange(head_dim // 2)
    angle = pos * np.power(float(theta), -2.0 * i / head_dim)    # (head_dim/2,)
    c, s = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    x0, x1 = x[:, 0::2], x[:, 1::2]                              # (n_heads, head_dim/2) each
    out = np.empty_like(x, dtype=np.float32)                     # (n_heads, head_dim)
    out[:, 0::2] = x0 * c - x1 * s
    out[:, 1::2] = x0 * s + x1 * c
    return out


def matmul(x, w):
    """torch: F.linear(x, w).  x: (n,), w: (d, n) -> (d,)"""
    return (w @ x).astype(np.float32)


matmul_naive = matmul  # NumPy has one matmul; the C file keeps a naive reference beside its fast one


def softmax(x):
    """torch: torch.softmax(x, dim=-1).  x: (n,)"""
    e = np.exp(x - np.max(x))
    return (e / e.sum()).astype(np.float32)


def swiglu(gate, up):
    """torch: F.silu(gate) * up.  gate, up: (n,)"""
    return (gate / (1.0 + np.exp(-gate)) * up).astype(np.float32)
