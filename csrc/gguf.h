// GGUF v3 loader: memory-maps a file and checks every header field, and every
// tensor's offset + size, against the file size before anything is used.
// Twin of robolm/gguf.py (the reader part); same layout notes there.
#ifndef ROBOLM_GGUF_H
#define ROBOLM_GGUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// metadata value types (GGUF spec)
enum {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4,
    GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9,
    GGUF_UINT64 = 10, GGUF_INT64 = 11, GGUF_FLOAT64 = 12
};

// ggml tensor types RoboLM runs
enum { GGML_TYPE_F32 = 0, GGML_TYPE_F16 = 1, GGML_TYPE_Q4_0 = 2, GGML_TYPE_Q8_0 = 8 };

#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 64
#define GGUF_ERR_SIZE 512

typedef struct {
    char* key;              // NUL-terminated copy of the key
    uint32_t type;          // GGUF_* value type
    const uint8_t* value;   // the value's bytes inside the file (arrays: the first element)
    uint32_t arr_type;      // arrays only: element type
    uint64_t arr_n;         // arrays only: element count
} gguf_kv;

typedef struct {
    char name[GGUF_MAX_NAME + 1];
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];   // ggml order: ne[0] is the row length (NumPy's LAST dim)
    uint32_t type;               // GGML_TYPE_*
    uint64_t offset;             // from the start of the data section
    size_t nbytes;
    const void* data;            // inside the map, checked to lie inside the file
} gguf_tensor;

typedef struct {
    const uint8_t* base;    // the whole file
    size_t size;
    int mapped;             // 1: base came from mmap and gguf_close unmaps it
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv* kv;
    gguf_tensor* tensors;
    size_t alignment;
    size_t data_offset;
} gguf_file;

// Open and check `path`. Returns 0 on success; otherwise -1 with a message + hint in err.
int gguf_open(gguf_file* f, const char* path, char* err, size_t err_size);
// The same checks over a buffer the caller keeps alive (tests, fuzzing). `label` names it in errors.
int gguf_parse(gguf_file* f, const void* data, size_t size, const char* label, char* err, size_t err_size);
void gguf_close(gguf_file* f);

// bytes per tensor of a type and shape (ne in ggml order); 0 if the type is unknown or ne[0] does not fit blocks
size_t gguf_type_nbytes(uint32_t type, const int64_t* ne, uint32_t n_dims);
const char* gguf_type_name(uint32_t type);

// lookups (NULL / -1 when absent or of a type that does not fit)
const gguf_kv* gguf_find_kv(const gguf_file* f, const char* key);
const gguf_tensor* gguf_find_tensor(const gguf_file* f, const char* name);
int gguf_kv_int(const gguf_kv* kv, int64_t* out);      // any integer or bool scalar
int gguf_kv_float(const gguf_kv* kv, double* out);     // float32/float64 (or integer) scalar
int gguf_kv_string(const gguf_kv* kv, const char** s, uint64_t* len);  // not NUL-terminated
// element i of a numeric array as int64 / double (bounds-checked)
int gguf_arr_int(const gguf_kv* kv, uint64_t i, int64_t* out);
// walk a string array: *p starts at kv->value; each call yields one string and advances
void gguf_arr_next_string(const uint8_t** p, const char** s, uint64_t* len);

#ifdef __cplusplus
}
#endif
#endif
