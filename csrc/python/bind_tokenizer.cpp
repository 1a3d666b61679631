// The byte-level BPE tokenizer's hot path (csrc/tokenizer.c) seen from Python.
// robolm/tokenizer.py uses it when robolm._native is built; the pure-Python code there is
// the reference and the tests check that both give the same ids and merges.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "bind.h"
#include "tokenizer.h"

namespace {

using i32array = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
using i64array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using u64array = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>;

struct NativeTokenizer {
    Tokenizer* t = nullptr;
    std::mutex mu;  // encode uses the tokenizer's cache and scratch: one thread at a time
    ~NativeTokenizer() { tokenizer_free(t); }

    std::vector<int32_t> encode_vec(const std::string& s) {
        std::vector<int32_t> out(s.size() + 1);  // never more ids than bytes: one pass
        size_t n;
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(mu);
            n = tokenizer_encode(t, s.data(), s.size(), out.data(), out.size());
            if (n != TOK_ERROR && n > out.size()) {
                out.resize(n);
                n = tokenizer_encode(t, s.data(), s.size(), out.data(), out.size());
            }
        }
        if (n == TOK_ERROR) throw std::runtime_error("tokenizer: encode failed (out of memory)");
        out.resize(n);
        return out;
    }

    std::string decode(const std::vector<int32_t>& ids, bool skip_special) const {
        size_t n = tokenizer_decode(t, ids.data(), ids.size(), skip_special, nullptr, 0);
        if (n == TOK_ERROR) throw std::invalid_argument("tokenizer: decode got an id out of range");
        std::string out(n, '\0');
        tokenizer_decode(t, ids.data(), ids.size(), skip_special, out.data(), n);
        return out;
    }
};

// ids from a Python list (fast path: no per-item pybind casting), a NumPy array or any sequence.
// An id outside int32 becomes -1, which decode then reports as out of range.
std::vector<int32_t> ids_from(py::handle obj) {
    std::vector<int32_t> ids;
    if (PyList_Check(obj.ptr())) {
        Py_ssize_t n = PyList_GET_SIZE(obj.ptr());
        ids.resize((size_t)n);
        for (Py_ssize_t i = 0; i < n; i++) {
            long long v = PyLong_AsLongLong(PyList_GET_ITEM(obj.ptr(), i));
            if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
            ids[(size_t)i] = (v < INT32_MIN || v > INT32_MAX) ? -1 : (int32_t)v;
        }
    } else if (py::isinstance<py::array>(obj)) {
        auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(obj);
        if (!a) throw py::error_already_set();
        ids.resize((size_t)a.size());
        for (size_t i = 0; i < ids.size(); i++) {
            int64_t v = a.data()[i];
            ids[i] = (v < INT32_MIN || v > INT32_MAX) ? -1 : (int32_t)v;
        }
    } else {
        for (py::handle h : obj) {
            long long v = py::cast<long long>(h);
            ids.push_back((v < INT32_MIN || v > INT32_MAX) ? -1 : (int32_t)v);
        }
    }
    return ids;
}

std::unique_ptr<NativeTokenizer> make_from_bytes(const std::vector<std::string>& tokens,
                                                 const std::vector<int32_t>& types, i32array merges) {
    if (types.size() != tokens.size()) throw std::invalid_argument("tokenizer: tokens and types differ in length");
    if (merges.size() && (merges.ndim() != 2 || merges.shape(1) != 2))
        throw std::invalid_argument("tokenizer: merges must be an (n, 2) array of ids");
    std::vector<const char*> ptrs(tokens.size());
    std::vector<size_t> lens(tokens.size());
    for (size_t i = 0; i < tokens.size(); i++) { ptrs[i] = tokens[i].data(); lens[i] = tokens[i].size(); }
    char err[256] = {0};
    size_t n_merges = merges.size() ? (size_t)merges.shape(0) : 0;
    auto nt = std::make_unique<NativeTokenizer>();
    nt->t = tokenizer_build(ptrs.data(), lens.data(), types.data(), tokens.size(),
                            n_merges ? merges.data() : nullptr, n_merges, err, sizeof err);
    if (!nt->t) throw std::invalid_argument(err);
    return nt;
}

