// RoboLM's C runtime: a Llama forward pass with grouped-query attention and a KV cache,
// the sampler, the prompt format and the generation loop, over a GGUF file loaded by
// csrc/gguf.c. Read beside robolm/model.py (PyTorch) and robolm/numpy_model.py (NumPy).
#ifndef ROBOLM_RUNTIME_H
#define ROBOLM_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RL_ERR_SIZE 512

typedef struct {
    int dim;          // D
    int hidden_dim;   // F
    int n_layers;     // L
    int n_heads;      // H
    int n_kv_heads;   // KV
    int head_dim;     // hd = D / H
    int vocab_size;   // V
    int seq_len;      // S, the context length
    float norm_eps;
    float rope_theta;
} rl_config;

// A weight matrix as the file stores it: rows of `cols` values of ggml `type`
// (F32, F16, Q8_0, Q4_0), i.e. an nn.Linear weight (rows = out, cols = in).
typedef struct {
    const void* data;
    int type;
    int rows, cols;
    void* packed;   // the rows repacked at load for this CPU's fastest kernels (quant_repack), or NULL
} rl_weight;

typedef struct {
    rl_weight tok_embeddings;   // (V, D), also the output head (tied)
    const float* norm;          // (D,)
    const float** attn_norm;    // L x (D,)
    rl_weight* wq;              // L x (H*hd, D)
    rl_weight* wk;              // L x (KV*hd, D)
    rl_weight* wv;              // L x (KV*hd, D)
    rl_weight* wo;              // L x (D, H*hd)
    const float** ffn_norm;     // L x (D,)
    rl_weight* w1;              // L x (F, D)  gate
    rl_weight* w2;              // L x (D, F)  down
    rl_weight* w3;              // L x (F, D)  up
} rl_weights;

typedef struct {
    float* x;            // (D,) the residual stream
    float* xb;           // (D,) normed input of a sublayer
    float* xb2;          // (D,)
    float* q;            // (H*hd,)
    float* k;            // (KV*hd,)
    float* v;            // (KV*hd,)
    float* att;          // (H, Sk) attention scores
    float* att_out;      // (H*hd,)
    float* hb;           // (F,)
    float* hb2;          // (F,)
    float* logits;       // (V,)
    float* key_cache;    // (L, S, KV*hd), the plain layout: head sizes that are not a multiple of 32 (else NULL)
    float* key_blocks;   // (L, KV, Sk/16, hd, 16): blocks of 16 positions, keys transposed (see store_key),
                         // for head sizes that are a multiple of 32 (else NULL)
    float* value_cache;  // (L, S, KV*hd)
    float* rope_cs;      // (hd,) cos, sin of each pair's angle at the current position
    int kv_stride;       // Sk: S rounded up to a multiple of 16 (whole vectors of positions)
    float* prefill_buf;  // the prompt's activations (rl_prefill), kept between calls
    size_t prefill_cap;  // floats in prefill_buf
} rl_state;

typedef struct {
    gguf_file file;
    rl_config config;
    rl_weights weights;
    rl_state state;
    Tokenizer* tokenizer;       // built from tokenizer.ggml.* (NULL only if the build failed)
    int32_t bos_id, eos_id;
    int32_t stop_ids[8];        // robolm.stop_token_ids (else eos)
    int n_stop;
    char* prompt_template;      // robolm.prompt.template ({lang} {prompt} {hardware}), NUL-terminated
    char* explain_template;     // robolm.prompt.explain_template ({lang} {code}), or NULL
    char* default_hardware;
    float* f16_scratch;         // a dequantized row (embedding lookups)
} rl_model;

// Load a RoboLM GGUF file: map it, check that its parts agree (head counts vs dims,
// vocab size vs embedding rows, every tensor's shape), build the tokenizer, allocate the
// state. Returns 0, or -1 with a message + hint in err.
int rl_load(rl_model* m, const char* path, char* err, size_t err_size);
// The same over a buffer the caller keeps alive (tests, fuzzing).
int rl_load_buffer(rl_model* m, const void* data, size_t size, char* err, size_t err_size);
void rl_free(rl_model* m);

// torch: logits = model(tokens[pos])[-1] with the KV cache holding positions 0..pos-1.
// Returns the logits (V,), owned by the model (overwritten by the next call).
float* rl_forward(rl_model* m, int token, int pos);

// The same for T consecutive tokens at positions start_pos.. (the prompt), with batched
// matmuls: each weight row is read once per 128 positions. Writes the logits of every
// position to all_logits (T, V) if not NULL; returns the last position's logits, or NULL
// on bad input / out of memory.
float* rl_prefill(rl_model* m, const int32_t* tokens, int T, int start_pos, float* all_logits);

// ---------------------------------------------------------------- sampler
typedef struct {
    float temperature;   // 0 -> greedy
    int top_k;           // 0 -> all
    float top_p;         // >= 1 -> all
    uint64_t rng_state;  // xorshift64*
} rl_sampler;

typedef struct { float prob; int index; } rl_prob_index;

void rl_sampler_init(rl_sampler* s, float temperature, int top_k, float top_p, uint64_t seed);
uint32_t rl_random_u32(uint64_t* state);
float rl_random_f32(uint64_t* state);
// Pick the next token. Modifies logits (softmax in place). `scratch` holds V entries.
int rl_sample(rl_sampler* s, float* logits, int vocab_size, rl_prob_index* scratch);

// ---------------------------------------------------------------- prompt and generation
// Build RoboLM's code-generation prompt from the file's template: control tokens by id,
// text through the tokenizer. hardware NULL -> the file's default. Returns the number of
// ids (possibly > cap: call again with more room) or -1 with a message in err.
long rl_build_prompt(rl_model* m, const char* prompt, const char* lang, const char* hardware,
                     int32_t* out, size_t cap, char* err, size_t err_size);

// The explain-code prompt (code in, explanation in `lang` out), up to and including [EXPLAIN].
long rl_build_explain_prompt(rl_model* m, const char* code, const char* lang, int32_t* out, size_t cap, char* err,
                             size_t err_size);

typedef struct {
    double prompt_seconds, gen_seconds;
    int n_prompt, n_generated;
} rl_stats;

// Called with each new token id; return nonzero to stop.
typedef int (*rl_token_callback)(int32_t token, void* user);

// Run the prompt, then sample up to max_new tokens, stopping after a stop token (which is
// passed to the callback and counted) or at the end of the context. Writes the new ids to
// out (if not NULL, up to max_new) and returns how many were generated, or -1 on bad input.
int rl_generate(rl_model* m, const int32_t* prompt, int n_prompt, int max_new, rl_sampler* s,
                const int32_t* stop_ids, int n_stop, rl_token_callback cb, void* user,
                int32_t* out, rl_stats* stats, char* err, size_t err_size);

int rl_is_stop(const rl_model* m, int32_t token);

#ifdef __cplusplus
}
#endif
#endif
