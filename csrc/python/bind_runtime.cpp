// The GGUF runtime seen from Python: robolm._native.Model (csrc/runtime.c).
//
//   m = robolm._native.Model("exports/robolm.gguf")
//   logits = m.forward([2, 4, 100])            # (3, vocab) float32, from an empty cache
//   ids = m.build_prompt("blink the LED", lang="hi")
//   new = m.generate(ids, max_new_tokens=200, temperature=0.0)
//   print(m.decode(new))
//
// The GIL is released while C computes; one process-wide mutex keeps two Python threads from
// sharing a model's KV cache, or quant.c's (non-reentrant) matmul thread pool, at once.
// C errors become ValueError with the C message.
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "bind.h"
#include "runtime.h"

namespace {

std::mutex runtime_mutex;  // the KV caches and quant.c's thread pool take one caller at a time

class Model {
public:
    explicit Model(const std::string& path) {
        char err[RL_ERR_SIZE];
        int rc;
        {
            py::gil_scoped_release release;
            rc = rl_load(&m_, path.c_str(), err, sizeof err);
        }
        if (rc != 0) {  // the message may quote bytes of a corrupt file: not always valid UTF-8
            PyObject* msg = PyUnicode_DecodeUTF8(err, (Py_ssize_t)strlen(err), "replace");
            if (!msg) throw py::error_already_set();
            PyErr_SetObject(PyExc_ValueError, msg);
            Py_DECREF(msg);
            throw py::error_already_set();
        }
        loaded_ = true;
    }
    ~Model() {
        if (loaded_) rl_free(&m_);
    }
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    py::dict config() const {
        const rl_config& c = m_.config;
        py::dict d;
        d["dim"] = c.dim; d["hidden_dim"] = c.hidden_dim; d["n_layers"] = c.n_layers;
        d["n_heads"] = c.n_heads; d["n_kv_heads"] = c.n_kv_heads; d["head_dim"] = c.head_dim;
        d["vocab_size"] = c.vocab_size; d["seq_len"] = c.seq_len;
        d["norm_eps"] = c.norm_eps; d["rope_theta"] = c.rope_theta;
        return d;
    }

    std::vector<int32_t> stop_ids() const { return std::vector<int32_t>(m_.stop_ids, m_.stop_ids + m_.n_stop); }

    // logits (T, V) for every position of tokens, starting at start_pos (0 = an empty cache);
    // batched = rl_prefill (matrix-matrix), else one rl_forward per token (the reference)
    py::array_t<float> forward(const std::vector<int32_t>& tokens, int start_pos, bool batched) {
        check_tokens(tokens);
        const int V = m_.config.vocab_size;
        if (start_pos < 0 || (size_t)start_pos + tokens.size() > (size_t)m_.config.seq_len)
            throw py::value_error("forward: positions " + std::to_string(start_pos) + ".." +
                                  std::to_string(start_pos + tokens.size()) + " exceed the context of " +
                                  std::to_string(m_.config.seq_len));
        py::array_t<float> out({(py::ssize_t)tokens.size(), (py::ssize_t)V});
        float* dst = out.mutable_data();
        bool ok = true;
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(runtime_mutex);
            if (batched && !tokens.empty()) {
                ok = rl_prefill(&m_, tokens.data(), (int)tokens.size(), start_pos, dst) != nullptr;
            } else {
                for (size_t i = 0; i < tokens.size(); i++) {
                    const float* logits = rl_forward(&m_, tokens[i], start_pos + (int)i);
                    std::copy(logits, logits + V, dst + i * (size_t)V);
                }
            }
        }
        if (!ok) throw py::value_error("forward: out of memory");
        return out;
    }

    // on_token(id) -> truthy to stop: called (with the GIL) as each token is sampled, for streaming
    struct stream_ctx {
        py::object fn;
        std::exception_ptr error;  // a Python exception from fn, re-raised after the C loop
    };
    static int on_token(int32_t id, void* user) {
        auto* ctx = static_cast<stream_ctx*>(user);
        py::gil_scoped_acquire gil;
        try {
            return py::bool_(ctx->fn(id)) ? 1 : 0;
        } catch (...) {
            ctx->error = std::current_exception();
            return 1;
        }
    }

    std::vector<int32_t> generate(const std::vector<int32_t>& prompt, int max_new_tokens, float temperature,
                                  int top_k, float top_p, uint64_t seed, py::object stop_ids, py::object on_tok) {
        check_tokens(prompt);
        if (max_new_tokens < 0) throw py::value_error("max_new_tokens must be >= 0");
        std::vector<int32_t> stops;
        bool custom = !stop_ids.is_none();
        if (custom) stops = stop_ids.cast<std::vector<int32_t>>();
        std::vector<int32_t> out((size_t)max_new_tokens + 1);
        rl_sampler s;
        rl_sampler_init(&s, temperature, top_k, top_p, seed);
        char err[RL_ERR_SIZE];
        int n;
        stream_ctx ctx;
        ctx.fn = on_tok;
        bool streaming = !on_tok.is_none();
        {
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(runtime_mutex);
            n = rl_generate(&m_, prompt.data(), (int)prompt.size(), max_new_tokens, &s,
                            custom ? stops.data() : nullptr, (int)stops.size(), streaming ? on_token : nullptr,
                            streaming ? &ctx : nullptr, out.data(), &stats_, err, sizeof err);
        }
        if (ctx.error) std::rethrow_exception(ctx.error);
        if (n < 0) throw py::value_error(err);
        out.resize((size_t)n);
        return out;
    }

