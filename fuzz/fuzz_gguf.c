// libFuzzer harness over the GGUF loader and the model checks (csrc/gguf.c, csrc/runtime.c).
// Any input must be refused with a message or loaded; never a crash, leak or UB.
// Build and run: `make fuzz` (clang, -fsanitize=fuzzer,address,undefined).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    char err[RL_ERR_SIZE];
    // the bare container
    gguf_file f;
    if (gguf_parse(&f, data, size, "fuzz", err, sizeof err) == 0) {
        for (uint64_t i = 0; i < f.n_kv; i++) {  // every accessor on every key must stay in bounds
            int64_t v;
            double d;
            const char* s;
            uint64_t len;
            gguf_kv_int(&f.kv[i], &v);
            gguf_kv_float(&f.kv[i], &d);
            gguf_kv_string(&f.kv[i], &s, &len);
            if (f.kv[i].type == GGUF_ARRAY && f.kv[i].arr_type == GGUF_STRING) {
                const uint8_t* p = f.kv[i].value;
                for (uint64_t j = 0; j < f.kv[i].arr_n; j++) gguf_arr_next_string(&p, &s, &len);
            } else if (f.kv[i].type == GGUF_ARRAY && f.kv[i].arr_n) {
                gguf_arr_int(&f.kv[i], f.kv[i].arr_n - 1, &v);
            }
        }
        gguf_close(&f);
    } else if (strncmp(err, "fuzz: ", 6) != 0 || !strstr(err, "Hint:")) {
        fprintf(stderr, "refusal without location/hint: %s\n", err);
        abort();
    }
    // the whole model: checks, tokenizer build, one forward step and a prompt when small enough
    rl_model m;
    if (rl_load_buffer(&m, data, size, err, sizeof err) == 0) {
        const rl_config* c = &m.config;
        if ((int64_t)c->dim * c->hidden_dim * c->n_layers < (1 << 22) && c->seq_len >= 2) {
            rl_forward(&m, c->vocab_size - 1, 0);
            rl_forward(&m, 0, 1);
        }
        int32_t ids[64];
        rl_build_prompt(&m, "blink the LED", "en", NULL, ids, 64, err, sizeof err);
        rl_free(&m);
    } else if (!strstr(err, "Hint:")) {
        fprintf(stderr, "refusal without a hint: %s\n", err);
        abort();
    }
    return 0;
}
