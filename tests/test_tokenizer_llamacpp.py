"""The exported tokenizer must tokenize identically in llama.cpp (via llama-cpp-python, the
`peers` extra). Writes a vocab-only GGUF with the `gguf` package under tmp_path and compares
llama.cpp's ids with Tokenizer.encode. Skipped when llama_cpp or gguf is not installed."""
import importlib.metadata as md
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robolm.tokenizer import Tokenizer

llama_cpp = pytest.importorskip("llama_cpp")
gguf = pytest.importorskip("gguf")

SENTENCES = [line.split("\t", 1)[1] for line in
             (Path(__file__).parent / "data" / "tokenizer_sentences.txt").read_text(encoding="utf-8").splitlines()
             if "\t" in line]
CONFIG = Path(__file__).resolve().parent.parent / "configs" / "tokenizers" / "robo-code-8k.yaml"


def stub_texts():
    files = sorted(str(f.locate()) for f in md.files("micropython-esp32-stubs") if str(f).endswith(".pyi"))
    return [Path(f).read_text(encoding="utf-8") for f in files]


def write_vocab_gguf(tok, path):
    g = tok.gguf_vocab()
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(256)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model(g["model"])
    w.add_tokenizer_pre(g["pre"])
    w.add_token_list(g["tokens"])
    w.add_token_types(g["token_type"])
    w.add_token_merges(g["merges"])
    w.add_bos_token_id(g["bos_token_id"])
    w.add_eos_token_id(g["eos_token_id"])
    w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    texts = stub_texts() + SENTENCES * 3
    tok = Tokenizer.from_config(CONFIG, texts, vocab_size=3000)
    path = tmp_path_factory.mktemp("gguf") / "vocab.gguf"
    write_vocab_gguf(tok, path)
    llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    return tok, llm, texts


def test_llamacpp_same_ids_on_code_and_languages(pair):
    tok, llm, texts = pair
    samples = [t[:3000] for t in texts[:30]] + SENTENCES + [
        "from machine import Pin\nled = Pin(2, Pin.OUT)\nwhile True:\n        led.value(1)\n",
        "a learner types [CODE] or <eos> or [LANG:hi]: plain bytes", "it's DON'T we'LL 115200 0x3C"]
    for s in samples:
        assert llm.tokenize(s.encode(), add_bos=False, special=False) == tok.encode(s), s[:80]
        assert llm.detokenize(tok.encode(s)).decode() == s


mixed = st.lists(st.sampled_from(["    ", "\n", "\r\n", " ", "\t", "Pin.OUT", "Pin.IN", "x", "é", "नमस्ते", "्",
                                  "ि", "'s", "'LL", "123", "==", "(", "中文", "😀", "\u200d", "\u0301", "\xa0",
                                  "ـ", "ک", "_", ".", "/", "import", "while True:", "ADC.ATTN_11DB"]),
                 max_size=30).map("".join)
# assigned, non-surrogate characters of the BMP and emoji (llama.cpp's Unicode tables may be
# older or newer than the regex module's for characters assigned in the last few years)
chars = st.characters(blacklist_categories=("Cs", "Cn", "Co"), max_codepoint=0x1FAFF)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(mixed, st.text(alphabet=chars, max_size=60)))
def test_llamacpp_same_ids_property(pair, text):
    tok, llm, _ = pair
    assert llm.tokenize(text.encode(), add_bos=False, special=False) == tok.encode(text)


def test_llamacpp_accepts_padding_tokens(tmp_path):
    tok = Tokenizer.train(SENTENCES, vocab_size=1200, single_tokens=["import", "Pin.OUT"], user_defined=["    "])
    assert tok.n_unused > 0
    write_vocab_gguf(tok, tmp_path / "pad.gguf")
    llm = llama_cpp.Llama(str(tmp_path / "pad.gguf"), vocab_only=True, verbose=False)
    assert llm.n_vocab() == tok.vocab_size
    for s in SENTENCES + ["import x\n    Pin.OUT <unused:0>"]:
        assert llm.tokenize(s.encode(), add_bos=False, special=False) == tok.encode(s)
