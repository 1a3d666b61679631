"""Property tests for robolm/model.py: causality, RoPE, RMSNorm, GQA, tying, KV cache, overfitting."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from robolm import kernels
from robolm.model import (ModelArgs, Transformer, RMSNorm, apply_rope, apply_rope_real, rope_tables,
                          count_params, load_checkpoint, sample_next)

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)     # tiny models: a second thread only waits on a busy shared machine


def tiny_args(**kw):
    base = dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=96, vocab_size=97, max_seq_len=48)
    base.update(kw)
    return ModelArgs(**base)


def make(arch="llama", seed=0, **kw):
    torch.manual_seed(seed)
    return Transformer(tiny_args(arch=arch, **kw)).eval()


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_future_tokens_do_not_change_past_logits(arch):
    m = make(arch, n_kv_heads=2 if arch == "llama" else 4)
    x = torch.randint(0, 97, (2, 30))
    y = x.clone()
    y[:, 20:] = torch.randint(0, 97, (2, 10))                       # change only the future
    lx, _ = m(x)
    ly, _ = m(y)
    assert torch.allclose(lx[:, :20], ly[:, :20], atol=1e-5)
    assert not torch.allclose(lx[:, 20:], ly[:, 20:], atol=1e-3)


def test_rope_identity_at_pos0_and_norm_preserving():
    cos, sin = rope_tables(16, 64)
    x = torch.randn(3, 64, 5, 16)                                     # (B, T, heads, hd)
    y = apply_rope(x, cos, sin)
    assert torch.equal(y[:, 0], x[:, 0])                              # position 0: angle 0
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), atol=1e-5)  # a rotation keeps lengths
    assert not torch.allclose(y[:, 1:], x[:, 1:])


def test_rope_matches_numpy_kernel_adjacent_pairs():
    theta, hd, heads = 10000.0, 16, 3
    cos, sin = rope_tables(hd, 40, theta)
    x = torch.randn(1, 40, heads, hd)
    for rope in (apply_rope, apply_rope_real):                        # complex (eager) and real (compiled) forms
        y = rope(x, cos, sin)
        for pos in (0, 1, 7, 39):
            ref = kernels.rope(x[0, pos].numpy(), pos, theta)        # NumPy twin, one position
            np.testing.assert_allclose(y[0, pos].numpy(), ref, atol=1e-5)


def test_rmsnorm_matches_torch():
    x = torch.randn(4, 7, 32)
    ours = RMSNorm(32, eps=1e-5)
    ref = torch.nn.RMSNorm(32, eps=1e-5)
    with torch.no_grad():
        w = torch.randn(32)
        ours.weight.copy_(w)
        ref.weight.copy_(w)
    assert torch.allclose(ours(x), ref(x), atol=1e-6)
    assert torch.allclose(ours.forward_naive(x), ref(x), atol=1e-6)   # the spelled-out version too
    np.testing.assert_allclose(ours(x)[0, 0].detach().numpy(),
                               kernels.rmsnorm(x[0, 0].numpy(), w.numpy()), atol=1e-5)


def test_gqa_with_equal_heads_is_plain_mha():
    m = make(n_kv_heads=4)
    att = m.layers[0].attention
    x = torch.randn(2, 10, 64)
    cos, sin = m.rope_cos[:10], m.rope_sin[:10]
    ours = att(x, cos, sin)
    # plain multi-head attention written out by hand with softmax
    B, T, H, hd = 2, 10, 4, 16
    q = apply_rope(att.wq(x).view(B, T, H, hd), cos, sin).transpose(1, 2)
    k = apply_rope(att.wk(x).view(B, T, H, hd), cos, sin).transpose(1, 2)
    v = att.wv(x).view(B, T, H, hd).transpose(1, 2)
    s = q @ k.transpose(-1, -2) / hd ** 0.5
    s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    ref = att.wo((s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd))
    assert torch.allclose(ours, ref, atol=1e-5)


def test_gqa_groups_query_heads_like_llama_cpp():
    """With K < H, query head h must read kv head h // (H / K), as llama.cpp does."""
    m = make(n_kv_heads=2)
    att = m.layers[0].attention
    x = torch.randn(1, 6, 64)
    cos, sin = m.rope_cos[:6], m.rope_sin[:6]
    ours = att(x, cos, sin)
    B, T, H, K, hd = 1, 6, 4, 2, 16
    q = apply_rope(att.wq(x).view(B, T, H, hd), cos, sin).transpose(1, 2)
    k = apply_rope(att.wk(x).view(B, T, K, hd), cos, sin).transpose(1, 2)
    v = att.wv(x).view(B, T, K, hd).transpose(1, 2)
    heads = [F.scaled_dot_product_attention(q[:, h:h + 1], k[:, h // 2:h // 2 + 1], v[:, h // 2:h // 2 + 1],
                                            is_causal=True) for h in range(H)]
    ref = att.wo(torch.cat(heads, 1).transpose(1, 2).reshape(B, T, H * hd))
    assert torch.allclose(ours, ref, atol=1e-5)


def test_head_tied_to_embedding_and_state_dict_names():
    m = make()
    assert m.output.weight is m.tok_embeddings.weight
    names = set(m.state_dict())
    a = m.args
    expect = {"tok_embeddings.weight": (a.vocab_size, a.dim), "norm.weight": (a.dim,)}
    hd = a.head_dim
    for i in range(a.n_layers):
        p = f"layers.{i}."
        expect.update({p + "attention_norm.weight": (a.dim,), p + "ffn_norm.weight": (a.dim,),
                       p + "attention.wq.weight": (a.n_heads * hd, a.dim),
                       p + "attention.wk.weight": (a.n_kv_heads * hd, a.dim),
                       p + "attention.wv.weight": (a.n_kv_heads * hd, a.dim),
                       p + "attention.wo.weight": (a.dim, a.n_heads * hd),
                       p + "feed_forward.w1.weight": (a.hidden_dim, a.dim),
                       p + "feed_forward.w2.weight": (a.dim, a.hidden_dim),
                       p + "feed_forward.w3.weight": (a.hidden_dim, a.dim)})
    assert names - {"output.weight"} == set(expect)
    for k, shape in expect.items():
        assert tuple(m.state_dict()[k].shape) == shape, k
    assert not any(n.endswith("bias") for n in names)                # no biases anywhere in Llama
    n = count_params(m, show=False)
    assert n == sum(p.numel() for p in m.parameters())               # tied head counted once


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_kv_cached_generation_equals_full_recomputation(arch):
    m = make(arch, n_kv_heads=2 if arch == "llama" else 4)
    prompt = torch.randint(0, 97, (2, 7))
    out = m.generate(prompt, 60, temperature=0)                       # runs past max_seq_len=48: window slides
    assert out.shape == (2, 67)
    t = prompt
    with torch.no_grad():
        for _ in range(60):
            ctx = t if t.shape[1] <= 48 else None
            if ctx is None:                                           # after the context fills, the cache keeps
                break                                                 # a half window; check up to there
            logits, _ = m(ctx)
            t = torch.cat((t, logits[:, -1].argmax(-1, keepdim=True)), 1)
    assert torch.equal(out[:, :t.shape[1]], t)
    # cached prefill of a chunk after a cache equals the full forward (bottom-right causal mask)
    x = torch.randint(0, 97, (1, 20))
    full, _ = m(x)
    caches = m.new_caches(1)
    with torch.no_grad():
        a, _ = m(x[:, :12], start_pos=0, caches=caches)
        b, _ = m(x[:, 12:], start_pos=12, caches=caches)
    assert torch.allclose(torch.cat((a, b), 1), full, atol=1e-5)


def test_sampling_seed_stop_tokens_topk_topp():
    m = make()
    a = m.generate([2, 5, 6], 20, temperature=1.0, top_k=5, top_p=0.9, seed=123)
    b = m.generate([2, 5, 6], 20, temperature=1.0, top_k=5, top_p=0.9, seed=123)
    assert torch.equal(a, b)
    greedy = m.generate([2, 5, 6], 20, temperature=0)
    stop = int(greedy[0, 5])                                          # the 3rd generated token
    s = m.generate([2, 5, 6], 20, temperature=0, stop_tokens=[stop])
    assert s[0, -1].item() == stop and s.shape[1] <= 6
    logits = torch.tensor([[5.0, 4.0, 1.0, 0.0, -1.0]])
    g = torch.Generator().manual_seed(0)
    picks = {sample_next(logits, 1.0, top_k=2, generator=g).item() for _ in range(200)}
    assert picks == {0, 1}
    picks = {sample_next(logits, 1.0, top_p=0.5, generator=g).item() for _ in range(200)}
    assert picks == {0}                                               # p(0) = 0.70 already reaches 0.5


def test_tiny_model_overfits_one_batch():
    torch.manual_seed(0)
    m = Transformer(tiny_args()).train()
    x = torch.randint(0, 97, (4, 32))
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    for _ in range(150):
        _, loss = m(x[:, :-1], x[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1, loss.item()


def test_load_checkpoint_round_trip(tmp_path):
    m = make()
    from dataclasses import asdict
    path = tmp_path / "ckpt.pt"
    torch.save({"model": m.state_dict(), "model_args": asdict(m.args)}, path)
    m2, ckpt = load_checkpoint(path)
    x = torch.randint(0, 97, (1, 9))
    assert torch.equal(m(x)[0], m2(x)[0])
    assert m2.output.weight is m2.tok_embeddings.weight
    with pytest.raises(FileNotFoundError, match="train"):
        load_checkpoint(tmp_path / "missing.pt")


def test_bad_model_args_name_the_problem():
    with pytest.raises(ValueError, match="arch"):
        ModelArgs(arch="mamba")
    with pytest.raises(ValueError, match="n_kv_heads"):
        ModelArgs(dim=64, n_heads=4, n_kv_heads=3)


def test_model_and_trainer_stay_readable():
    for name in ("robolm/model.py", "train.py"):
        path = ROOT / name
        if path.exists():
            n = len(path.read_text().splitlines())
            assert n <= 450, f"{name} has {n} lines; keep it readable in one sitting (<= 450)"


def test_loss_scores_only_positions_with_a_target():
    """With targets, the head runs on the N positions that have one; the loss is the same mean
    cross-entropy as over the full (B, T, V) logits with -100 ignored."""
    model = make().eval()
    x = torch.randint(0, model.args.vocab_size, (2, 12))                # (B, T)
    y = torch.randint(0, model.args.vocab_size, (2, 12))
    y[0, :5] = -100                                                      # a prompt: no loss
    y[1, 9:] = -100                                                      # padding: no loss
    with torch.no_grad():
        full, _ = model(x)                                               # (B, T, V)
        sel, loss = model(x, y)                                          # (N, V)
    ref = F.cross_entropy(full.view(-1, full.size(-1)), y.view(-1), ignore_index=-100)
    assert sel.shape == (int((y != -100).sum()), model.args.vocab_size)
    assert torch.allclose(loss, ref, atol=1e-5)
    assert torch.allclose(sel, full[y != -100], atol=1e-5)
