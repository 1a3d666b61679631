// The GGUF runtime (load, forward, generate). Filled in by the runtime work.
#include "bind.h"

void bind_runtime(py::module_& m) {}
