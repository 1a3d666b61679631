"""Interop with the real llama.cpp (through llama-cpp-python): it loads an exported RoboLM
GGUF, tokenizes a multilingual prompt to RoboLM's ids, and greedy-decodes the same tokens as
robolm_run (F32, with an F32 KV cache so the logits can be compared tightly too).

Skipped when llama-cpp-python is not installed: `.venv/bin/pip install llama-cpp-python`
builds llama.cpp from source (about 200 s on 2 cores); the benchmark installs it."""
import subprocess

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed "
                                "(pip install llama-cpp-python builds llama.cpp, ~200 s)")
torch = pytest.importorskip("torch")

from test_gguf import MULTILINGUAL, robolm_run_path, tiny  # noqa: E402,F401

PROMPT = [2, 4, 100, 120, 5, 30, 6, 200, 7, 8, 50, 60]
GGML_TYPE_F32 = 0


@pytest.fixture(scope="module")
def llm(tiny):
    model, args, tok, files = tiny
    return llama_cpp.Llama(str(files["f32"]), n_ctx=args.max_seq_len, n_threads=1, logits_all=True,
                           verbose=False, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)


def test_llamacpp_tokenizes_like_robolm(tiny, llm):
    model, args, tok, files = tiny
    for text in [MULTILINGUAL, "from machine import Pin\nwhile True:\n        pass", "  [CODE] 12.5°C ¿qué?"]:
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == tok.encode(text), text
        ids = tok.encode(text)
        assert llm.detokenize(ids).decode("utf-8") == text


def test_llamacpp_logits_and_greedy_equal_robolm(tiny, llm):
    model, args, tok, files = tiny
    llm.reset()
    llm.eval(PROMPT)
    got = np.array(llm.scores[:len(PROMPT)])                         # (T, V)
    with torch.no_grad():
        ref = model(torch.tensor([PROMPT]))[0][0].numpy()            # (T, V)
    print("max |llama.cpp - torch| =", np.abs(got - ref).max())
    assert np.abs(got - ref).max() < 1e-4

    llm.reset()
    theirs = []
    for t in llm.generate(PROMPT, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0):
        theirs.append(t)
        if len(theirs) == 24:
            break
    exe = robolm_run_path()
    if exe is None:
        pytest.skip("robolm_run is not built (pip install -e .)")
    r = subprocess.run([exe, str(files["f32"]), "--tokens", ",".join(map(str, PROMPT)), "-n", "24", "--ids"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    ours = [int(x) for x in r.stdout.split()]
    assert len(ours) >= 5 and theirs[:len(ours)] == ours              # ours stops at a stop token


@pytest.mark.parametrize("wtype", ["f16", "q8_0", "q4_0"])
def test_llamacpp_greedy_equals_robolm_run_for_typed_files(tiny, wtype):
    """The same file in both engines: llama.cpp and robolm_run both quantize activations to
    Q8_0 for Q8_0/Q4_0 weights, so greedy decoding agrees there too (checked, not promised)."""
    model, args, tok, files = tiny
    exe = robolm_run_path()
    if exe is None:
        pytest.skip("robolm_run is not built (pip install -e .)")
    llm = llama_cpp.Llama(str(files[wtype]), n_ctx=args.max_seq_len, n_threads=1, verbose=False,
                          type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32)
    theirs = []
    for t in llm.generate(PROMPT, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0):
        theirs.append(t)
        if len(theirs) == 24:
            break
    r = subprocess.run([exe, str(files[wtype]), "--tokens", ",".join(map(str, PROMPT)), "-n", "24", "--ids"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    ours = [int(x) for x in r.stdout.split()]
    assert len(ours) >= 5 and theirs[:len(ours)] == ours
