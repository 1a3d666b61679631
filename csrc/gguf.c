// ============================================================================
// GGUF v3 loader. Read beside robolm/gguf.py: same checks, same messages.
//
//   uint32 magic "GGUF" | uint32 version | uint64 n_tensors | uint64 n_kv
//   n_kv x (string key, uint32 type, value) | n_tensors x tensor info
//   zero padding to the alignment | tensor data
//
// Every read goes through a cursor that refuses to step past the end of the
// file, all sizes are size_t/uint64_t, and every multiplication that could
// overflow is checked by division first. A refused file leaves an error
// message saying what is wrong, where, and a hint.
// ============================================================================
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE  // mmap, fstat
#endif
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HINT_CORRUPT "the file is truncated or corrupt; re-export it with export_gguf.py"
#define MAX_STRING_LEN ((uint64_t)1 << 30)
#define MAX_NESTING 4
#define MAX_ELEMENTS ((int64_t)1 << 40)

typedef struct {
    const uint8_t* base;
    size_t size, pos;
    const char* label;
    char* err;
    size_t err_size;
    int failed;
} cursor;

static void fail(cursor* c, const char* hint, const char* fmt, ...) {
    if (c->failed) return;  // keep the first message
    c->failed = 1;
    char what[GGUF_ERR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->err_size, "%s: %s (at byte %zu of %zu). Hint: %s", c->label, what, c->pos, c->size,
             hint ? hint : HINT_CORRUPT);
}

// take n bytes; NULL (and an error) if fewer remain
static const uint8_t* take(cursor* c, uint64_t n, const char* what) {
    if (c->failed) return NULL;
    if (n > c->size - c->pos) {
        fail(c, NULL, "%s needs %llu bytes but only %zu remain", what, (unsigned long long)n, c->size - c->pos);
        return NULL;
    }
    const uint8_t* p = c->base + c->pos;
    c->pos += (size_t)n;
    return p;
}

