// The byte-level BPE tokenizer's hot path (csrc/tokenizer.c). Filled in by the tokenizer work.
#include "bind.h"

void bind_tokenizer(py::module_& m) {}
