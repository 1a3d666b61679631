// Q8_0 / Q4_0 blocks, dot products and the typed matmul of csrc/quant.c, for tests
// and benchmarks. Weights go in as raw bytes (uint8 arrays, e.g. w.view(np.uint8) for
// F32/F16, or robolm.quant.quantize_q8_0(w)), exactly as they sit in a GGUF file.
#include <stdexcept>
#include <string>

#include "bind.h"

extern "C" {
#include "quant.h"
}

using u8array = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

static int block_bytes(int type) {
    return type == QTYPE_Q8_0 ? (int)sizeof(block_q8_0) : type == QTYPE_Q4_0 ? (int)sizeof(block_q4_0) : 0;
}

static std::vector<py::ssize_t> shape_of(const py::array& a) {
    return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

// float (..., n) -> uint8 (..., n/32 * block bytes)
static u8array quantize_any(farray x, int type) {
    if (x.ndim() < 1) throw std::invalid_argument("quantize: need an array with at least one dimension");
    auto shape = shape_of(x);
    const int n = (int)shape.back();
    if (n % 32 != 0)
        throw std::invalid_argument("quantize: the last dimension (" + std::to_string(n) +
                                    ") must be a multiple of 32 (GGUF blocks)");
    const py::ssize_t rows = n ? x.size() / n : 0;
    shape.back() = (py::ssize_t)(n / 32) * block_bytes(type);
    u8array out(shape);
    const size_t rb = quant_row_bytes(type, n);
    for (py::ssize_t r = 0; r < rows; r++) {
        const float* xr = x.data() + r * n;
        uint8_t* yr = out.mutable_data() + r * rb;
        if (type == QTYPE_Q8_0) quantize_row_q8_0((block_q8_0*)yr, xr, n);
        else quantize_row_q4_0((block_q4_0*)yr, xr, n);
    }
    return out;
}

// uint8 (..., n/32 * block bytes) -> float (..., n)
static farray dequantize_any(u8array b, int type) {
    if (b.ndim() < 1) throw std::invalid_argument("dequantize: need an array with at least one dimension");
    auto shape = shape_of(b);
    const int bb = block_bytes(type);
    const py::ssize_t k = shape.back();
    if (k % bb != 0)
        throw std::invalid_argument("dequantize: last dimension " + std::to_string(k) +
                                    " is not a whole number of " + std::to_string(bb) + "-byte blocks");
    const int n = (int)(k / bb * 32);
    const py::ssize_t rows = k ? b.size() / k : 0;
    shape.back() = n;
    farray out(shape);
    for (py::ssize_t r = 0; r < rows; r++)
        dequantize_row(out.mutable_data() + r * n, b.data() + r * k, type, n);
    return out;
}

// Run f with kernel set `isa` (or the current one for isa < 0), then restore.
template <typename F>
static auto with_isa(int isa, F f) {
    const int before = quant_isa_get();
    if (isa >= 0 && quant_isa_set(isa) != 0)
        throw std::invalid_argument(std::string("this CPU/build cannot run kernel set ") + quant_isa_name(isa));
    try {
        auto r = f();
        quant_isa_set(before);
        return r;
    } catch (...) {
        quant_isa_set(before);
        throw;
    }
}

void bind_quant(py::module_& m) {
    m.attr("QTYPE_F32") = (int)QTYPE_F32;
    m.attr("QTYPE_F16") = (int)QTYPE_F16;
    m.attr("QTYPE_Q4_0") = (int)QTYPE_Q4_0;
    m.attr("QTYPE_Q8_0") = (int)QTYPE_Q8_0;

    m.def("quantize_q8_0", [](farray x) { return quantize_any(x, QTYPE_Q8_0); },
          "float (..., n) -> uint8 (..., n/32*34) Q8_0 blocks (csrc/quant.c)");
    m.def("quantize_q4_0", [](farray x) { return quantize_any(x, QTYPE_Q4_0); },
          "float (..., n) -> uint8 (..., n/32*18) Q4_0 blocks (csrc/quant.c)");
    m.def("dequantize_q8_0", [](u8array b) { return dequantize_any(b, QTYPE_Q8_0); });
    m.def("dequantize_q4_0", [](u8array b) { return dequantize_any(b, QTYPE_Q4_0); });
    m.def("quantize_q8_0_fast", [](farray x, int isa) {
        if (x.ndim() != 1 || x.shape(0) % 32) throw std::invalid_argument("need x (n,), n % 32 == 0");
        const int n = (int)x.shape(0);
        return with_isa(isa, [&]() {
            u8array out(std::vector<py::ssize_t>{(py::ssize_t)quant_row_bytes(QTYPE_Q8_0, n)});
            quantize_row_q8_0_fast((block_q8_0*)out.mutable_data(), x.data(), n);
            return out;
        });
    }, py::arg("x"), py::arg("isa") = -1, "the on-the-fly activation quantizer of kernel set `isa`");
    m.def("fp32_to_fp16", [](float f) { return fp32_to_fp16(f); });
    m.def("fp16_to_fp32", [](uint16_t h) { return fp16_to_fp32(h); });
    m.def("quant_row_bytes", &quant_row_bytes, py::arg("wtype"), py::arg("n"));

    // one dot product: w is one row of bytes of `wtype`; x is float32 (n,) for F32/F16,
    // or Q8_0 bytes for Q8_0/Q4_0. isa = -1 -> the scalar reference (*_ref).
    m.def("quant_dot", [](int wtype, u8array w, py::array x, int n, int isa) -> float {
        const size_t rb = quant_row_bytes(wtype, n);
        if (rb == 0 || (size_t)w.size() != rb)
            throw std::invalid_argument("quant_dot: w must hold exactly one row of n weights of wtype");
        const uint8_t* wp = w.data();
        if (wtype == QTYPE_F32 || wtype == QTYPE_F16) {
            farray xf = farray::ensure(x);
            if (!xf || xf.size() != n) throw std::invalid_argument("quant_dot: x must be float32 (n,)");
            const float* xp = xf.data();
            if (isa < 0) return wtype == QTYPE_F32 ? vec_dot_f32_ref(n, (const float*)wp, xp)
                                                   : vec_dot_f16_ref(n, (const uint16_t*)wp, xp);
            return with_isa(isa, [&]() {
                return wtype == QTYPE_F32 ? vec_dot_f32(n, (const float*)wp, xp)
                                          : vec_dot_f16(n, (const uint16_t*)wp, xp);
            });
        }
        u8array xb = u8array::ensure(x);
        if (!xb || (size_t)xb.size() != quant_row_bytes(QTYPE_Q8_0, n))
            throw std::invalid_argument("quant_dot: x must be Q8_0 bytes of n values");
        const block_q8_0* xq = (const block_q8_0*)xb.data();
        if (isa < 0) return wtype == QTYPE_Q8_0 ? vec_dot_q8_0_ref(n, (const block_q8_0*)wp, xq)
                                                : vec_dot_q4_0_ref(n, (const block_q4_0*)wp, xq);
        return with_isa(isa, [&]() {
            return wtype == QTYPE_Q8_0 ? vec_dot_q8_0(n, (const block_q8_0*)wp, xq)
                                       : vec_dot_q4_0(n, (const block_q4_0*)wp, xq);
        });
    }, py::arg("wtype"), py::arg("w"), py::arg("x"), py::arg("n"), py::arg("isa") = -1);

    // out (T, d) or (d,) = x (T, n) or (n,) @ w^T ; w: uint8 (d, row_bytes)
    m.def("matmul_typed", [](farray x, u8array w, int wtype, int isa, bool ref, int threads, bool packed) {
        const int n = (int)x.shape(x.ndim() - 1);
        const int T = x.ndim() == 1 ? 1 : (int)(x.size() / n);
        const size_t rb = quant_row_bytes(wtype, n);
        if (rb == 0) throw std::invalid_argument("matmul_typed: n does not suit the weight type");
        if (w.ndim() != 2 || (size_t)w.shape(1) != rb)
            throw std::invalid_argument("matmul_typed: w must be uint8 (d, row_bytes(wtype, n))");
        const int d = (int)w.shape(0);
        std::vector<py::ssize_t> shape = x.ndim() == 1 ? std::vector<py::ssize_t>{d}
                                                       : std::vector<py::ssize_t>{T, d};
        farray out(shape);
        if (ref) {
            for (int t = 0; t < T; t++)
                matmul_typed_ref(out.mutable_data() + (size_t)t * d, x.data() + (size_t)t * n, w.data(), wtype, n, d);
            return out;
        }
        const int threads_before = quant_get_threads();
        if (threads > 0) quant_set_threads(threads);
        with_isa(isa, [&]() {
            // packed: through a load-time repack, as the runtime does (where this ISA has the kernels)
            const int rows = packed ? quant_packed_rows(wtype, n, d) : 0;
            std::vector<uint8_t> pk((size_t)rows * rb + 64);
            if (rows) quant_repack(pk.data(), w.data(), wtype, n, d);
            if (rows) matmul_typed_batch_packed(out.mutable_data(), x.data(), w.data(), pk.data(), wtype, n, d, T);
            else if (T == 1) matmul_typed(out.mutable_data(), x.data(), w.data(), wtype, n, d);
            else matmul_typed_batch(out.mutable_data(), x.data(), w.data(), wtype, n, d, T);
            return 0;
        });
        if (threads > 0) quant_set_threads(threads_before);
        return out;
    }, py::arg("x"), py::arg("w"), py::arg("wtype"), py::arg("isa") = -1, py::arg("ref") = false,
       py::arg("threads") = 0, py::arg("packed") = false);
    m.def("quant_packed_rows", &quant_packed_rows, py::arg("wtype"), py::arg("n"), py::arg("d"));

    m.def("quant_isa_supported", &quant_isa_supported);
    m.def("quant_isa_best", &quant_isa_best);
    m.def("quant_isa_get", &quant_isa_get);
    m.def("quant_isa_set", &quant_isa_set);
    m.def("quant_isa_name", &quant_isa_name);
    m.def("quant_set_threads", &quant_set_threads);
    m.def("quant_get_threads", &quant_get_threads);
    m.def("quant_default_threads", &quant_default_threads);
}
