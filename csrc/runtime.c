// ============================================================================
// RoboLM C runtime: load a GGUF file, run the Llama forward pass one token at a
// time with a KV cache, sample, build the prompt and generate.
//
// Read beside robolm/model.py: above each block is the PyTorch line it implements.
// The NumPy twin, step for step, is robolm/numpy_model.py. The float kernels
// (rmsnorm, rope, softmax, swiglu) are in kernels.c; the weight-type-aware
// matmul (F32/F16/Q8_0/Q4_0, threaded) is matmul_typed in quant.c.
//
// Sections: config + weights (loading and checking) | forward | sampler |
//           prompt | generation
// ============================================================================
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE  // clock_gettime
#endif
#include "runtime.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"
#include "quant.h"

// ============================================================================ config + weights

typedef struct {
    rl_model* m;
    const char* label;  // the file's path, for messages
    char* err;
    size_t err_size;
    int failed;
} loader;

static int refuse(loader* ld, const char* hint, const char* fmt, ...) {
    if (ld->failed) return -1;
    ld->failed = 1;
    char what[RL_ERR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(ld->err, ld->err_size, "%s: %s. Hint: %s", ld->label, what,
             hint ? hint : "re-export the checkpoint with export_gguf.py");
    return -1;
}

// a required positive integer key, at most `max`
static int key_int(loader* ld, const char* key, int64_t max, int required, int64_t fallback) {
    const gguf_kv* kv = gguf_find_kv(&ld->m->file, key);
    int64_t v;
    if (!kv) {
        if (required) refuse(ld, NULL, "metadata key '%s' is missing", key);
        return (int)fallback;
    }
    if (gguf_kv_int(kv, &v) != 0) { refuse(ld, NULL, "metadata key '%s' is not an integer", key); return 0; }
    if (v <= 0 || v > max) { refuse(ld, NULL, "%s = %lld is absurd", key, (long long)v); return 0; }
    return (int)v;
}

// A weight of the expected NumPy shape (rows, cols), any type the matmul runs.
static int get_weight(loader* ld, rl_weight* w, const char* name, int rows, int cols) {
    const gguf_tensor* t = gguf_find_tensor(&ld->m->file, name);
    if (!t) return refuse(ld, NULL, "tensor '%s' is missing", name);
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows)
        return refuse(ld, NULL, "tensor '%s' has ggml dims [%lld, %lld], the metadata says [%d, %d]%s", name,
                      (long long)t->ne[0], (long long)(t->n_dims > 1 ? t->ne[1] : 1), cols, rows,
                      strcmp(name, "token_embd.weight") == 0 ? " (vocab size vs embedding rows)" : "");
    w->data = t->data;
    w->type = (int)t->type;
    w->rows = rows;
    w->cols = cols;
    return 0;
}

// A norm vector: always F32, (n,)
static const float* get_vector(loader* ld, const char* name, int n) {
    const gguf_tensor* t = gguf_find_tensor(&ld->m->file, name);
    if (!t) { refuse(ld, NULL, "tensor '%s' is missing", name); return NULL; }
    if (t->n_dims != 1 || t->ne[0] != n || t->type != GGML_TYPE_F32) {
        refuse(ld, NULL, "tensor '%s' must be F32 of %d values", name, n);
        return NULL;
    }
    return (const float*)t->data;  // data is 32-byte aligned inside a page-aligned map
}

static char* dup_string_key(loader* ld, const char* key, const char* fallback) {
    const gguf_kv* kv = gguf_find_kv(&ld->m->file, key);
    const char* s = fallback;
    uint64_t len = fallback ? strlen(fallback) : 0;
    if (kv && gguf_kv_string(kv, &s, &len) != 0) { refuse(ld, NULL, "metadata key '%s' is not a string", key); return NULL; }
    if (!s) return NULL;
    char* out = (char*)malloc(len + 1);
    if (!out) { refuse(ld, "free some memory", "out of memory"); return NULL; }
    memcpy(out, s, len);
    out[len] = 0;
    return out;
}

static int build_tokenizer(loader* ld) {
    rl_model* m = ld->m;
    const gguf_kv* tokens = gguf_find_kv(&m->file, "tokenizer.ggml.tokens");
    const gguf_kv* types = gguf_find_kv(&m->file, "tokenizer.ggml.token_type");
    const gguf_kv* merges = gguf_find_kv(&m->file, "tokenizer.ggml.merges");
    const gguf_kv* model = gguf_find_kv(&m->file, "tokenizer.ggml.model");
    const char* s;
    uint64_t len;
    if (!model || gguf_kv_string(model, &s, &len) != 0 || len != 4 || memcmp(s, "gpt2", 4) != 0)
        return refuse(ld, NULL, "tokenizer.ggml.model must be \"gpt2\" (byte-level BPE)");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->arr_type != GGUF_STRING)
        return refuse(ld, NULL, "tokenizer.ggml.tokens is missing or not an array of strings");
    if (!merges || merges->type != GGUF_ARRAY || merges->arr_type != GGUF_STRING)
        return refuse(ld, NULL, "tokenizer.ggml.merges is missing or not an array of strings");
    size_t V = (size_t)tokens->arr_n, M = (size_t)merges->arr_n;
    if (V != (size_t)m->config.vocab_size) return refuse(ld, NULL, "internal: vocab size changed");
    if (types && (types->type != GGUF_ARRAY || types->arr_n != V ||
                  (types->arr_type != GGUF_INT32 && types->arr_type != GGUF_UINT32)))
        return refuse(ld, NULL, "tokenizer.ggml.token_type must be %zu int32 values, one per token", V);
    const char** tok = (const char**)malloc((V + 1) * sizeof(char*));
    size_t* tok_len = (size_t*)malloc((V + 1) * sizeof(size_t));
    int32_t* typ = (int32_t*)malloc((V + 1) * sizeof(int32_t));
    const char** mer = (const char**)malloc((M + 1) * sizeof(char*));
    size_t* mer_len = (size_t*)malloc((M + 1) * sizeof(size_t));
    int rc = 0;
    if (!tok || !tok_len || !typ || !mer || !mer_len) {
        rc = refuse(ld, "free some memory", "out of memory for the tokenizer");
    } else {
        const uint8_t* p = tokens->value;
        for (size_t i = 0; i < V; i++) {
            gguf_arr_next_string(&p, &s, &len);
            tok[i] = s;
            tok_len[i] = (size_t)len;
            int64_t t = 1;
            if (types) gguf_arr_int(types, i, &t);
            typ[i] = (int32_t)t;
        }
        p = merges->value;
        for (size_t i = 0; i < M; i++) {
            gguf_arr_next_string(&p, &s, &len);
            mer[i] = s;
            mer_len[i] = (size_t)len;
        }
        char terr[256];
        m->tokenizer = tokenizer_build_gguf(tok, tok_len, typ, V, mer, mer_len, M, terr, sizeof terr);
        if (!m->tokenizer) rc = refuse(ld, NULL, "the tokenizer in the file is inconsistent: %s", terr);
    }
    free(tok); free(tok_len); free(typ); free(mer); free(mer_len);
    return rc;
}