std::unique_ptr<NativeTokenizer> make_from_gguf(const std::vector<std::string>& tokens,
                                                const std::vector<int32_t>& types,
                                                const std::vector<std::string>& merges) {
    if (!types.empty() && types.size() != tokens.size())
        throw std::invalid_argument("tokenizer: tokens and types differ in length");
    std::vector<const char*> tp(tokens.size()), mp(merges.size());
    std::vector<size_t> tl(tokens.size()), ml(merges.size());
    for (size_t i = 0; i < tokens.size(); i++) { tp[i] = tokens[i].data(); tl[i] = tokens[i].size(); }
    for (size_t i = 0; i < merges.size(); i++) { mp[i] = merges[i].data(); ml[i] = merges[i].size(); }
    char err[256] = {0};
    auto nt = std::make_unique<NativeTokenizer>();
    nt->t = tokenizer_build_gguf(tp.data(), tl.data(), types.empty() ? nullptr : types.data(), tokens.size(),
                                 mp.data(), ml.data(), merges.size(), err, sizeof err);
    if (!nt->t) throw std::invalid_argument(err);
    return nt;
}

// Cut user-defined tokens out of every text (with the tokenizer `base`), split the rest into
// pre-tokens and count the distinct ones. Returns the words as byte ids (byte b -> byte_offset
// + b), sorted by their bytes, with offsets (n + 1) and counts (n).
struct CountCtx {
    const std::string* text;
    std::unordered_map<std::string, int64_t>* counts;
};

static void count_piece(void* user, size_t start, size_t end, int32_t id) {
    if (id >= 0) return;
    CountCtx* c = (CountCtx*)user;
    (*c->counts)[c->text->substr(start, end - start)] += 1;
}

py::tuple count_words(const std::vector<std::string>& texts, const NativeTokenizer& base, int32_t byte_offset) {
    std::unordered_map<std::string, int64_t> counts;
    {
        py::gil_scoped_release release;
        for (const std::string& f : texts) {
            CountCtx ctx{&f, &counts};
            if (tokenizer_pieces(base.t, f.data(), f.size(), count_piece, &ctx) != 0)
                throw std::runtime_error("tokenizer: out of memory while counting words");
        }
    }
    std::vector<const std::pair<const std::string, int64_t>*> order;
    order.reserve(counts.size());
    size_t total = 0;
    for (const auto& kv : counts) { order.push_back(&kv); total += kv.first.size(); }
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
    i32array ids((py::ssize_t)total);
    u64array offsets((py::ssize_t)order.size() + 1);
    i64array cnt((py::ssize_t)order.size());
    int32_t* ip = ids.mutable_data();
    uint64_t* op = offsets.mutable_data();
    int64_t* cp = cnt.mutable_data();
    size_t pos = 0;
    for (size_t w = 0; w < order.size(); w++) {
        op[w] = pos;
        cp[w] = order[w]->second;
        for (unsigned char c : order[w]->first) ip[pos++] = byte_offset + c;
    }
    op[order.size()] = pos;
    return py::make_tuple(ids, offsets, cnt);
}

i32array train(i32array ids, u64array offsets, i64array counts, const std::vector<std::string>& vocab,
               i32array forced, size_t n_merges, int64_t min_count) {
    size_t n_words = counts.size();
    if ((size_t)offsets.size() != n_words + 1) throw std::invalid_argument("train: offsets must have len(counts) + 1 entries");
    if (offsets.at(n_words) != (uint64_t)ids.size()) throw std::invalid_argument("train: offsets[-1] must be len(ids)");
    size_t n_forced = forced.size() / 2;
    if (forced.size() && (forced.ndim() != 2 || forced.shape(1) != 2)) throw std::invalid_argument("train: forced must be (n, 2)");
    std::vector<const char*> vp(vocab.size());
    std::vector<size_t> vl(vocab.size());
    for (size_t i = 0; i < vocab.size(); i++) { vp[i] = vocab[i].data(); vl[i] = vocab[i].size(); }
    std::vector<size_t> offs(offsets.data(), offsets.data() + offsets.size());
    std::vector<int32_t> out(2 * std::max<size_t>(n_merges, 1));
    char err[256] = {0};
    size_t made;
    {
        py::gil_scoped_release release;
        made = tok_train_bpe(ids.data(), offs.data(), counts.data(), n_words, vp.data(), vl.data(), vocab.size(),
                             n_forced ? forced.data() : nullptr, n_forced, n_merges, min_count, out.data(),
                             err, sizeof err);
    }
    if (made == TOK_ERROR) throw std::runtime_error(err);
    i32array res(std::vector<py::ssize_t>{(py::ssize_t)made, 2});
    std::memcpy(res.mutable_data(), out.data(), made * 2 * sizeof(int32_t));
    return res;
}

}  // namespace