// little-endian reads that do not care about alignment
static uint64_t rd_le(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint32_t take_u32(cursor* c, const char* what) {
    const uint8_t* p = take(c, 4, what);
    return p ? (uint32_t)rd_le(p, 4) : 0;
}
static uint64_t take_u64(cursor* c, const char* what) {
    const uint8_t* p = take(c, 8, what);
    return p ? rd_le(p, 8) : 0;
}

static size_t scalar_size(uint32_t type) {
    switch (type) {
        case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
        case GGUF_UINT16: case GGUF_INT16: return 2;
        case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
        case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
        default: return 0;
    }
}

// a string: uint64 length + bytes; returns the bytes (not NUL-terminated)
static const uint8_t* take_string(cursor* c, uint64_t* len, const char* what) {
    char buf[160];
    snprintf(buf, sizeof buf, "%s length", what);
    *len = take_u64(c, buf);
    if (c->failed) return NULL;
    if (*len > MAX_STRING_LEN) {
        fail(c, NULL, "%s claims a length of %llu bytes", what, (unsigned long long)*len);
        return NULL;
    }
    return take(c, *len, what);
}

// skip over one value of `type`, checking it; arrays recurse up to MAX_NESTING
static void skip_value(cursor* c, uint32_t type, const char* what, int depth, uint32_t* arr_type, uint64_t* arr_n) {
    if (type == GGUF_STRING) {
        uint64_t len;
        take_string(c, &len, what);
        return;
    }
    if (type == GGUF_BOOL) {
        const uint8_t* p = take(c, 1, what);
        if (p && *p > 1) fail(c, NULL, "%s: bool byte %u is neither 0 nor 1", what, *p);
        return;
    }
    size_t sz = scalar_size(type);
    if (sz) {
        take(c, sz, what);
        return;
    }
    if (type != GGUF_ARRAY) {
        fail(c, "this file may come from a newer GGUF version", "%s: unknown value type %u", what, type);
        return;
    }
    if (depth >= MAX_NESTING) {
        fail(c, NULL, "%s: arrays nested deeper than %d", what, MAX_NESTING);
        return;
    }
    uint32_t et = take_u32(c, "array element type");
    uint64_t n = take_u64(c, "array count");
    if (c->failed) return;
    if (et > GGUF_FLOAT64) {
        fail(c, NULL, "%s: unknown array element type %u", what, et);
        return;
    }
    if (n > c->size - c->pos) {  // every element takes at least one byte
        fail(c, NULL, "%s claims %llu elements, more than the bytes left", what, (unsigned long long)n);
        return;
    }
    if (arr_type) *arr_type = et;
    if (arr_n) *arr_n = n;
    size_t esz = scalar_size(et);
    if (esz && et != GGUF_BOOL) {
        if (n > (c->size - c->pos) / esz) {
            fail(c, NULL, "%s: %llu elements of %zu bytes run past the end", what, (unsigned long long)n, esz);
            return;
        }
        take(c, n * esz, what);
        return;
    }
    for (uint64_t i = 0; i < n && !c->failed; i++) skip_value(c, et, what, depth + 1, NULL, NULL);
}

const char* gguf_type_name(uint32_t type) {
    switch (type) {
        case GGML_TYPE_F32: return "F32";
        case GGML_TYPE_F16: return "F16";
        case GGML_TYPE_Q4_0: return "Q4_0";
        case GGML_TYPE_Q8_0: return "Q8_0";
        default: return NULL;
    }
}

static void type_block(uint32_t type, int64_t* block, int64_t* bytes) {
    switch (type) {
        case GGML_TYPE_F32: *block = 1; *bytes = 4; return;
        case GGML_TYPE_F16: *block = 1; *bytes = 2; return;
        case GGML_TYPE_Q4_0: *block = 32; *bytes = 18; return;
        case GGML_TYPE_Q8_0: *block = 32; *bytes = 34; return;
        default: *block = 0; *bytes = 0;
    }
}

size_t gguf_type_nbytes(uint32_t type, const int64_t* ne, uint32_t n_dims) {
    int64_t block, bytes, n = 1;
    type_block(type, &block, &bytes);
    if (!block || n_dims == 0 || n_dims > GGUF_MAX_DIMS || ne[0] % block) return 0;
    for (uint32_t i = 0; i < n_dims; i++) {
        if (ne[i] <= 0 || ne[i] > MAX_ELEMENTS / n) return 0;
        n *= ne[i];
    }
    return (size_t)(n / block * bytes);
}

static size_t align_up(size_t x, size_t a) { return x + (a - x % a) % a; }

void gguf_close(gguf_file* f) {
    if (!f) return;
    if (f->kv) {
        for (uint64_t i = 0; i < f->n_kv; i++) free(f->kv[i].key);
        free(f->kv);
    }
    free(f->tensors);
    if (f->mapped && f->base) munmap((void*)f->base, f->size);
    memset(f, 0, sizeof *f);
}

int gguf_parse(gguf_file* f, const void* data, size_t size, const char* label, char* err, size_t err_size) {
    memset(f, 0, sizeof *f);
    f->base = (const uint8_t*)data;
    f->size = size;
    cursor cur = {f->base, size, 0, label ? label : "<buffer>", err, err_size, 0};
    cursor* c = &cur;
    if (err_size) err[0] = 0;

    // ---- header
    const uint8_t* magic = take(c, 4, "magic");
    if (!magic) return -1;
    if (memcmp(magic, "GGUF", 4) != 0) {
        c->pos = 0;
        fail(c, "pass a .gguf file made by export_gguf.py (a .pt checkpoint must be exported first)",
             "not a GGUF file (magic %02x %02x %02x %02x, expected 'GGUF')", magic[0], magic[1], magic[2], magic[3]);
        return -1;
    }
    f->version = take_u32(c, "version");
    if (!c->failed && f->version != 3) {
        fail(c, "re-export with export_gguf.py", "GGUF version %u; this reader supports version 3", f->version);
    }
    f->n_tensors = take_u64(c, "tensor_count");
    f->n_kv = take_u64(c, "metadata_kv_count");
    if (c->failed) return -1;
    if (f->n_tensors > size / 8 || f->n_kv > size / 8) {
        fail(c, NULL, "absurd counts: %llu tensors, %llu metadata keys for a %zu-byte file",
             (unsigned long long)f->n_tensors, (unsigned long long)f->n_kv, size);
        return -1;
    }

    // ---- metadata
    f->kv = (gguf_kv*)calloc(f->n_kv ? f->n_kv : 1, sizeof(gguf_kv));
    if (!f->kv) { fail(c, "free some memory", "out of memory for %llu keys", (unsigned long long)f->n_kv); return -1; }
    f->alignment = 32;
    for (uint64_t i = 0; i < f->n_kv && !c->failed; i++) {
        uint64_t klen;
        char what[128];
        snprintf(what, sizeof what, "metadata key #%llu", (unsigned long long)i);
        const uint8_t* k = take_string(c, &klen, what);
        if (!k) break;
        gguf_kv* kv = &f->kv[i];
        kv->key = (char*)malloc(klen + 1);
        if (!kv->key) { fail(c, "free some memory", "out of memory"); break; }
        memcpy(kv->key, k, klen);
        kv->key[klen] = 0;
        if (strlen(kv->key) != klen) { fail(c, NULL, "metadata key #%llu contains a NUL byte", (unsigned long long)i); break; }
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(f->kv[j].key, kv->key) == 0) { fail(c, NULL, "metadata key '%s' appears twice", kv->key); break; }
        snprintf(what, sizeof what, "type of '%.80s'", kv->key);
        kv->type = take_u32(c, what);
        if (c->failed) break;
        snprintf(what, sizeof what, "value of '%.80s'", kv->key);
        size_t start = c->pos;
        skip_value(c, kv->type, what, 0, &kv->arr_type, &kv->arr_n);
        if (c->failed) break;
        // where the value (or, for arrays, the first element) begins
        kv->value = f->base + start + (kv->type == GGUF_ARRAY ? 12 : 0);
        if (strcmp(kv->key, "general.alignment") == 0) {
            int64_t a;
            if (gguf_kv_int(kv, &a) != 0 || a <= 0 || a % 8 || a > (1 << 20)) {
                fail(c, NULL, "general.alignment is not a positive multiple of 8");
                break;
            }
            f->alignment = (size_t)a;
        }
    }
    if (c->failed) { gguf_close(f); return -1; }

    // ---- tensor infos
    f->tensors = (gguf_tensor*)calloc(f->n_tensors ? f->n_tensors : 1, sizeof(gguf_tensor));
    if (!f->tensors) { fail(c, "free some memory", "out of memory"); gguf_close(f); return -1; }
    for (uint64_t i = 0; i < f->n_tensors && !c->failed; i++) {
        gguf_tensor* t = &f->tensors[i];
        uint64_t nlen;
        char what[160];
        snprintf(what, sizeof what, "tensor #%llu name", (unsigned long long)i);
        const uint8_t* nm = take_string(c, &nlen, what);
        if (!nm) break;
        if (nlen > GGUF_MAX_NAME) { fail(c, NULL, "tensor #%llu name is longer than %d bytes", (unsigned long long)i, GGUF_MAX_NAME); break; }
        memcpy(t->name, nm, nlen);
        t->name[nlen] = 0;
        snprintf(what, sizeof what, "tensor '%s' n_dims", t->name);
        t->n_dims = take_u32(c, what);
        if (c->failed) break;
        if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) {
            fail(c, NULL, "tensor '%s' has %u dims; GGUF allows 1..%d", t->name, t->n_dims, GGUF_MAX_DIMS);
            break;
        }
        int64_t n = 1;
        for (uint32_t j = 0; j < t->n_dims; j++) {
            uint64_t d = take_u64(c, "tensor dim");
            if (c->failed) break;
            if (d == 0 || d > (uint64_t)MAX_ELEMENTS || (int64_t)d > MAX_ELEMENTS / n) {
                fail(c, NULL, "tensor '%s' has absurd dims (dim %u = %llu)", t->name, j, (unsigned long long)d);
                break;
            }
            t->ne[j] = (int64_t)d;
            n *= (int64_t)d;
        }
        for (uint32_t j = t->n_dims; j < GGUF_MAX_DIMS; j++) t->ne[j] = 1;
        t->type = take_u32(c, "tensor type");
        t->offset = take_u64(c, "tensor offset");
        if (c->failed) break;
        if (!gguf_type_name(t->type)) {
            fail(c, "RoboLM runs F32, F16, Q8_0 and Q4_0; re-export with one of those",
                 "tensor '%s' has ggml type %u, which RoboLM does not run", t->name, t->type);
            break;
        }
        t->nbytes = gguf_type_nbytes(t->type, t->ne, t->n_dims);
        if (!t->nbytes) {
            fail(c, NULL, "tensor '%s': %s needs ne[0] (%lld) to be a multiple of 32", t->name,
                 gguf_type_name(t->type), (long long)t->ne[0]);
            break;
        }
        if (t->offset % f->alignment) {
            fail(c, NULL, "tensor '%s' offset %llu is not a multiple of the alignment %zu", t->name,
                 (unsigned long long)t->offset, f->alignment);
            break;
        }
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(f->tensors[j].name, t->name) == 0) { fail(c, NULL, "tensor '%s' appears twice", t->name); break; }
    }
    if (c->failed) { gguf_close(f); return -1; }

    // ---- data: every tensor must lie inside the file
    f->data_offset = align_up(c->pos, f->alignment);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor* t = &f->tensors[i];
        size_t avail = size >= f->data_offset ? size - f->data_offset : 0;
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            c->pos = f->data_offset < size ? f->data_offset : size;
            fail(c, NULL, "tensor '%s' (%zu bytes at data offset %llu) runs past the end of the file "
                 "(needs %llu bytes, file has %zu)", t->name, t->nbytes, (unsigned long long)t->offset,
                 (unsigned long long)(f->data_offset + t->offset + t->nbytes), size);
            gguf_close(f);
            return -1;
        }
        t->data = f->base + f->data_offset + t->offset;
    }
    return 0;
}

