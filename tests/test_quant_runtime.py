"""Quantized files end to end: greedy tokens of a Q8_0 (and Q4_0) file agree between the NumPy
reference and the C runtime, and llama.cpp runs the same Q8_0/Q4_0 files to the same tokens."""
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from robolm import numpy_model, quant  # noqa: E402
from robolm.numpy_model import NumpyModel  # noqa: E402
from test_gguf import robolm_run_path, tiny  # noqa: E402,F401

PROMPT = [2, 4, 100, 120, 5, 30, 6, 200, 7, 8, 50, 60]
N_NEW = 24


def run_ids(path, n=N_NEW):
    exe = robolm_run_path()
    if exe is None:
        pytest.skip("robolm_run is not built (pip install -e .)")
    r = subprocess.run([exe, str(path), "--tokens", ",".join(map(str, PROMPT)), "-n", str(n), "--ids",
                        "--threads", "1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [int(x) for x in r.stdout.split()]


def q8_activations_matmul(x, w):
    """numpy_model.matmul with x rounded through Q8_0 first, as the C runtime (and llama.cpp) do."""
    xq = quant.dequantize_q8_0(quant.quantize_q8_0(np.asarray(x, np.float32)))
    return (w @ xq).astype(np.float32)


@pytest.mark.parametrize("wtype", ["q8_0", "q4_0"])
def test_numpy_and_c_greedy_tokens_agree(tiny, wtype, monkeypatch):
    model, args, tok, files = tiny
    ours = run_ids(files[wtype])
    assert len(ours) >= 5
    plain = list(NumpyModel(files[wtype]).generate(PROMPT, N_NEW, stop_ids=[]))
    monkeypatch.setattr(numpy_model, "matmul", q8_activations_matmul)
    emulated = list(NumpyModel(files[wtype]).generate(PROMPT, N_NEW, stop_ids=[]))
    print(wtype, "C:", ours, "\nNumPy:", plain, "\nNumPy with Q8_0 activations:", emulated)
    # the C runtime stops at the file's stop tokens; compare what it produced. With the same
    # Q8_0 activations the two agree token for token; with float activations this fixture's
    # random weights meet a near-tie after ~18 tokens (Q8_0), so only the start must agree there.
    assert emulated[:len(ours)] == ours
    assert plain[:12] == ours[:12]


@pytest.mark.parametrize("wtype", ["q8_0", "q4_0"])
def test_llamacpp_runs_quantized_exports_to_the_same_tokens(tiny, wtype, tmp_path):
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    model, args, tok, files = tiny
    llm = llama_cpp.Llama(str(files[wtype]), n_ctx=args.max_seq_len, n_threads=1, logits_all=True,
                          verbose=False, type_k=0, type_v=0)         # F32 KV cache
    llm.reset()
    llm.eval(PROMPT)
    theirs_logits = np.array(llm.scores[:len(PROMPT)])                # (T, V)
    exe = robolm_run_path()
    if exe is None:
        pytest.skip("robolm_run is not built (pip install -e .)")
    out = tmp_path / "logits.bin"
    r = subprocess.run([exe, str(files[wtype]), "--tokens", ",".join(map(str, PROMPT)), "--logits", str(out)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    ours_logits = np.fromfile(out, dtype=np.float32).reshape(len(PROMPT), -1)  # (T, V)
    ref = NumpyModel(files[wtype]).forward_all(PROMPT)                # (T, V) float activations
    scale = np.abs(ref).max()
    rel_c = np.abs(theirs_logits - ours_logits).max() / scale
    rel_np = np.abs(theirs_logits - ref).max() / scale
    print(wtype, "max |llama.cpp - robolm_run| / max|logit| =", rel_c, "| llama.cpp - numpy:", rel_np)
    assert rel_c < 1e-5                      # both quantize activations to Q8_0 the same way
    assert rel_np < 0.05
    llm.reset()
    theirs = []
    for t in llm.generate(PROMPT, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0):
        theirs.append(t)
        if len(theirs) == N_NEW:
            break
    ours = run_ids(files[wtype])
    print(wtype, "llama.cpp:", theirs, "\nrobolm_run:", ours)
    assert theirs[:len(ours)] == ours
