"""GPTQ writes standard Q4_0 blocks and beats round-to-nearest on the output it protects."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from robolm import gptq, quant  # noqa: E402
from robolm.model import ModelArgs, Transformer  # noqa: E402


def correlated_inputs(gen, N, n, mix):
    return torch.randn(N, n, generator=gen) @ mix + 0.1 * torch.randn(N, n, generator=gen)  # (N, n)


def test_gptq_matrix_beats_round_to_nearest_on_held_out_inputs(one_torch_thread):
    gen = torch.Generator().manual_seed(0)
    n, d, N = 256, 96, 1024
    mix = torch.randn(n, n, generator=gen) / n ** 0.5                  # (n, n) correlates the inputs
    X = correlated_inputs(gen, N, n, mix)                              # (N, n) calibration
    W = torch.randn(d, n, generator=gen) * 0.05                        # (d, n)
    H = 2 * X.double().T @ X.double() / N                              # (n, n)
    blocks, deq = gptq.gptq_q4_0(W, H)
    assert blocks.dtype == np.uint8 and blocks.shape == (d, n // 32 * 18)
    # the bytes are plain Q4_0: our dequantizer and gguf-py's agree with what GPTQ used
    assert np.array_equal(quant.dequantize_q4_0(blocks), deq.numpy())
    gq = pytest.importorskip("gguf.quants")
    from gguf import GGMLQuantizationType as GT
    assert np.array_equal(gq.dequantize(blocks, GT.Q4_0), deq.numpy())

    rtn = torch.from_numpy(quant.dequantize_q4_0(quant.quantize_q4_0(W.numpy())))
    Xt = correlated_inputs(gen, N, n, mix)                             # held out
    err = lambda Q: (torch.linalg.norm(Xt @ (W - Q).T) / torch.linalg.norm(Xt @ W.T)).item()  # noqa: E731
    e_gptq, e_rtn = err(deq), err(rtn)
    print(f"relative output error: GPTQ {e_gptq:.4f}, round-to-nearest {e_rtn:.4f}")
    assert e_gptq < 0.85 * e_rtn


def test_gptq_refuses_rows_that_do_not_block():
    with pytest.raises(ValueError, match="multiple of 32"):
        gptq.gptq_q4_0(torch.zeros(4, 40), torch.eye(40))


def pattern_batch(gen, B, T, V):
    """Token sequences with structure (arithmetic progressions mod V), so a model can learn them."""
    start = torch.randint(0, V, (B, 1), generator=gen)
    step = torch.randint(1, 5, (B, 1), generator=gen)
    return (start + step * torch.arange(T + 1)) % V                    # (B, T+1)


@pytest.fixture
def one_torch_thread():
    """Small tensors: one thread is fastest, and far faster on a shared, loaded machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_gptq_model_beats_round_to_nearest_on_a_trained_model(one_torch_thread):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    V, T = 128, 32
    model = Transformer(ModelArgs(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=128,
                                  vocab_size=V, max_seq_len=T))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):                                                # a few seconds: just enough structure
        batch = pattern_batch(gen, 16, T, V)
        _, loss = model(batch[:, :-1], batch[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    calib = pattern_batch(gen, 16, T, V)[:, :-1]                       # (16, T)
    held = pattern_batch(gen, 16, T, V)                                # (16, T+1)
    blocks, gmodel = gptq.gptq_model(model, calib)
    assert len(blocks) == 2 * 7 + 1                                    # 7 matrices a layer + the tied head
    for name, b in blocks.items():
        w = dict(model.named_parameters())[name].detach()
        assert b.shape == (w.shape[0], w.shape[1] // 32 * 18)
    rmodel = gptq.rtn_model(model, quant.TYPE_Q4_0)
    e_gptq = gptq.output_error(model, gmodel, held[:, :-1])
    e_rtn = gptq.output_error(model, rmodel, held[:, :-1])
    p = {k: gptq.perplexity(m, held) for k, m in (("f32", model), ("rtn", rmodel), ("gptq", gmodel))}
    print(f"logit error GPTQ {e_gptq:.4f} vs RTN {e_rtn:.4f}; perplexity {p}")
    assert e_gptq < e_rtn
    assert p["gptq"] <= p["rtn"] * 1.001


def test_gptq_file_loads_and_matches(tmp_path, one_torch_thread):
    """The GPTQ file is a Q4_0 GGUF whose matrices dequantize to exactly GPTQ's weights,
    and gguf-py (llama.cpp's reader) reads it."""
    pytest.importorskip("export_gguf")
    rgguf = pytest.importorskip("robolm.gguf")
    tg = pytest.importorskip("test_gguf")
    try:
        tok = tg.make_tokenizer()
    except Exception:          # the tokenizer is someone else's work in progress; GPTQ only needs a vocab
        tok = tg.ByteTokenizer()
    V = len(tok.gguf_vocab()["tokens"]) if hasattr(tok, "gguf_vocab") else tok.vocab_size
    model, args = tg.make_model(V, dim=64, n_layers=1, hidden_dim=128, max_seq_len=32)
    ckpt = {"model": model.state_dict(), "model_args": tg.asdict(args)}
    blocks, gmodel = gptq.gptq_model(model, torch.randint(0, V, (4, 32)))
    path = str(tmp_path / "g.gguf")
    gptq.write_gguf(model, ckpt, blocks, path, tok)
    f = rgguf.GGUFFile(path)
    got = np.asarray(f.tensor("blk.0.ffn_down.weight"))
    assert np.array_equal(got, gmodel.layers[0].feed_forward.w2.weight.detach().numpy())
    assert np.array_equal(np.asarray(f.tensor("token_embd.weight")), gmodel.tok_embeddings.weight.detach().numpy())
    gg = pytest.importorskip("gguf")
    r = gg.GGUFReader(path)
    types = {t.name: t.tensor_type.name for t in r.tensors}
    assert types["blk.0.attn_q.weight"] == "Q4_0" and types["blk.0.attn_norm.weight"] == "F32"
    # llama.cpp runs the GPTQ file and agrees with robolm_run on it
    llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    exe = tg.robolm_run_path()
    if exe is None:
        pytest.skip("robolm_run is not built")
    import subprocess
    prompt = [5, 17, 42, 99, 7, 3]
    llm = llama_cpp.Llama(path, n_ctx=32, n_threads=1, logits_all=True, verbose=False, type_k=0, type_v=0)
    llm.eval(prompt)
    theirs = np.array(llm.scores[:len(prompt)])                        # (T, V)
    r = subprocess.run([exe, path, "--tokens", ",".join(map(str, prompt)), "--logits", str(tmp_path / "l.bin")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    ours = np.fromfile(tmp_path / "l.bin", dtype=np.float32).reshape(len(prompt), -1)
    assert np.abs(theirs - ours).max() <= 1e-5 * np.abs(ours).max()