int gguf_open(gguf_file* f, const char* path, char* err, size_t err_size) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot open (%s). Hint: check the path; export one with export_gguf.py", path,
                 strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        snprintf(err, err_size, "%s: empty or unreadable file. Hint: export one with export_gguf.py", path);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE;  // fault every page in now (as llama.cpp does), not during the first forward pass
#endif
    void* map = mmap(NULL, size, PROT_READ, flags, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, err_size, "%s: mmap failed. Hint: is it a regular file?", path);
        return -1;
    }
    if (gguf_parse(f, map, size, path, err, err_size) != 0) {
        munmap(map, size);
        return -1;
    }
    f->mapped = 1;
    return 0;
}

// ---------------------------------------------------------------- lookups
const gguf_kv* gguf_find_kv(const gguf_file* f, const char* key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (strcmp(f->kv[i].key, key) == 0) return &f->kv[i];
    return NULL;
}

const gguf_tensor* gguf_find_tensor(const gguf_file* f, const char* name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

static int read_int(uint32_t type, const uint8_t* p, int64_t* out) {
    switch (type) {
        case GGUF_UINT8: case GGUF_BOOL: *out = p[0]; return 0;
        case GGUF_INT8: *out = (int8_t)p[0]; return 0;
        case GGUF_UINT16: *out = (uint16_t)rd_le(p, 2); return 0;
        case GGUF_INT16: *out = (int16_t)rd_le(p, 2); return 0;
        case GGUF_UINT32: *out = (uint32_t)rd_le(p, 4); return 0;
        case GGUF_INT32: *out = (int32_t)(uint32_t)rd_le(p, 4); return 0;
        case GGUF_UINT64: {
            uint64_t v = rd_le(p, 8);
            if (v > (uint64_t)INT64_MAX) return -1;
            *out = (int64_t)v;
            return 0;
        }
        case GGUF_INT64: *out = (int64_t)rd_le(p, 8); return 0;
        default: return -1;
    }
}

int gguf_kv_int(const gguf_kv* kv, int64_t* out) {
    if (!kv) return -1;
    return read_int(kv->type, kv->value, out);
}

int gguf_kv_float(const gguf_kv* kv, double* out) {
    if (!kv) return -1;
    if (kv->type == GGUF_FLOAT32) {
        uint32_t u = (uint32_t)rd_le(kv->value, 4);
        float v;
        memcpy(&v, &u, 4);
        *out = v;
        return 0;
    }
    if (kv->type == GGUF_FLOAT64) {
        uint64_t u = rd_le(kv->value, 8);
        double v;
        memcpy(&v, &u, 8);
        *out = v;
        return 0;
    }
    int64_t i;
    if (read_int(kv->type, kv->value, &i) == 0) { *out = (double)i; return 0; }
    return -1;
}

int gguf_kv_string(const gguf_kv* kv, const char** s, uint64_t* len) {
    if (!kv || kv->type != GGUF_STRING) return -1;
    *len = rd_le(kv->value, 8);
    *s = (const char*)kv->value + 8;
    return 0;
}

int gguf_arr_int(const gguf_kv* kv, uint64_t i, int64_t* out) {
    if (!kv || kv->type != GGUF_ARRAY || i >= kv->arr_n) return -1;
    size_t esz = scalar_size(kv->arr_type);
    if (!esz || kv->arr_type == GGUF_FLOAT32 || kv->arr_type == GGUF_FLOAT64) return -1;
    return read_int(kv->arr_type, kv->value + i * esz, out);
}

void gguf_arr_next_string(const uint8_t** p, const char** s, uint64_t* len) {
    *len = rd_le(*p, 8);
    *s = (const char*)*p + 8;
    *p += 8 + *len;
}
