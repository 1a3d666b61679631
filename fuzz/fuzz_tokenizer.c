// libFuzzer harness over the C tokenizer as the runtime builds it from a GGUF file.
// Loads $ROBOLM_FUZZ_MODEL (default build/fuzz/corpus/gguf/tiny-f32.gguf, made by make_seeds.py),
// then for every input: encode never crashes, decode(encode(text)) == text byte for byte,
// and pre-tokenization covers the text exactly.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static rl_model model;
static int loaded = 0;

int LLVMFuzzerInitialize(int* argc, char*** argv) {
    const char* path = getenv("ROBOLM_FUZZ_MODEL");
    if (!path) path = "build/fuzz/corpus/gguf/tiny-f32.gguf";
    char err[RL_ERR_SIZE];
    if (rl_load(&model, path, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_tokenizer: %s (set ROBOLM_FUZZ_MODEL or run fuzz/make_seeds.py)\n", err);
        exit(1);
    }
    loaded = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!loaded) return 0;
    const char* text = (const char*)data;
    size_t n = tokenizer_encode(model.tokenizer, text, size, NULL, 0);
    int32_t* ids = (int32_t*)malloc((n ? n : 1) * sizeof(int32_t));
    size_t n2 = tokenizer_encode(model.tokenizer, text, size, ids, n);
    if (n2 != n) { fprintf(stderr, "encode: %zu then %zu ids\n", n, n2); abort(); }
    size_t len = tokenizer_decode(model.tokenizer, ids, n, 1, NULL, 0);
    char* back = (char*)malloc(len ? len : 1);
    tokenizer_decode(model.tokenizer, ids, n, 1, back, len);
    if (len != size || memcmp(back, data, size) != 0) {
        fprintf(stderr, "decode(encode(x)) != x for %zu bytes\n", size);
        abort();
    }
    size_t ends[4096];
    size_t k = tok_split(text, size, ends, 4096);
    if (k > 0 && k <= 4096 && ends[k - 1] != size) { fprintf(stderr, "split does not cover the text\n"); abort(); }
    int32_t pids[128];
    char err[RL_ERR_SIZE];
    char* prompt = (char*)malloc(size + 1);
    memcpy(prompt, data, size);
    prompt[size] = 0;  // the CLI's prompt is a C string: stops at the first NUL
    rl_build_prompt(&model, prompt, "hi", prompt, pids, 128, err, sizeof err);
    rl_build_explain_prompt(&model, prompt, "ta", pids, 128, err, sizeof err);
    free(prompt);
    free(back);
    free(ids);
    return 0;
}
