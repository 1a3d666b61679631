"""Each C kernel (robolm._native) equals its NumPy twin (robolm.kernels)."""
import numpy as np
import pytest

from robolm import kernels

from robolm import _native as native  # built by `make setup`; a missing build is a failure, not a skip

rng = np.random.default_rng(0)


def close(a, b, tol=1e-5):
    diff = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
    print(f"max |C - NumPy| = {diff:.2e}")
    return diff <= tol * max(1.0, float(np.max(np.abs(b))))


@pytest.mark.parametrize("n", [1, 7, 64, 384])
def test_rmsnorm(n):
    x, w = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    assert close(native.rmsnorm(x, w, 1e-5), kernels.rmsnorm(x, w, 1e-5))


@pytest.mark.parametrize("pos", [0, 1, 17, 511])
def test_rope(pos):
    x = rng.standard_normal((6, 64)).astype(np.float32)
    assert close(native.rope(x, pos, 10000.0), kernels.rope(x, pos, 10000.0))


def test_rope_is_identity_at_zero_and_keeps_norms():
    x = rng.standard_normal((4, 32)).astype(np.float32)
    np.testing.assert_allclose(native.rope(x, 0), x, atol=0)
    y = native.rope(x, 123)
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-5)


@pytest.mark.parametrize("n,d", [(1, 1), (5, 3), (384, 1024), (1024, 383)])
def test_matmul_and_naive(n, d):
    x, w = rng.standard_normal(n).astype(np.float32), rng.standard_normal((d, n)).astype(np.float32)
    ref = kernels.matmul(x, w)
    assert close(native.matmul_naive(x, w), ref, 1e-4)
    assert close(native.matmul(x, w), ref, 1e-4)


def test_softmax():
    x = (rng.standard_normal(8192) * 10).astype(np.float32)
    y = native.softmax(x)
    assert close(y, kernels.softmax(x))
    assert abs(float(y.sum()) - 1.0) < 1e-5


def test_swiglu():
    g, u = rng.standard_normal(1024).astype(np.float32), rng.standard_normal(1024).astype(np.float32)
    assert close(native.swiglu(g, u), kernels.swiglu(g, u))
    assert close(native.swiglu_ref(g, u), kernels.swiglu(g, u))
    g = (rng.standard_normal(1024) * 30).astype(np.float32)   # far into both tails of exp
    assert close(native.swiglu(g, u), native.swiglu_ref(g, u))


def test_bad_shapes_raise_python_errors():
    with pytest.raises(ValueError, match="matmul"):
        native.matmul(np.zeros(3, np.float32), np.zeros((2, 4), np.float32))