void bind_tokenizer(py::module_& m) {
    py::class_<NativeTokenizer>(m, "NativeTokenizer",
                                "csrc/tokenizer.c: byte-level BPE encode/decode (see robolm/tokenizer.py)")
        .def(py::init(&make_from_bytes), py::arg("tokens"), py::arg("types"), py::arg("merges"),
             "tokens: raw bytes per id; types: GGUF token types; merges: (n, 2) int32 ids in rank order")
        .def_static("from_gguf", &make_from_gguf, py::arg("tokens"), py::arg("types"), py::arg("merges"),
                    "tokens/merges as GGUF stores them (bytes_to_unicode form, merges \"a b\")")
        .def("encode", [](NativeTokenizer& self, const std::string& s) { return self.encode_vec(s); },
             py::arg("text"), "str (UTF-8) or bytes -> list of ids (never control tokens)")
        .def("encode_array", [](NativeTokenizer& self, const std::string& s) {
                 std::vector<int32_t> v = self.encode_vec(s);
                 i32array a((py::ssize_t)v.size());
                 std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(int32_t));
                 return a;
             }, py::arg("text"), "like encode, as an int32 NumPy array")
        .def("decode_bytes", [](const NativeTokenizer& self, py::handle ids, bool skip_special) {
                 return py::bytes(self.decode(ids_from(ids), skip_special));
             }, py::arg("ids"), py::arg("skip_special") = false)
        .def("find", [](const NativeTokenizer& self, const std::string& s) { return tokenizer_find(self.t, s.data(), s.size()); })
        .def_property_readonly("vocab_size", [](const NativeTokenizer& self) { return tokenizer_vocab_size(self.t); });

    m.def("tok_split", [](const std::string& s) {
        std::vector<size_t> ends(s.size() + 1);
        size_t n = tok_split(s.data(), s.size(), ends.data(), ends.size());
        ends.resize(n);
        return ends;
    }, py::arg("text"), "end byte offsets of the pre-tokens of text (the C split of SPLIT_PATTERN)");
    m.def("tok_count_words", &count_words, py::arg("texts"), py::arg("base"), py::arg("byte_offset"),
          "user-defined cut (by base) + split, count distinct pre-tokens -> (ids int32, offsets uint64, "
          "counts int64), words sorted by bytes");
    m.def("tok_pieces", [](const NativeTokenizer& self, const std::string& s) {
        std::vector<std::pair<std::string, int32_t>> out;
        struct Ctx { const std::string* s; std::vector<std::pair<std::string, int32_t>>* out; } ctx{&s, &out};
        auto fn = [](void* user, size_t a, size_t b, int32_t id) {
            Ctx* c = (Ctx*)user;
            c->out->emplace_back(c->s->substr(a, b - a), id);
        };
        if (tokenizer_pieces(self.t, s.data(), s.size(), fn, &ctx) != 0) throw std::runtime_error("tokenizer: out of memory");
        std::vector<std::pair<py::bytes, int32_t>> res;
        for (auto& p : out) res.emplace_back(py::bytes(p.first), p.second);
        return res;
    }, py::arg("tokenizer"), py::arg("text"), "the pieces encode works on: (bytes, id) with id -1 for a plain pre-token");
    m.def("tok_train_bpe", &train, py::arg("ids"), py::arg("offsets"), py::arg("counts"), py::arg("vocab"),
          py::arg("forced"), py::arg("n_merges"), py::arg("min_count"),
          "the BPE training loop of csrc/tokenizer.c -> (n, 2) int32 merges (forced ones first)");
    m.attr("TOK_PRE_NAME") = TOK_PRE_NAME;
    m.attr("TOK_SPLIT_PATTERN") = TOK_SPLIT_PATTERN;
}