    py::dict last_stats() const {
        py::dict d;
        d["n_prompt"] = stats_.n_prompt; d["n_generated"] = stats_.n_generated;
        d["prompt_seconds"] = stats_.prompt_seconds; d["gen_seconds"] = stats_.gen_seconds;
        return d;
    }

    std::vector<int32_t> encode(const std::string& text) {
        std::lock_guard<std::mutex> lock(runtime_mutex);  // the tokenizer keeps a cache
        size_t n = tokenizer_encode(m_.tokenizer, text.data(), text.size(), nullptr, 0);
        std::vector<int32_t> ids(n);
        if (n) tokenizer_encode(m_.tokenizer, text.data(), text.size(), ids.data(), n);
        return ids;
    }

    py::str decode(const std::vector<int32_t>& ids, bool skip_special) const {
        size_t n = tokenizer_decode(m_.tokenizer, ids.data(), ids.size(), skip_special, nullptr, 0);
        if (n == TOK_ERROR) throw py::value_error("decode: a token id is outside the vocabulary");
        std::string buf(n, '\0');
        tokenizer_decode(m_.tokenizer, ids.data(), ids.size(), skip_special, &buf[0], n);
        PyObject* s = PyUnicode_DecodeUTF8(buf.data(), (Py_ssize_t)buf.size(), "replace");
        if (!s) throw py::error_already_set();
        return py::reinterpret_steal<py::str>(s);
    }

    std::vector<int32_t> build_prompt(const std::string& prompt, const std::string& lang, py::object hardware) {
        std::string hw = hardware.is_none() ? std::string() : hardware.cast<std::string>();
        char err[RL_ERR_SIZE];
        std::lock_guard<std::mutex> lock(runtime_mutex);
        long n = rl_build_prompt(&m_, prompt.c_str(), lang.c_str(), hardware.is_none() ? nullptr : hw.c_str(),
                                 nullptr, 0, err, sizeof err);
        if (n < 0) throw py::value_error(err);
        std::vector<int32_t> ids((size_t)n);
        if (n) rl_build_prompt(&m_, prompt.c_str(), lang.c_str(), hardware.is_none() ? nullptr : hw.c_str(),
                               ids.data(), (size_t)n, err, sizeof err);
        return ids;
    }

    std::vector<int32_t> build_explain_prompt(const std::string& code, const std::string& lang) {
        char err[RL_ERR_SIZE];
        std::lock_guard<std::mutex> lock(runtime_mutex);
        long n = rl_build_explain_prompt(&m_, code.c_str(), lang.c_str(), nullptr, 0, err, sizeof err);
        if (n < 0) throw py::value_error(err);
        std::vector<int32_t> ids((size_t)n);
        if (n) rl_build_explain_prompt(&m_, code.c_str(), lang.c_str(), ids.data(), (size_t)n, err, sizeof err);
        return ids;
    }

    int token_type(int32_t id) const { return tokenizer_token_type(m_.tokenizer, id); }

private:
    void check_tokens(const std::vector<int32_t>& tokens) const {
        for (int32_t t : tokens)
            if (t < 0 || t >= m_.config.vocab_size)
                throw py::value_error("token id " + std::to_string(t) + " is outside the vocabulary of " +
                                      std::to_string(m_.config.vocab_size));
    }

    rl_model m_{};
    bool loaded_ = false;
    rl_stats stats_{};
};

}  // namespace

void bind_runtime(py::module_& m) {
    py::class_<Model>(m, "Model", "A RoboLM GGUF model in the C runtime (csrc/runtime.c)")
        .def(py::init<const std::string&>(), py::arg("path"))
        .def_property_readonly("config", &Model::config)
        .def_property_readonly("stop_ids", &Model::stop_ids)
        .def("forward", &Model::forward, py::arg("tokens"), py::arg("start_pos") = 0, py::arg("batched") = true,
             "logits (T, vocab) float32 for tokens at positions start_pos.. (the KV cache keeps earlier ones)")
        .def("generate", &Model::generate, py::arg("prompt_ids"), py::arg("max_new_tokens") = 200,
             py::arg("temperature") = 0.0f, py::arg("top_k") = 0, py::arg("top_p") = 1.0f, py::arg("seed") = 1,
             py::arg("stop_ids") = py::none(), py::arg("on_token") = py::none(),
             "new token ids after the prompt (the stop token, if reached, is the last one); "
             "on_token(id) is called as each one is sampled (return True to stop)")
        .def("last_stats", &Model::last_stats)
        .def("encode", &Model::encode, py::arg("text"), "plain text -> ids (never a special token)")
        .def("decode", &Model::decode, py::arg("ids"), py::arg("skip_special") = true)
        .def("build_prompt", &Model::build_prompt, py::arg("prompt"), py::arg("lang") = "en",
             py::arg("hardware") = py::none(), "RoboLM's code-generation prompt, up to and including [CODE]")
        .def("build_explain_prompt", &Model::build_explain_prompt, py::arg("code"), py::arg("lang") = "en",
             "RoboLM's explain-code prompt, up to and including [EXPLAIN]")
        .def("token_type", &Model::token_type, py::arg("id"));
}
