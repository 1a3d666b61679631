"""GGUF writer/reader, export_gguf.py, and the loaders' refusals (NumPy reader, C loader,
robolm_run). The tiny deterministic model file made here is also the golden fixture of
tests/test_runtime.py."""
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import export_gguf  # noqa: E402
from robolm import gguf  # noqa: E402
from robolm.model import ModelArgs, Transformer  # noqa: E402
from robolm.numpy_model import NumpyModel  # noqa: E402

SPECIALS = (["<pad>", "<eos>", "<bos>", "<unk>", "[SYSTEM]", "[/SYSTEM]", "[USER]", "[/USER]", "[CODE]", "[/CODE]",
             "[HARDWARE]", "[/HARDWARE]"]
            + [f"[LANG:{c}]" for c in "hi bn ta te mr gu kn ml pa or as mai sa ur sd ks ne kok en zh es fr ar pt ja".split()]
            + ["[EXPLAIN]", "[/EXPLAIN]"])
MULTILINGUAL = ("from machine import Pin\nled = Pin(2, Pin.OUT)\n    led.value(1)  # on\n"
                "एलईडी को चालू करो। எல்இடியை இயக்கு. 让机器人前进 2 秒。 ¡Enciende el LED! "
                "LED ko chalu karo, phir 0.5 second ruko. مرحبا بالروبوت")


# ============================================================================ fixtures
def make_tokenizer():
    """robolm/tokenizer.py trained on a little multilingual text, with user-defined tokens
    ("Pin.OUT", indentation runs) and a few forced merges."""
    from robolm.tokenizer import Tokenizer
    return Tokenizer.train([MULTILINGUAL] * 3, vocab_size=400, single_tokens=["import", "machine", " while"],
                           user_defined=["Pin.OUT", "time.sleep_ms", "    ", "        "], min_count=1)


def make_model(vocab_size, seed=0, dim=64, n_layers=2, n_heads=4, n_kv_heads=2, hidden_dim=96, max_seq_len=64):
    """A tiny deterministic Llama whose weights are large enough for varied greedy tokens."""
    torch.manual_seed(seed)
    args = ModelArgs(dim=dim, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads, hidden_dim=hidden_dim,
                     vocab_size=vocab_size, max_seq_len=max_seq_len)
    model = Transformer(args).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:
                p.copy_(1 + 0.3 * torch.randn_like(p))           # norms away from 1
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    return model, args


def save_checkpoint(path, model, args, tok, tok_path):
    ckpt = {"model": model.state_dict(), "model_args": asdict(args), "config": {"note": "test"}, "step": 7,
            "tokenizer_hash": getattr(tok, "hash", ""), "tokenizer_path": str(tok_path)}
    torch.save(ckpt, path)


