// robolm._native: the C core seen from Python. Built by `pip install -e .`.
#include "bind.h"

PYBIND11_MODULE(_native, m) {
    m.doc() = "RoboLM's C core: kernels, tokenizer and GGUF runtime (see csrc/)";
    bind_kernels(m);
    bind_tokenizer(m);
    bind_runtime(m);
    bind_quant(m);
}