static int32_t special_id(loader* ld, const char* key, const char* name) {
    rl_model* m = ld->m;
    int64_t v;
    const gguf_kv* kv = gguf_find_kv(&m->file, key);
    if (kv && gguf_kv_int(kv, &v) == 0) {
        if (v < 0 || v >= m->config.vocab_size) {
            refuse(ld, NULL, "%s = %lld is outside the vocabulary of %d", key, (long long)v, m->config.vocab_size);
            return -1;
        }
        return (int32_t)v;
    }
    return m->tokenizer ? tokenizer_find(m->tokenizer, name, strlen(name)) : -1;
}

static void* alloc_floats(loader* ld, size_t n) {
    float* p = (float*)calloc(n ? n : 1, sizeof(float));
    if (!p) refuse(ld, "use a smaller context or model", "cannot allocate %zu floats", n);
    return p;
}

// A copy of a Q4_0 / Q8_0 matrix in the interleaved layout of this CPU's kernels (the file is
// untouched; matmuls read the copy). With `release`, the file's pages of the matrix are given
// back to the page cache (read again only if the kernel choice changes; embedding lookups read
// the copy), so the copy costs no extra memory.
static int repack_weight(loader* ld, rl_weight* w, int release) {
    const char* env = getenv("ROBOLM_REPACK");  // ROBOLM_REPACK=0: read the file's rows (to compare)
    if (env && strcmp(env, "0") == 0) return 0;
    int rows = quant_packed_rows(w->type, w->cols, w->rows);
    if (rows == 0) return 0;
    size_t bytes = (size_t)rows * quant_row_bytes(w->type, w->cols);
    w->packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!w->packed) return refuse(ld, "free some memory", "out of memory for a %zu-byte weight copy", bytes);
    quant_repack(w->packed, w->data, w->type, w->cols, w->rows);
    if (release && ld->m->file.mapped) {
        long page = sysconf(_SC_PAGESIZE);
        uintptr_t a = ((uintptr_t)w->data + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
        uintptr_t b = ((uintptr_t)w->data + bytes) / (uintptr_t)page * (uintptr_t)page;
        if (page > 0 && b > a) madvise((void*)a, b - a, MADV_DONTNEED);
    }
    return 0;
}

// The prompt is processed PREFILL_CHUNK positions at a time (see prefill_chunk)
#define PREFILL_CHUNK 128

// room in s->prefill_buf for the activations of T positions (grows, never shrinks)
static int prefill_reserve(rl_state* s, const rl_config* c, int T) {
    size_t D = (size_t)c->dim, q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    size_t need = (size_t)T * (2 * D + 2 * q_dim + 2 * kv_dim + 2 * (size_t)c->hidden_dim + (size_t)c->head_dim);
    if (need <= s->prefill_cap) return 0;
    float* b = (float*)realloc(s->prefill_buf, need * sizeof(float));
    if (!b) return -1;
    s->prefill_buf = b;
    s->prefill_cap = need;
    return 0;
}