def write_model_file(path, model, args, tok, wtype="f32"):
    export_gguf.build_writer(model.state_dict(), asdict(args), tok, wtype).write(path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, args, tokenizer, {type: gguf path}) for the tiny model in every type."""
    d = tmp_path_factory.mktemp("tiny")
    tok = make_tokenizer()
    model, args = make_model(tok.vocab_size)
    files = {t: write_model_file(d / f"tiny-{t}.gguf", model, args, tok, t) for t in ("f32", "f16", "q8_0", "q4_0")}
    return model, args, tok, files


def robolm_run_path():
    """$ROBOLM_RUN (e.g. the sanitizer build of `make test-asan`), else the one pip installed."""
    if os.environ.get("ROBOLM_RUN"):
        return os.environ["ROBOLM_RUN"]
    exe = Path(sys.executable).parent / "robolm_run"
    return str(exe) if exe.exists() else shutil.which("robolm_run")


def native():
    try:
        import robolm._native as n
        return n if hasattr(n, "Model") else None
    except ImportError:
        return None


# ============================================================================ writer / reader
def test_writer_round_trip_and_gguf_py_reads_it(tmp_path):
    from gguf import GGUFReader
    w = gguf.GGUFWriter()
    w.add("general.architecture", "llama", gguf.STRING)
    w.add("a.u32", 7, gguf.UINT32)
    w.add("a.f32", 1.5, gguf.FLOAT32)
    w.add("a.bool", True, gguf.BOOL)
    w.add("a.strings", ["Ġthe", "हिन्दी", ""], gguf.ARRAY, gguf.STRING)
    w.add("a.ints", [1, -3, 4], gguf.ARRAY, gguf.INT32)
    mat = np.arange(12, dtype=np.float32).reshape(3, 4)
    w.add_tensor("m.weight", mat)
    w.add_tensor("h.weight", np.linspace(-1, 1, 5, dtype=np.float32), gguf.GGML_F16)
    path = tmp_path / "x.gguf"
    w.write(path)

    f = gguf.read(path)
    assert f.metadata["a.u32"] == 7 and f.value_types["a.u32"] == gguf.UINT32
    assert f.metadata["a.strings"] == ["Ġthe", "हिन्दी", ""]
    assert list(f.metadata["a.ints"]) == [1, -3, 4]
    assert f.tensors["m.weight"].ne == (4, 3)                    # ggml dims are reversed
    np.testing.assert_array_equal(f.tensor("m.weight"), mat)
    np.testing.assert_allclose(f.tensor("h.weight"), np.linspace(-1, 1, 5), atol=1e-3)
    assert all(t.offset % 32 == 0 for t in f.tensors.values())

    r = GGUFReader(str(path))
    assert bytes(r.fields["general.architecture"].parts[-1]).decode() == "llama"
    t = {t.name: t for t in r.tensors}
    np.testing.assert_array_equal(np.asarray(t["m.weight"].data).reshape(3, 4), mat)
    assert list(t["m.weight"].shape) == [4, 3]


@pytest.mark.parametrize("wtype", ["f32", "f16", "q8_0", "q4_0"])
def test_gguf_py_reads_every_export(tiny, wtype):
    from gguf import GGUFReader
    model, args, tok, files = tiny
    r = GGUFReader(str(files[wtype]))
    keys = set(r.fields)
    for k in ["general.architecture", "llama.context_length", "llama.embedding_length", "llama.block_count",
              "llama.attention.layer_norm_rms_epsilon", "llama.feed_forward_length", "llama.attention.head_count",
              "llama.attention.head_count_kv", "tokenizer.ggml.model", "tokenizer.ggml.tokens",
              "tokenizer.ggml.merges", "tokenizer.ggml.pre", "tokenizer.ggml.token_type",
              "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "robolm.prompt.template",
              "robolm.stop_token_ids"]:
        assert k in keys, k
    names = {t.name: t for t in r.tensors}
    assert "output.weight" not in names                           # tied head
    assert len(names) == 2 + 9 * args.n_layers
    emb = names["token_embd.weight"]
    assert list(emb.shape) == [args.dim, args.vocab_size]         # ggml order
    expect_type = {"f32": 0, "f16": 1, "q8_0": 8, "q4_0": 2}[wtype]
    assert int(names["blk.0.attn_q.weight"].tensor_type) == expect_type
    assert int(names["blk.0.attn_norm.weight"].tensor_type) == 0  # norms stay F32
    # the values: our reader dequantizes what gguf-py sees as raw data
    ours = gguf.read(files[wtype])
    sd = model.state_dict()
    want = sd["layers.1.feed_forward.w2.weight"].numpy()
    got = ours.tensor("blk.1.ffn_down.weight")
    tol = {"f32": 0, "f16": 2e-3, "q8_0": 2e-2, "q4_0": 0.2}[wtype]
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= tol * np.abs(want).max() + 1e-7
    if wtype == "f32":
        np.testing.assert_array_equal(np.asarray(names["blk.1.ffn_down.weight"].data).reshape(want.shape), want)


def test_tokens_are_in_gpt2_byte_form(tiny):
    _, _, tok, files = tiny
    f = gguf.read(files["f32"])
    tokens, types = f.metadata["tokenizer.ggml.tokens"], list(f.metadata["tokenizer.ggml.token_type"])
    assert len(set(tokens)) == len(tokens)
    bos = int(f.metadata["tokenizer.ggml.bos_token_id"])
    assert tokens[bos] == "<bos>" and types[bos] == 3
    assert "Ġ" in tokens and " " not in tokens                    # the space byte is stored as "Ġ"
    for m in f.metadata["tokenizer.ggml.merges"]:
        a, b = m.split(" ", 1)
        assert a + b in tokens, m


def test_export_cli_from_checkpoint(tmp_path):
    tok = make_tokenizer()
    tok_path = tok.save(tmp_path / "tok")
    model, args = make_model(tok.vocab_size)
    save_checkpoint(tmp_path / "ckpt.pt", model, args, tok, tok_path)
    out = tmp_path / "out.gguf"
    assert export_gguf.main([str(tmp_path / "ckpt.pt"), str(out), "--type", "f16"]) == 0
    f = gguf.read(out)
    assert f.metadata["general.file_type"] == 1 and f.metadata["robolm.training.step"] == 7


def test_export_refuses_vocab_mismatch_and_bad_rows():
    tok = make_tokenizer()
    n = tok.vocab_size
    model, args = make_model(n + 1)
    with pytest.raises(export_gguf.ExportError, match="vocab mismatch"):
        export_gguf.build_writer(model.state_dict(), asdict(args), tok)
    model, args = make_model(n, dim=48, n_heads=4, n_kv_heads=2, hidden_dim=80)
    with pytest.raises(export_gguf.ExportError, match="multiple of 32"):
        export_gguf.build_writer(model.state_dict(), asdict(args), tok, "q8_0")


# ============================================================================ refusals
def _corrupt_variants(good: bytes, tmp_path):
    """name -> (bytes, the message both loaders must give)."""
    f = gguf.read_bytes(good) if hasattr(gguf, "read_bytes") else gguf.GGUFFile(data=np.frombuffer(good, np.uint8))
    emb = f.tensors["token_embd.weight"]
    out = {"truncated": (good[:len(good) - 100], "runs past the end of the file"),
           "header_truncated": (good[:20], "needs 8 bytes but only 4 remain"),
           "wrong_magic": (b"GGML" + good[4:], "not a GGUF file"),
           "pickle": (b"\x80\x04\x95" + good[3:], "not a GGUF file")}
    # locate token_embd's tensor info: name string, n_dims, dims, type, offset
    name = b"token_embd.weight"
    at = good.index(struct.pack("<Q", len(name)) + name) + 8 + len(name)
    n_dims = struct.unpack_from("<I", good, at)[0]
    absurd = bytearray(good)
    struct.pack_into("<Q", absurd, at + 4, 1 << 50)
    out["absurd_dims"] = (bytes(absurd), "absurd dims")
    past = bytearray(good)
    struct.pack_into("<Q", past, at + 4 + 8 * n_dims + 4, (len(good) // 32 + 10) * 32)
    out["offset_past_end"] = (bytes(past), "runs past the end of the file")
    # a vocab mismatch: the embedding claims one row fewer than there are tokens
    mism = bytearray(good)
    struct.pack_into("<Q", mism, at + 4 + 8, emb.ne[1] - 1)
    out["vocab_mismatch"] = (bytes(mism), "vocab size vs embedding rows")
    # head counts that do not divide the width: llama.attention.head_count = 3 for dim 64
    key = b"llama.attention.head_count"
    at = good.index(struct.pack("<Q", len(key)) + key) + 8 + len(key)
    assert struct.unpack_from("<I", good, at)[0] == gguf.UINT32
    heads = bytearray(good)
    struct.pack_into("<I", heads, at + 4, 3)
    out["head_count"] = (bytes(heads), "head counts vs dims")
    return out


def test_numpy_reader_refuses_bad_files(tiny, tmp_path):
    good = Path(tiny[3]["f32"]).read_bytes()
    for name, (data, msg) in _corrupt_variants(good, tmp_path).items():
        p = tmp_path / f"{name}.gguf"
        p.write_bytes(data)
        with pytest.raises(gguf.GGUFError, match=msg) as e:
            NumpyModel(p)
        assert "Hint:" in str(e.value), name


def test_c_loader_refuses_bad_files(tiny, tmp_path):
    n = native()
    if n is None:
        pytest.skip("robolm._native is not built (pip install -e .)")
    good = Path(tiny[3]["f32"]).read_bytes()
    for name, (data, msg) in _corrupt_variants(good, tmp_path).items():
        p = tmp_path / f"{name}.gguf"
        p.write_bytes(data)
        with pytest.raises(ValueError, match=msg) as e:
            n.Model(str(p))
        assert "Hint:" in str(e.value), name
    with pytest.raises(ValueError, match="cannot open"):
        n.Model(str(tmp_path / "missing.gguf"))


def test_robolm_run_refuses_bad_files_without_crashing(tiny, tmp_path):
    exe = robolm_run_path()
    if exe is None:
        pytest.skip("robolm_run is not built (pip install -e .)")
    good = Path(tiny[3]["f32"]).read_bytes()
    for name, (data, msg) in _corrupt_variants(good, tmp_path).items():
        p = tmp_path / f"{name}.gguf"
        p.write_bytes(data)
        r = subprocess.run([exe, str(p), "-p", "hi"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, (name, r.returncode, r.stderr)    # a clean refusal, not a signal
        assert msg in r.stderr and "Hint:" in r.stderr, (name, r.stderr)


# ============================================================================ mutations
@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    tok = make_tokenizer()
    model, args = make_model(tok.vocab_size, dim=32, n_layers=1, n_heads=2, n_kv_heads=1, hidden_dim=32,
                             max_seq_len=16)
    return write_model_file(tmp_path_factory.mktemp("small") / "s.gguf", model, args, tok, "q8_0").read_bytes()


def test_mutated_files_are_loaded_or_refused_never_crash(small_file, tmp_path):
    """Random byte edits and truncations: the NumPy reader raises GGUFError or loads; the C
    loader (in this process) raises ValueError or loads. A crash would kill pytest."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    n = native()
    header_end = gguf.GGUFFile(data=np.frombuffer(small_file, np.uint8)).data_offset

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(st.integers(0, header_end - 1), st.integers(0, 255)), min_size=1, max_size=4),
           st.integers(header_end // 2, len(small_file)))
    def check(edits, cut):
        data = bytearray(small_file)
        for at, b in edits:
            data[at] = b
        data = bytes(data[:cut])
        p = tmp_path / "m.gguf"
        p.write_bytes(data)
        try:
            NumpyModel(p)
        except gguf.GGUFError as e:
            assert "Hint:" in str(e)
        if n is not None:
            try:
                n.Model(str(p))
            except ValueError as e:
                assert "Hint:" in str(e)

    check()


@pytest.mark.parametrize("key,value,vtype,msg", [
    ("llama.block_count", "two", gguf.STRING, "is not an integer"),
    ("llama.attention.layer_norm_rms_epsilon", "x", gguf.STRING, "layer_norm_rms_epsilon"),
    ("tokenizer.ggml.tokens", [1, 2], (gguf.ARRAY, gguf.INT32), "not a non-empty array of strings"),
    ("general.architecture", "gpt2", gguf.STRING, "architecture"),
])
def test_loaders_refuse_wrong_metadata(tiny, tmp_path, key, value, vtype, msg):
    model, args, tok, files = tiny
    w = export_gguf.build_writer(model.state_dict(), asdict(args), tok)
    w.add(key, value, *(vtype if isinstance(vtype, tuple) else (vtype,)))
    p = w.write(tmp_path / "bad.gguf") and tmp_path / "bad.gguf"
    with pytest.raises(gguf.GGUFError, match=msg):
        NumpyModel(p)
    n = native()
    if n is not None:
        with pytest.raises(ValueError, match=msg) as e:
            n.Model(str(p))
        assert str(p) in str(e.value) and "Hint:" in str(e.value)
