// Kernels one vector at a time, for the tests that compare C with its NumPy twin.
#include <stdexcept>
#include <string>
#include <utility>

#include "bind.h"
#include "kernels.h"

static void require(bool ok, const std::string& msg) {
    if (!ok) throw std::invalid_argument(msg);
}

void bind_kernels(py::module_& m) {
    m.def("rmsnorm", [](farray x, farray weight, float eps) {
        require(x.ndim() == 1 && weight.ndim() == 1 && x.size() == weight.size(),
                "rmsnorm: x and weight must be 1-D of the same length");
        farray out(x.size());
        rmsnorm(out.mutable_data(), x.data(), weight.data(), (int)x.size(), eps);
        return out;
    }, py::arg("x"), py::arg("weight"), py::arg("eps") = 1e-5f);

    m.def("rope", [](farray x, int pos, float theta) {
        require(x.ndim() == 2 && x.shape(1) % 2 == 0, "rope: x must be (n_heads, head_dim) with even head_dim");
        farray out(std::vector<py::ssize_t>{x.shape(0), x.shape(1)});
        std::copy(x.data(), x.data() + x.size(), out.mutable_data());
        rope(out.mutable_data(), (int)x.shape(0), (int)x.shape(1), pos, theta);
        return out;
    }, py::arg("x"), py::arg("pos"), py::arg("theta") = 10000.0f);

    auto bind_matmul = [&](const char* name, void (*fn)(float*, const float*, const float*, int, int)) {
        m.def(name, [fn, name](farray x, farray w) {
            require(x.ndim() == 1 && w.ndim() == 2 && w.shape(1) == x.shape(0),
                    std::string(name) + ": need x (n,) and w (d, n)");
            farray out(w.shape(0));
            {
                py::gil_scoped_release release;
                fn(out.mutable_data(), x.data(), w.data(), (int)w.shape(1), (int)w.shape(0));
            }
            return out;
        }, py::arg("x"), py::arg("w"));
    };
    bind_matmul("matmul", matmul);
    bind_matmul("matmul_naive", matmul_naive);

    m.def("softmax", [](farray x) {
        require(x.ndim() == 1 && x.size() > 0, "softmax: x must be a non-empty 1-D array");
        farray out(x.size());
        std::copy(x.data(), x.data() + x.size(), out.mutable_data());
        softmax(out.mutable_data(), (int)x.size());
        return out;
    }, py::arg("x"));

    // swiglu (the runtime's, vectorizable exp) and swiglu_ref (libm expf): same shape checks, same copy
    for (auto [name, fn] : {std::pair{"swiglu", &swiglu}, std::pair{"swiglu_ref", &swiglu_ref}}) {
        const std::string label = name;
        m.def(name, [label, fn](farray gate, farray up) {
            require(gate.ndim() == 1 && up.ndim() == 1 && gate.size() == up.size(),
                    label + ": gate and up must be 1-D of the same length");
            farray out(gate.size());
            std::copy(gate.data(), gate.data() + gate.size(), out.mutable_data());
            fn(out.mutable_data(), up.data(), (int)gate.size());
            return out;
        }, py::arg("gate"), py::arg("up"));
    }
}