static int load_model(rl_model* m, const char* label, char* err, size_t err_size) {
    loader L = {m, label, err, err_size, 0};
    loader* ld = &L;
    rl_config* c = &m->config;
    const gguf_file* f = &m->file;

    // ---- hyperparameters, each checked, then checked against each other
    const gguf_kv* arch = gguf_find_kv(f, "general.architecture");
    const char* s;
    uint64_t len;
    if (!arch || gguf_kv_string(arch, &s, &len) != 0 || len != 5 || memcmp(s, "llama", 5) != 0)
        return refuse(ld, NULL, "general.architecture must be \"llama\"");
    c->dim = key_int(ld, "llama.embedding_length", 1 << 16, 1, 0);
    c->hidden_dim = key_int(ld, "llama.feed_forward_length", 1 << 18, 1, 0);
    c->n_layers = key_int(ld, "llama.block_count", 1 << 10, 1, 0);
    c->n_heads = key_int(ld, "llama.attention.head_count", 1 << 10, 1, 0);
    c->n_kv_heads = key_int(ld, "llama.attention.head_count_kv", 1 << 10, 0, c->n_heads);
    c->seq_len = key_int(ld, "llama.context_length", 1 << 20, 1, 0);
    if (ld->failed) return -1;
    double eps, theta = 10000.0;
    if (gguf_kv_float(gguf_find_kv(f, "llama.attention.layer_norm_rms_epsilon"), &eps) != 0 || !(eps > 0 && eps < 1))
        return refuse(ld, NULL, "llama.attention.layer_norm_rms_epsilon is missing or not in (0, 1)");
    const gguf_kv* th = gguf_find_kv(f, "llama.rope.freq_base");
    if (th && (gguf_kv_float(th, &theta) != 0 || !(theta > 1 && theta < 1e9)))
        return refuse(ld, NULL, "llama.rope.freq_base is not a sensible number");
    c->norm_eps = (float)eps;
    c->rope_theta = (float)theta;
    if (c->dim % c->n_heads || (c->dim / c->n_heads) % 2)
        return refuse(ld, NULL, "dim %d does not split into %d heads of even size (head counts vs dims)", c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return refuse(ld, NULL, "head_count %d is not a multiple of head_count_kv %d", c->n_heads, c->n_kv_heads);
    c->head_dim = c->dim / c->n_heads;
    int rope_dims = key_int(ld, "llama.rope.dimension_count", 1 << 16, 0, c->head_dim);
    if (ld->failed) return -1;
    if (rope_dims != c->head_dim)
        return refuse(ld, NULL, "rope.dimension_count %d differs from head_dim %d", rope_dims, c->head_dim);
    const gguf_kv* tokens = gguf_find_kv(f, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->arr_type != GGUF_STRING || tokens->arr_n == 0 ||
        tokens->arr_n > (1 << 24))
        return refuse(ld, NULL, "tokenizer.ggml.tokens is missing or not a non-empty array of strings");
    c->vocab_size = (int)tokens->arr_n;
    const gguf_kv* vs = gguf_find_kv(f, "llama.vocab_size");
    int64_t v;
    if (vs && (gguf_kv_int(vs, &v) != 0 || v != c->vocab_size))
        return refuse(ld, NULL, "llama.vocab_size differs from the %d tokens in tokenizer.ggml.tokens (vocab mismatch)",
                      c->vocab_size);

    // ---- weights: every tensor present with the shape the metadata implies
    int D = c->dim, F = c->hidden_dim, Lr = c->n_layers, hd = c->head_dim;
    rl_weights* w = &m->weights;
    if (get_weight(ld, &w->tok_embeddings, "token_embd.weight", c->vocab_size, D)) return -1;
    if (!(w->norm = get_vector(ld, "output_norm.weight", D))) return -1;
    w->attn_norm = (const float**)calloc((size_t)Lr, sizeof(float*));
    w->ffn_norm = (const float**)calloc((size_t)Lr, sizeof(float*));
    w->wq = (rl_weight*)calloc((size_t)Lr, sizeof(rl_weight));
    w->wk = (rl_weight*)calloc((size_t)Lr, sizeof(rl_weight));
    w->wv = (rl_weight*)calloc((size_t)Lr, sizeof(rl_weight));
    w->wo = (rl_weight*)calloc((size_t)Lr, sizeof(rl_weight));
    w->w1 = (rl_weight*)calloc((size_t)Lr, sizeof(rl_weight));
    w->w2 = (rl_weight*)calloc((size_t)Lr, sizeof(rl_weight));
    w->w3 = (rl_weight*)calloc((size_t)Lr, sizeof(rl_weight));
    if (!w->attn_norm || !w->ffn_norm || !w->wq || !w->wk || !w->wv || !w->wo || !w->w1 || !w->w2 || !w->w3)
        return refuse(ld, "free some memory", "out of memory");
    char name[GGUF_MAX_NAME + 1];
#define LAYER_NAME(fmt) (snprintf(name, sizeof name, fmt, l), name)
    for (int l = 0; l < Lr; l++) {
        if (!(w->attn_norm[l] = get_vector(ld, LAYER_NAME("blk.%d.attn_norm.weight"), D))) return -1;
        if (get_weight(ld, &w->wq[l], LAYER_NAME("blk.%d.attn_q.weight"), c->n_heads * hd, D)) return -1;
        if (get_weight(ld, &w->wk[l], LAYER_NAME("blk.%d.attn_k.weight"), c->n_kv_heads * hd, D)) return -1;
        if (get_weight(ld, &w->wv[l], LAYER_NAME("blk.%d.attn_v.weight"), c->n_kv_heads * hd, D)) return -1;
        if (get_weight(ld, &w->wo[l], LAYER_NAME("blk.%d.attn_output.weight"), D, c->n_heads * hd)) return -1;
        if (!(w->ffn_norm[l] = get_vector(ld, LAYER_NAME("blk.%d.ffn_norm.weight"), D))) return -1;
        if (get_weight(ld, &w->w1[l], LAYER_NAME("blk.%d.ffn_gate.weight"), F, D)) return -1;
        if (get_weight(ld, &w->w2[l], LAYER_NAME("blk.%d.ffn_down.weight"), D, F)) return -1;
        if (get_weight(ld, &w->w3[l], LAYER_NAME("blk.%d.ffn_up.weight"), F, D)) return -1;
    }
#undef LAYER_NAME

    // ---- tokenizer, special ids, prompt format
    if (build_tokenizer(ld)) return -1;
    m->bos_id = special_id(ld, "tokenizer.ggml.bos_token_id", "<bos>");
    m->eos_id = special_id(ld, "tokenizer.ggml.eos_token_id", "<eos>");
    if (ld->failed) return -1;
    const gguf_kv* stops = gguf_find_kv(f, "robolm.stop_token_ids");
    m->n_stop = 0;
    if (stops) {
        if (stops->type != GGUF_ARRAY || stops->arr_n > 8)
            return refuse(ld, NULL, "robolm.stop_token_ids must be an array of at most 8 ids");
        for (uint64_t i = 0; i < stops->arr_n; i++) {
            int64_t id;
            if (gguf_arr_int(stops, i, &id) != 0 || id < 0 || id >= c->vocab_size)
                return refuse(ld, NULL, "robolm.stop_token_ids[%llu] is not a token id", (unsigned long long)i);
            m->stop_ids[m->n_stop++] = (int32_t)id;
        }
    } else if (m->eos_id >= 0) {
        m->stop_ids[m->n_stop++] = m->eos_id;
    }
    m->prompt_template = dup_string_key(ld, "robolm.prompt.template", NULL);
    m->explain_template = dup_string_key(ld, "robolm.prompt.explain_template", NULL);
    m->default_hardware = dup_string_key(ld, "robolm.prompt.default_hardware", "");
    if (ld->failed) return -1;

    // ---- Q4_0 / Q8_0 matrices repacked for this CPU's kernels (8 rows interleaved)
    if (repack_weight(ld, &w->tok_embeddings, 1)) return -1;
    for (int l = 0; l < Lr; l++) {
        rl_weight* all[7] = {&w->wq[l], &w->wk[l], &w->wv[l], &w->wo[l], &w->w1[l], &w->w2[l], &w->w3[l]};
        for (int i = 0; i < 7; i++) if (repack_weight(ld, all[i], 1)) return -1;
    }

    // ---- the state: activations and the KV cache
    rl_state* st = &m->state;
    size_t kv_dim = (size_t)c->n_kv_heads * hd;
    st->x = alloc_floats(ld, (size_t)D);
    st->xb = alloc_floats(ld, (size_t)D);
    st->xb2 = alloc_floats(ld, (size_t)D);
    st->q = alloc_floats(ld, (size_t)c->n_heads * hd);
    st->k = alloc_floats(ld, kv_dim);
    st->v = alloc_floats(ld, kv_dim);
    st->kv_stride = (c->seq_len + 15) / 16 * 16;
    st->att = alloc_floats(ld, (size_t)c->n_heads * st->kv_stride);
    st->att_out = alloc_floats(ld, (size_t)c->n_heads * hd);
    st->hb = alloc_floats(ld, (size_t)F);
    st->hb2 = alloc_floats(ld, (size_t)F);
    st->logits = alloc_floats(ld, (size_t)c->vocab_size);
    if (hd % 32 == 0) st->key_blocks = alloc_floats(ld, (size_t)Lr * kv_dim * st->kv_stride);
    else st->key_cache = alloc_floats(ld, (size_t)Lr * c->seq_len * kv_dim);
    st->rope_cs = alloc_floats(ld, (size_t)hd);
    st->value_cache = alloc_floats(ld, (size_t)Lr * c->seq_len * kv_dim);
    if (ld->failed) return -1;
    // Touch the prompt's buffers now, so the first prompt does not pay the page faults of fresh
    // memory. (The KV cache is left to fill as the context does: it is most of the memory.)
    int T = c->seq_len < PREFILL_CHUNK ? c->seq_len : PREFILL_CHUNK;
    if (prefill_reserve(st, c, T) != 0) return refuse(ld, "use a smaller model", "out of memory for the prompt buffers");
    memset(st->prefill_buf, 0, st->prefill_cap * sizeof(float));
    return 0;
}

int rl_load(rl_model* m, const char* path, char* err, size_t err_size) {
    memset(m, 0, sizeof *m);
    if (gguf_open(&m->file, path, err, err_size) != 0) return -1;
    if (load_model(m, path, err, err_size) != 0) { rl_free(m); return -1; }
    return 0;
}

int rl_load_buffer(rl_model* m, const void* data, size_t size, char* err, size_t err_size) {
    memset(m, 0, sizeof *m);
    if (gguf_parse(&m->file, data, size, "<buffer>", err, err_size) != 0) return -1;
    if (load_model(m, "<buffer>", err, err_size) != 0) { rl_free(m); return -1; }
    return 0;
}

void rl_free(rl_model* m) {
    rl_weights* w = &m->weights;
    free(w->tok_embeddings.packed);
    for (int l = 0; w->wq && l < m->config.n_layers; l++) {
        free(w->wq[l].packed); free(w->wk[l].packed); free(w->wv[l].packed); free(w->wo[l].packed);
        free(w->w1[l].packed); free(w->w2[l].packed); free(w->w3[l].packed);
    }
    free(w->attn_norm); free(w->ffn_norm);
    free(w->wq); free(w->wk); free(w->wv); free(w->wo);
    free(w->w1); free(w->w2); free(w->w3);
    rl_state* s = &m->state;
    free(s->x); free(s->xb); free(s->xb2); free(s->q); free(s->k); free(s->v);
    free(s->att); free(s->att_out); free(s->hb); free(s->hb2); free(s->logits);
    free(s->key_cache); free(s->key_blocks); free(s->value_cache); free(s->rope_cs); free(s->prefill_buf);
    if (m->tokenizer) tokenizer_free(m->tokenizer);
    free(m->prompt_template);
    free(m->explain_template);
    free(m->default_hardware);
    gguf_close(&m->file);
    memset(m, 0, sizeof *m);
}

// ============================================================================ forward

// torch: self.tok_embeddings(token) -> out (D,): from the repacked copy where there is one (the
// file's pages of the embedding were given back after the repack), else from the file's row
static void embedding_row(float* out, const rl_weight* e, int token) {
    if (e->packed && token < quant_packed_rows(e->type, e->cols, e->rows)) {
        dequantize_row_packed(out, e->packed, e->type, e->cols, token);
    } else {
        size_t row = quant_row_bytes(e->type, e->cols);
        dequantize_row(out, (const uint8_t*)e->data + (size_t)token * row, e->type, e->cols);
    }
}

// torch: F.linear(x, w) for any stored weight type
static void matmul_w(float* out, const float* x, const rl_weight* w) {
    matmul_typed_batch_packed(out, x, w->data, w->packed, w->type, w->cols, w->rows, 1);
}

// two or three matrices on the same x (T, cols): q, k, v = wq(x), wk(x), wv(x); w1(x), w3(x)
// (x is quantized once for all of them; c = NULL for two)
static void matmul_w3(float* a, const rl_weight* wa, float* b, const rl_weight* wb, float* c, const rl_weight* wc,
                      const float* x, int T) {
    quant_matmul mm[3] = {{a, wa->data, wa->packed, wa->type, wa->rows},
                          {b, wb->data, wb->packed, wb->type, wb->rows},
                          {c, c ? wc->data : NULL, c ? wc->packed : NULL, c ? wc->type : 0, c ? wc->rows : 0}};
    matmul_typed_multi(mm, c ? 3 : 2, x, wa->cols, T);
}

// the same for T rows of x: out (T, rows) = x (T, cols) @ w.T
static void matmul_wT(float* out, const float* x, const rl_weight* w, int T) {
    matmul_typed_batch_packed(out, x, w->data, w->packed, w->type, w->cols, w->rows, T);
}

// torch: apply_rope(x, cos, sin), split in two: the angles of one position (computed once
// per token, shared by q and k of every layer; the same arithmetic as kernels.c's rope)
static void rope_angles(float* cs, int head_dim, int pos, float theta) {
    for (int i = 0; i < head_dim / 2; i++) {
        double freq = pow((double)theta, -2.0 * i / head_dim);
        double angle = pos * freq;
        cs[2 * i] = (float)cos(angle);
        cs[2 * i + 1] = (float)sin(angle);
    }
}

// ... and the rotation of adjacent pairs (x[2i], x[2i+1]) of each head. x (n_heads, hd)
static void rope_rotate(float* x, int n_heads, int head_dim, const float* cs) {
    for (int h = 0; h < n_heads; h++) {
        float* v = x + (size_t)h * head_dim;
        for (int i = 0; i < head_dim / 2; i++) {
            float v0 = v[2 * i], v1 = v[2 * i + 1], c = cs[2 * i], s = cs[2 * i + 1];
            v[2 * i] = v0 * c - v1 * s;
            v[2 * i + 1] = v0 * s + v1 * c;
        }
    }
}

// cache_k[:, :, pos] = k. The key cache of one layer is kept as (KV, Sk/16, hd, 16): for
// each kv head, blocks of 16 positions, each block hd rows of 16 (the keys transposed),
// so the scores of 16 positions are one vector FMA per dim over contiguous memory.
static void store_key(float* kc, const float* k, int KV, int hd, int Sk, int pos) {
    for (int h = 0; h < KV; h++) {
        float* blk = kc + ((size_t)h * Sk + (size_t)(pos / 16) * 16) * hd + pos % 16;
        for (int i = 0; i < hd; i++) blk[(size_t)i * 16] = k[(size_t)h * hd + i];
    }
}

// One query head against positions 0..n-1 of its kv head.
// torch: softmax(q @ k.T / sqrt(hd)) @ v      q (hd,), kb (Sk/16, hd, 16) the head's key blocks,
// v rows of hd at stride v_stride, att (n rounded up to 16) scratch, out (hd,)
// The loops run over 16 positions (scores) or 16-64 dims (values) at a time with the running
// sums in vector registers; each sum is still taken in plain order (over dims for a score,
// over positions for a value).
static void attend(float* out, const float* q, const float* kb, const float* v, int v_stride, int hd, int n,
                   float scale, float* att) {
    for (int t0 = 0; t0 < n; t0 += 16) {        // scores; positions past n are computed and ignored
        // 4 partial sums (dims i mod 4): 4 independent chains of vector FMAs
        float a0[16] = {0}, a1[16] = {0}, a2[16] = {0}, a3[16] = {0};
        const float* kr = kb + (size_t)t0 * hd;  // this block: (hd, 16)
        int i = 0;
        for (; i + 4 <= hd; i += 4) {
            const float q0 = q[i], q1 = q[i + 1], q2 = q[i + 2], q3 = q[i + 3];
            const float* k0 = kr + (size_t)i * 16;
#pragma GCC unroll 1  /* one 16-wide vector op each (unrolled, GCC splits them into odd pieces) */
            for (int u = 0; u < 16; u++) {
                a0[u] += q0 * k0[u];
                a1[u] += q1 * k0[16 + u];
                a2[u] += q2 * k0[32 + u];
                a3[u] += q3 * k0[48 + u];
            }
        }
        for (; i < hd; i++)
            for (int u = 0; u < 16; u++) a0[u] += q[i] * kr[(size_t)i * 16 + u];
        for (int u = 0; u < 16; u++) att[t0 + u] = ((a0[u] + a1[u]) + (a2[u] + a3[u])) * scale;
    }
    softmax(att, n);
    int i0 = 0;
    for (; i0 + 64 <= hd; i0 += 64) {           // 64 dims: 4 vector registers of sums
        float acc[64] = {0};
        for (int t = 0; t < n; t++) {
            const float a = att[t];
            const float* vr = v + (size_t)t * v_stride + i0;
            for (int u = 0; u < 64; u++) acc[u] += a * vr[u];
        }
        for (int u = 0; u < 64; u++) out[i0 + u] = acc[u];
    }
    for (; i0 + 16 <= hd; i0 += 16) {
        float acc[16] = {0};
        for (int t = 0; t < n; t++) {
            const float a = att[t];
            const float* vr = v + (size_t)t * v_stride + i0;
#pragma GCC unroll 1
            for (int u = 0; u < 16; u++) acc[u] += a * vr[u];
        }
        for (int u = 0; u < 16; u++) out[i0 + u] = acc[u];
    }
    for (; i0 < hd; i0++) {                      // head sizes that are not a multiple of 16
        float acc = 0.0f;
        for (int t = 0; t < n; t++) acc += att[t] * v[(size_t)t * v_stride + i0];
        out[i0] = acc;
    }
}

// The plain attention of position pos over the row-major key cache: the reference path, for
// any head size. q (H*hd,), kc, vc (S, KV*hd) this layer's caches, att rows at att_stride.
static void attend_plain(float* att_out, const float* qs, const float* kc, const float* vc, int H, int KV, int hd,
                         int pos, float* atts, int att_stride) {
    int kv_dim = KV * hd, group = H / KV;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < H; h++) {
        const float* q = qs + (size_t)h * hd;          // (hd,)
        float* att = atts + (size_t)h * att_stride;     // (pos+1,)
        int kvh = h / group;
        for (int t = 0; t <= pos; t++) {
            const float* k = kc + (size_t)t * kv_dim + (size_t)kvh * hd;  // (hd,)
            float score = 0.0f;
            score = vec_dot_f32(hd, q, k);  // SIMD dot from quant.h (engineer G, issue 7): the float loop did not vectorize
            att[t] = score * scale;
        }
        softmax(att, pos + 1);
        float* out = att_out + (size_t)h * hd;         // (hd,)
        memset(out, 0, (size_t)hd * sizeof(float));
        for (int t = 0; t <= pos; t++) {
            const float* v = vc + (size_t)t * kv_dim + (size_t)kvh * hd;  // (hd,)
            float a = att[t];
            for (int i = 0; i < hd; i++) out[i] += a * v[i];
        }
    }
}

