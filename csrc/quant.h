// RoboLM's quantized building blocks: GGUF's Q8_0 and Q4_0 blocks, fp16, dot products
// and the typed matmul the runtime calls for every weight matrix.
// NumPy twin: robolm/quant.py (same names, byte-identical blocks).
//
// The scheme is llama.cpp's: a weight row is stored as 32-weight blocks with an fp16
// scale; at run time the activation row x is quantized on the fly to Q8_0, and each
// block's dot product is an integer sum scaled by d_w * d_x.
//
// Every fast kernel has a plain scalar reference beside it (the *_ref functions);
// the fast ones are picked once at run time for this CPU (AVX2+FMA, AVX-512BW,
// AVX-512 VNNI on x86-64; NEON, NEON dot-product on aarch64, chosen at build time).
#ifndef ROBOLM_QUANT_H
#define ROBOLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------- types
// Weight types, numbered as GGUF/ggml number them (a tensor info's ggml_type).
enum {
    QTYPE_F32 = 0,
    QTYPE_F16 = 1,
    QTYPE_Q4_0 = 2,
    QTYPE_Q8_0 = 8,
};

#define QK8_0 32
#define QK4_0 32

// x[j] ~= qs[j] * d
typedef struct {
    uint16_t d;          // fp16 scale = max|x| / 127
    int8_t qs[QK8_0];    // quants in [-127, 127]
} block_q8_0;            // 34 bytes

// x[j] ~= ((qs[j] & 0xF) - 8) * d,  x[j+16] ~= ((qs[j] >> 4) - 8) * d
typedef struct {
    uint16_t d;          // fp16 scale = (signed value of largest |x|) / -8
    uint8_t qs[QK4_0 / 2];  // low nibble: element j, high nibble: element j+16
} block_q4_0;            // 18 bytes

// fp16 <-> fp32, IEEE round-to-nearest-even (as NumPy's astype(np.float16))
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);

// Bytes of one row of n weights of `type`; 0 when the type is unknown or n does not
// divide into 32-weight blocks (quantized types).
size_t quant_row_bytes(int type, int n);
// "F32", "F16", "Q4_0", "Q8_0" or "unknown"
const char* quant_type_name(int type);

// ---------------------------------------------------------------- (de)quantize
// x (n,) -> y (n/32 blocks); n must be a multiple of 32 (checked by the caller,
// e.g. with quant_row_bytes). Byte-identical to ggml's *_ref quantizers.
void quantize_row_q8_0(block_q8_0* y, const float* x, int n);
void quantize_row_q4_0(block_q4_0* y, const float* x, int n);
// y (n,) <- x (n/32 blocks)
void dequantize_row_q8_0(float* y, const block_q8_0* x, int n);
void dequantize_row_q4_0(float* y, const block_q4_0* x, int n);
// one row of any type to float: y (n,) <- row
void dequantize_row(float* y, const void* row, int type, int n);

// ---------------------------------------------------------------- dot products
// sum_j w[j] * x[j] over one row of n. For the quantized types x is already Q8_0.
// References: plain C, the meaning of each kernel.
float vec_dot_f32_ref(int n, const float* w, const float* x);
float vec_dot_f16_ref(int n, const uint16_t* w, const float* x);
float vec_dot_q8_0_ref(int n, const block_q8_0* w, const block_q8_0* x);
float vec_dot_q4_0_ref(int n, const block_q4_0* w, const block_q8_0* x);
// Fast: the best kernel for this CPU (see quant_isa_*), same results up to float order.
float vec_dot_f32(int n, const float* w, const float* x);
float vec_dot_f16(int n, const uint16_t* w, const float* x);
float vec_dot_q8_0(int n, const block_q8_0* w, const block_q8_0* x);
float vec_dot_q4_0(int n, const block_q4_0* w, const block_q8_0* x);
// The activation quantizer used on the fly (same bytes as quantize_row_q8_0).
void quantize_row_q8_0_fast(block_q8_0* y, const float* x, int n);

// ---------------------------------------------------------------- kernel choice
enum {
    QUANT_ISA_SCALAR = 0,
    QUANT_ISA_AVX2 = 1,        // AVX2 + FMA + F16C
    QUANT_ISA_AVX512 = 2,      // AVX-512 F/BW/VL
    QUANT_ISA_AVX512_VNNI = 3, // + VNNI int8 dot products
    QUANT_ISA_NEON = 4,        // aarch64 NEON
    QUANT_ISA_NEON_DOT = 5,    // + dot-product instructions (armv8.2-a+dotprod)
};
int quant_isa_supported(int isa);   // 1 if this CPU and build can run it
int quant_isa_best(void);           // what is picked by default
int quant_isa_get(void);            // what is in use now
int quant_isa_set(int isa);         // 0 on success, -1 if unsupported (then unchanged)
const char* quant_isa_name(int isa);

// ---------------------------------------------------------------- threads
// A small pthread pool shared by all matmuls. Default: $ROBOLM_THREADS if set, else
// the number of online CPUs, at most 4. Not reentrant: call matmuls from one thread.
int quant_default_threads(void);
void quant_set_threads(int n);      // n <= 0 -> default
int quant_get_threads(void);

// ---------------------------------------------------------------- matmul
// torch: F.linear(x, w): out (d,) = w (d, n) @ x (n,), w stored as `wtype` rows
// (GGUF's layout for an nn.Linear weight: d rows of n, ne[0] = n). Quantized types
// quantize x to Q8_0 first. Multithreaded over rows.
void matmul_typed(float* out, const float* x, const void* w, int wtype, int n, int d);
// The batched form for prompt processing: out (T, d) = x (T, n) @ w (d, n)^T.
// Each weight row is read once for all T rows of x.
void matmul_typed_batch(float* out, const float* x, const void* w, int wtype, int n, int d, int T);
// Load-time repack (the runtime does it once per weight matrix; the file stays untouched):
// Q4_0 / Q8_0 rows interleaved 8 at a time, the layout of this CPU's fastest kernels.
// quant_packed_rows: how many leading rows (a multiple of 8) a packed copy would hold; 0 when
// this type, shape or CPU (kernel choice) has no packed kernels. The copy needs
// quant_packed_rows * quant_row_bytes bytes (the same bytes, reordered).
int quant_packed_rows(int wtype, int n, int d);
void quant_repack(void* dst, const void* w, int wtype, int n, int d);
// row r (< the packed rows) of such a copy to float, as dequantize_row on the original row
void dequantize_row_packed(float* y, const void* packed, int wtype, int n, int r);
// matmul_typed_batch reading the first quant_packed_rows rows from `packed` (NULL: none), the
// rest from w. Falls back to w alone when the kernel choice has changed since the repack.
void matmul_typed_batch_packed(float* out, const float* x, const void* w, const void* packed, int wtype, int n,
                               int d, int T);
// Several matrices with the same input x (T, n), e.g. wq, wk, wv: x is quantized once and
// all their rows are one job for the threads. out of matrix i: (T, mm[i].d).
#define MATMUL_MULTI_MAX 8
typedef struct {
    float* out;
    const void* w;
    const void* packed;   // quant_repack copy or NULL
    int wtype, d;
} quant_matmul;
void matmul_typed_multi(const quant_matmul* mm, int count, const float* x, int n, int T);
// The reference: single thread, *_ref kernels, no cleverness. Same arithmetic.
void matmul_typed_ref(float* out, const float* x, const void* w, int wtype, int n, int d);

#ifdef __cplusplus
}
#endif
#endif