// The G query heads that share one kv head (grouped-query attention), together: each key
// and value vector is loaded once for the G heads. The same sums as attend, head by head,
// except that a score is one chain over the dims instead of four. q (G, hd), out (G, hd),
// att rows at att_stride. G is a constant where it is inlined (2, 3 or 4).
static inline void attend_heads(float* out, const float* q, const float* kb, const float* v, int v_stride, int hd,
                                int n, float scale, float* att, int att_stride, const int G) {
    for (int t0 = 0; t0 < n; t0 += 16) {      // scores: 2 partial sums a head (even, odd dims)
        float acc[4][16] = {{0}}, acc2[4][16] = {{0}};
        const float* kr = kb + (size_t)t0 * hd;
        for (int i = 0; i < hd; i += 2) {      // hd is a multiple of 32 here
            const float* k0 = kr + (size_t)i * 16;
            for (int g = 0; g < G; g++) {
                const float qg = q[(size_t)g * hd + i], qg2 = q[(size_t)g * hd + i + 1];
#pragma GCC unroll 1
                for (int u = 0; u < 16; u++) {
                    acc[g][u] += qg * k0[u];
                    acc2[g][u] += qg2 * k0[16 + u];
                }
            }
        }
        for (int g = 0; g < G; g++)
            for (int u = 0; u < 16; u++) att[(size_t)g * att_stride + t0 + u] = (acc[g][u] + acc2[g][u]) * scale;
    }
    for (int g = 0; g < G; g++) softmax(att + (size_t)g * att_stride, n);
    for (int i0 = 0; i0 < hd; i0 += 32) {     // values: 32 dims (2 registers) a head at a time
        float acc[4][16] = {{0}}, acc2[4][16] = {{0}};
        for (int t = 0; t < n; t++) {
            const float* vr = v + (size_t)t * v_stride + i0;
            for (int g = 0; g < G; g++) {
                const float a = att[(size_t)g * att_stride + t];
#pragma GCC unroll 1
                for (int u = 0; u < 16; u++) {
                    acc[g][u] += a * vr[u];
                    acc2[g][u] += a * vr[16 + u];
                }
            }
        }
        for (int g = 0; g < G; g++)
            for (int u = 0; u < 16; u++) {
                out[(size_t)g * hd + i0 + u] = acc[g][u];
                out[(size_t)g * hd + i0 + 16 + u] = acc2[g][u];
            }
    }
}

// All query heads of one position over the key blocks (head sizes a multiple of 32): head h
// reads kv head h / group. q (H*hd,), kc (KV, Sk/16, hd, 16) this layer's keys, vc (S, KV*hd)
// its values, out (H*hd,)
static void attend_all(float* out, const float* q, const float* kc, const float* vc, int H, int KV, int hd, int Sk,
                       int n, float* att) {
    const int group = H / KV, kv_dim = KV * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int kvh = 0; kvh < KV; kvh++) {
        const int h = kvh * group;
        const float* kb = kc + (size_t)kvh * hd * Sk;
        const float* v = vc + (size_t)kvh * hd;
        float* o = out + (size_t)h * hd;
        const float* qh = q + (size_t)h * hd;
        float* a = att + (size_t)h * Sk;
        if (group >= 2 && group <= 4) {
            if (group == 2) attend_heads(o, qh, kb, v, kv_dim, hd, n, scale, a, Sk, 2);
            else if (group == 3) attend_heads(o, qh, kb, v, kv_dim, hd, n, scale, a, Sk, 3);
            else attend_heads(o, qh, kb, v, kv_dim, hd, n, scale, a, Sk, 4);
        } else {
            for (int g = 0; g < group; g++)
                attend(o + (size_t)g * hd, qh + (size_t)g * hd, kb, v, kv_dim, hd, n, scale, a + (size_t)g * Sk);
        }
    }
}

float* rl_forward(rl_model* m, int token, int pos) {
    const rl_config* c = &m->config;
    const rl_weights* w = &m->weights;
    rl_state* s = &m->state;
    int D = c->dim, hd = c->head_dim, H = c->n_heads, KV = c->n_kv_heads;
    int kv_dim = KV * hd;
    if (token < 0 || token >= c->vocab_size || pos < 0 || pos >= c->seq_len) return NULL;

    // torch: h = self.tok_embeddings(tokens)   (from the repacked copy where there is one: the
    // file's pages of a repacked embedding were given back after the repack)
    size_t row = quant_row_bytes(w->tok_embeddings.type, D);
    if (w->tok_embeddings.packed && token < quant_packed_rows(w->tok_embeddings.type, D, c->vocab_size))
        dequantize_row_packed(s->x, w->tok_embeddings.packed, w->tok_embeddings.type, D, token);
    else
        dequantize_row(s->x, (const uint8_t*)w->tok_embeddings.data + (size_t)token * row, w->tok_embeddings.type, D);

    // torch: cos, sin = self.freqs_cos[pos], self.freqs_sin[pos]
    rope_angles(s->rope_cs, hd, pos, c->rope_theta);
    const int Sk = s->kv_stride;

    for (int l = 0; l < c->n_layers; l++) {
        float* kc = s->key_cache ? s->key_cache + (size_t)l * c->seq_len * kv_dim : NULL;  // (S, KV*hd) keys
        float* kb = s->key_blocks ? s->key_blocks + (size_t)l * kv_dim * Sk : NULL;     // or (KV, Sk/16, hd, 16)
        float* vc = s->value_cache + (size_t)l * c->seq_len * kv_dim;  // (S, KV*hd) this layer's values

        // torch: xb = self.attention_norm(x)
        rmsnorm(s->xb, s->x, w->attn_norm[l], D, c->norm_eps);

        // torch: q, k, v = self.wq(x), self.wk(x), self.wv(x)   (q (H*hd,), k, v (KV*hd,))
        matmul_w3(s->q, &w->wq[l], s->k, &w->wk[l], s->v, &w->wv[l], s->xb, 1);

        // torch: q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)   (adjacent pairs)
        rope_rotate(s->q, H, hd, s->rope_cs);
        rope_rotate(s->k, KV, hd, s->rope_cs);

        // torch: cache_k[:, :, pos] = k ; cache_v[:, :, pos] = v
        if (kb) {   // the blocked layout (see store_key)
            store_key(kb, s->k, KV, hd, Sk, pos);
        } else {
            memcpy(kc + (size_t)pos * kv_dim, s->k, (size_t)kv_dim * sizeof(float));
        }
        memcpy(vc + (size_t)pos * kv_dim, s->v, (size_t)kv_dim * sizeof(float));

        // torch: y = F.scaled_dot_product_attention(q, k.repeat_interleave(H/KV), v.repeat_interleave(H/KV))
        // query head h reads kv head h / (H/KV) (grouped-query attention)
        if (kb) attend_all(s->att_out, s->q, kb, vc, H, KV, hd, Sk, pos + 1, s->att);
        else attend_plain(s->att_out, s->q, kc, vc, H, KV, hd, pos, s->att, Sk);

        // torch: x = x + self.wo(y)
        matmul_w(s->xb2, s->att_out, &w->wo[l]);
        for (int i = 0; i < D; i++) s->x[i] += s->xb2[i];

        // torch: x = x + self.w2(F.silu(self.w1(xb)) * self.w3(xb)),  xb = self.ffn_norm(x)
        rmsnorm(s->xb, s->x, w->ffn_norm[l], D, c->norm_eps);
        matmul_w3(s->hb, &w->w1[l], s->hb2, &w->w3[l], NULL, NULL, s->xb, 1);
        swiglu(s->hb, s->hb2, c->hidden_dim);
        matmul_w(s->xb, s->hb, &w->w2[l]);
        for (int i = 0; i < D; i++) s->x[i] += s->xb[i];
    }

    // torch: logits = self.output(self.norm(h))   (output tied to tok_embeddings)
    rmsnorm(s->x, s->x, w->norm, D, c->norm_eps);
    matmul_w(s->logits, s->x, &w->tok_embeddings);
    return s->logits;
}

// ---------------------------------------------------------------- prefill (the prompt, batched)
// The same arithmetic as rl_forward for T consecutive positions at once: every matmul is
// batched (each weight row is read once for all T rows; with repacked Q4_0/Q8_0 weights the
// kernels do exactly the per-token arithmetic of rl_forward, F32/F16 tiles sum in another
// order, within float rounding), attention stays per position.
static int prefill_chunk(rl_model* m, const int32_t* tokens, int T, int start, float* all_logits) {
    const rl_config* c = &m->config;
    const rl_weights* w = &m->weights;
    rl_state* s = &m->state;
    int D = c->dim, hd = c->head_dim, H = c->n_heads, KV = c->n_kv_heads, F = c->hidden_dim;
    int kv_dim = KV * hd, q_dim = H * hd;
    size_t n = (size_t)T;
    // one buffer for all of them, kept in the state: no page faults for fresh memory per chunk
    if (prefill_reserve(s, c, T) != 0) return -1;
    float* x = s->prefill_buf;                // (T, D)
    float* xb = x + n * D;                    // (T, D)
    float* q = xb + n * D;                    // (T, H*hd)
    float* k = q + n * q_dim;                 // (T, KV*hd)
    float* v = k + n * kv_dim;                // (T, KV*hd)
    float* ao = v + n * kv_dim;               // (T, H*hd)
    float* hb = ao + n * q_dim;               // (T, F)
    float* hb2 = hb + n * F;                  // (T, F)
    float* cs = hb2 + n * F;                  // (T, hd) rope cos, sin of each position
    // torch: h = self.tok_embeddings(tokens)
    for (int t = 0; t < T; t++) embedding_row(x + (size_t)t * D, &w->tok_embeddings, tokens[t]);
    const int Sk = s->kv_stride;
    for (int t = 0; t < T; t++) rope_angles(cs + (size_t)t * hd, hd, start + t, c->rope_theta);
    for (int l = 0; l < c->n_layers; l++) {
        float* kc = s->key_cache ? s->key_cache + (size_t)l * c->seq_len * kv_dim : NULL;
        float* kb = s->key_blocks ? s->key_blocks + (size_t)l * kv_dim * Sk : NULL;
        float* vc = s->value_cache + (size_t)l * c->seq_len * kv_dim;
        for (int t = 0; t < T; t++) rmsnorm(xb + (size_t)t * D, x + (size_t)t * D, w->attn_norm[l], D, c->norm_eps);
        matmul_w3(q, &w->wq[l], k, &w->wk[l], v, &w->wv[l], xb, T);
        for (int t = 0; t < T; t++) {
            int pos = start + t;
            rope_rotate(q + (size_t)t * q_dim, H, hd, cs + (size_t)t * hd);
            rope_rotate(k + (size_t)t * kv_dim, KV, hd, cs + (size_t)t * hd);
            if (kb) store_key(kb, k + (size_t)t * kv_dim, KV, hd, Sk, pos);
            else memcpy(kc + (size_t)pos * kv_dim, k + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
            memcpy(vc + (size_t)pos * kv_dim, v + (size_t)t * kv_dim, (size_t)kv_dim * sizeof(float));
        }
        for (int t = 0; t < T; t++) {  // causal: position start+t sees 0..start+t
            if (kb) attend_all(ao + (size_t)t * q_dim, q + (size_t)t * q_dim, kb, vc, H, KV, hd, Sk, start + t + 1, s->att);
            else attend_plain(ao + (size_t)t * q_dim, q + (size_t)t * q_dim, kc, vc, H, KV, hd, start + t, s->att, Sk);
        }
        matmul_wT(xb, ao, &w->wo[l], T);
        for (size_t i = 0; i < n * D; i++) x[i] += xb[i];
        for (int t = 0; t < T; t++) rmsnorm(xb + (size_t)t * D, x + (size_t)t * D, w->ffn_norm[l], D, c->norm_eps);
        matmul_w3(hb, &w->w1[l], hb2, &w->w3[l], NULL, NULL, xb, T);
        for (int t = 0; t < T; t++) swiglu(hb + (size_t)t * F, hb2 + (size_t)t * F, F);
        matmul_wT(xb, hb, &w->w2[l], T);
        for (size_t i = 0; i < n * D; i++) x[i] += xb[i];
    }
    // torch: logits = self.output(self.norm(h)); every row if asked, else the last
    for (int t = all_logits ? 0 : T - 1; t < T; t++) {
        rmsnorm(s->x, x + (size_t)t * D, w->norm, D, c->norm_eps);
        matmul_w(s->logits, s->x, &w->tok_embeddings);
        if (all_logits) memcpy(all_logits + (size_t)t * c->vocab_size, s->logits, (size_t)c->vocab_size * sizeof(float));
    }
    return 0;
}

float* rl_prefill(rl_model* m, const int32_t* tokens, int T, int start_pos, float* all_logits) {
    const rl_config* c = &m->config;
    if (T <= 0 || start_pos < 0 || start_pos > c->seq_len - T) return NULL;
    for (int t = 0; t < T; t++) if (tokens[t] < 0 || tokens[t] >= c->vocab_size) return NULL;
    for (int t0 = 0; t0 < T; t0 += PREFILL_CHUNK) {
        int len = T - t0 < PREFILL_CHUNK ? T - t0 : PREFILL_CHUNK;
        if (prefill_chunk(m, tokens + t0, len, start_pos + t0,
                          all_logits ? all_logits + (size_t)t0 * c->vocab_size : NULL) != 0)
            return NULL;
    }
    return m->state.logits;
}

// ============================================================================ sampler

// xorshift64* (llama2.c's random_u32); robolm/numpy_model.py::XorShiftRng is its twin
uint32_t rl_random_u32(uint64_t* state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1DULL) >> 32);
}

float rl_random_f32(uint64_t* state) { return (float)(rl_random_u32(state) >> 8) / 16777216.0f; }

void rl_sampler_init(rl_sampler* s, float temperature, int top_k, float top_p, uint64_t seed) {
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->rng_state = seed ^ 0x9E3779B97F4A7C15ULL;
    if (s->rng_state == 0) s->rng_state = 1;
}

// most likely first; ties by smaller id (the order NumPy's lexsort gives)
static int cmp_prob(const void* a, const void* b) {
    const rl_prob_index* x = (const rl_prob_index*)a;
    const rl_prob_index* y = (const rl_prob_index*)b;
    if (x->prob > y->prob) return -1;
    if (x->prob < y->prob) return 1;
    return (x->index > y->index) - (x->index < y->index);
}

// torch: sample_next(logits, temperature, top_k, top_p)
int rl_sample(rl_sampler* s, float* logits, int V, rl_prob_index* scratch) {
    if (s->temperature <= 0.0f) {  // greedy: the first maximum
        float m16[16];             // the maximum, as 16 partial maxima (one vector register)
        for (int k = 0; k < 16; k++) m16[k] = logits[0];
        int i = 0;
        for (; i + 16 <= V; i += 16)
#pragma GCC unroll 1
            for (int k = 0; k < 16; k++) m16[k] = logits[i + k] > m16[k] ? logits[i + k] : m16[k];
        float max = logits[0];
        for (int k = 0; k < 16; k++) if (m16[k] > max) max = m16[k];
        for (; i < V; i++) if (logits[i] > max) max = logits[i];
        for (i = 0; i < V; i++) if (logits[i] == max) return i;
        return 0;                  // NaN logits only
    }
    // probs = softmax(logits / temperature)
    for (int i = 0; i < V; i++) logits[i] /= s->temperature;
    softmax(logits, V);
    for (int i = 0; i < V; i++) { scratch[i].prob = logits[i]; scratch[i].index = i; }
    qsort(scratch, (size_t)V, sizeof *scratch, cmp_prob);
    int n = V;
    // keep the top_k most likely
    if (s->top_k > 0 && s->top_k < n) n = s->top_k;
    // keep the smallest prefix whose mass reaches top_p
    if (s->top_p > 0.0f && s->top_p < 1.0f) {
        float cum = 0.0f;
        for (int i = 0; i < n; i++) {
            cum += scratch[i].prob;
            if (cum >= s->top_p) { n = i + 1; break; }
        }
    }
    float total = 0.0f;
    for (int i = 0; i < n; i++) total += scratch[i].prob;
    float r = rl_random_f32(&s->rng_state) * total;
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += scratch[i].prob;
        if (r < cdf) return scratch[i].index;
    }
    return scratch[n - 1].index;
}

// ============================================================================ prompt

typedef struct {
    int32_t* out;
    size_t cap, n;
} id_buf;

static void push_id(id_buf* b, int32_t id) {
    if (b->n < b->cap) b->out[b->n] = id;
    b->n++;
}

static void push_text(rl_model* m, id_buf* b, const char* text, size_t len) {
    if (!len) return;
    size_t room = b->n < b->cap ? b->cap - b->n : 0;
    size_t k = tokenizer_encode(m->tokenizer, text, len, room ? b->out + b->n : NULL, room);
    if (k != TOK_ERROR) b->n += k;
}

// the control token (type 3) whose text starts at s, longest first; -1 if none
static int32_t control_at(const rl_model* m, const char* s, size_t len, size_t* match_len) {
    int32_t best = -1;
    *match_len = 0;
    if (len == 0 || (s[0] != '<' && s[0] != '[')) return -1;
    for (int32_t id = 0; id < m->config.vocab_size; id++) {
        if (tokenizer_token_type(m->tokenizer, id) != TOK_TYPE_CONTROL) continue;
        size_t tl;
        const char* t = tokenizer_token_bytes(m->tokenizer, id, &tl);
        if (tl > *match_len && tl <= len && memcmp(s, t, tl) == 0) { best = id; *match_len = tl; }
    }
    return best;
}

typedef struct {
    const char* name;   // "{prompt}"
    const char* value;
    size_t len;
} fill;

// a text piece of the template with its placeholders filled in
static void push_filled(rl_model* m, id_buf* b, const char* piece, size_t len, const fill* fills, int n_fills) {
    size_t cap = len + 1, n = 0;
    for (int f = 0; f < n_fills; f++) cap += fills[f].len * (len / 2 + 1);  // each placeholder may repeat
    char* buf = (char*)malloc(cap);
    if (!buf) return;
    for (size_t i = 0; i < len;) {
        int hit = 0;
        for (int f = 0; f < n_fills && !hit; f++) {
            size_t nl = strlen(fills[f].name);
            if (len - i >= nl && memcmp(piece + i, fills[f].name, nl) == 0) {
                memcpy(buf + n, fills[f].value, fills[f].len);
                n += fills[f].len;
                i += nl;
                hit = 1;
            }
        }
        if (!hit) buf[n++] = piece[i++];
    }
    push_text(m, b, buf, n);
    free(buf);
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

// The template split into control tokens (by id) and text pieces (through the tokenizer).
// {lang} is part of a control token, the other placeholders only of text pieces, so a
// user who types "[CODE]" gets the text, never the control token (as robolm/prompt.py).
static long build_from_template(rl_model* m, const char* t, const char* key, const char* lang, const fill* fills,
                                int n_fills, int32_t* out, size_t cap, char* err, size_t err_size) {
    if (!t) {
        snprintf(err, err_size, "this model file has no %s. Hint: re-export with export_gguf.py", key);
        return -1;
    }
    if (!lang || !*lang) lang = "en";
    char tag[64];  // [LANG:xx] must be a control token of this vocabulary
    snprintf(tag, sizeof tag, "[LANG:%s]", lang);
    int32_t lang_id = tokenizer_find(m->tokenizer, tag, strlen(tag));
    if (strlen(lang) > 8 || lang_id < 0 || tokenizer_token_type(m->tokenizer, lang_id) != TOK_TYPE_CONTROL) {
        snprintf(err, err_size, "unknown language '%.16s'. Hint: use one of the codes with a [LANG:xx] token, e.g. en hi ta",
                 lang);
        return -1;
    }
    id_buf b = {out, cap, 0};
    size_t tl = strlen(t), start = 0, i = 0;
    while (i < tl) {
        size_t mlen = 0;
        int32_t id = -1;
        if (tl - i >= 13 && memcmp(t + i, "[LANG:{lang}]", 13) == 0) { id = lang_id; mlen = 13; }
        else id = control_at(m, t + i, tl - i, &mlen);
        if (id >= 0) {
            push_filled(m, &b, t + start, i - start, fills, n_fills);
            push_id(&b, id);
            i += mlen;
            start = i;
        } else {
            i++;
        }
    }
    push_filled(m, &b, t + start, tl - start, fills, n_fills);
    return (long)b.n;
}

long rl_build_prompt(rl_model* m, const char* prompt, const char* lang, const char* hardware, int32_t* out,
                     size_t cap, char* err, size_t err_size) {
    // python: f" {prompt.strip()} "
    size_t plen = strlen(prompt);
    while (plen && is_space(prompt[0])) { prompt++; plen--; }
    while (plen && is_space(prompt[plen - 1])) plen--;
    if (!hardware) hardware = m->default_hardware ? m->default_hardware : "";
    fill fills[2] = {{"{prompt}", prompt, plen}, {"{hardware}", hardware, strlen(hardware)}};
    return build_from_template(m, m->prompt_template, "robolm.prompt.template", lang, fills, 2, out, cap, err,
                               err_size);
}

long rl_build_explain_prompt(rl_model* m, const char* code, const char* lang, int32_t* out, size_t cap, char* err,
                             size_t err_size) {
    // python: f"\n{code.strip(chr(10))}\n"
    size_t clen = strlen(code);
    while (clen && code[0] == '\n') { code++; clen--; }
    while (clen && code[clen - 1] == '\n') clen--;
    fill fills[1] = {{"{code}", code, clen}};
    return build_from_template(m, m->explain_template, "robolm.prompt.explain_template", lang, fills, 1, out, cap,
                               err, err_size);
}

// ============================================================================ generation

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int rl_is_stop(const rl_model* m, int32_t token) {
    for (int i = 0; i < m->n_stop; i++) if (m->stop_ids[i] == token) return 1;
    return 0;
}

int rl_generate(rl_model* m, const int32_t* prompt, int n_prompt, int max_new, rl_sampler* s,
                const int32_t* stop_ids, int n_stop, rl_token_callback cb, void* user, int32_t* out,
                rl_stats* stats, char* err, size_t err_size) {
    const rl_config* c = &m->config;
    if (n_prompt <= 0) { snprintf(err, err_size, "generate needs at least one prompt token"); return -1; }
    if (n_prompt > c->seq_len) {
        snprintf(err, err_size, "the prompt has %d tokens, the context only %d. Hint: shorten the prompt", n_prompt,
                 c->seq_len);
        return -1;
    }
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= c->vocab_size) {
            snprintf(err, err_size, "prompt token %d is outside the vocabulary of %d", prompt[i], c->vocab_size);
            return -1;
        }
    rl_prob_index* scratch = (rl_prob_index*)malloc((size_t)c->vocab_size * sizeof *scratch);
    if (!scratch) { snprintf(err, err_size, "out of memory"); return -1; }
    double t0 = now_seconds();
    float* logits = NULL;
    logits = rl_prefill(m, prompt, n_prompt, 0, NULL);
    if (!logits) { free(scratch); snprintf(err, err_size, "out of memory for the prompt"); return -1; }
    double t1 = now_seconds();
    int n = 0, pos = n_prompt;
    while (n < max_new) {
        int32_t next = (int32_t)rl_sample(s, logits, c->vocab_size, scratch);
        if (out) out[n] = next;
        n++;
        int stop = 0;
        if (stop_ids) { for (int i = 0; i < n_stop; i++) if (stop_ids[i] == next) stop = 1; }
        else stop = rl_is_stop(m, next);
        if (cb && cb(next, user)) stop = 1;
        if (stop || pos >= c->seq_len || n >= max_new) break;
        logits = rl_forward(m, next, pos++);
    }
    double t2 = now_seconds();
    free(scratch);
    if (stats) {
        stats->n_prompt = n_prompt;
        stats->n_generated = n;
        stats->prompt_seconds = t1 - t0;
        stats->gen_seconds = t2 - t1;
    }
    return n;
}
