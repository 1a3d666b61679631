// RoboLM's byte-level BPE tokenizer in C: the same algorithm as robolm/tokenizer.py
// (the readable Python reference), used by robolm._native (fast path) and by the
// dependency-free runtime robolm_run (built from GGUF metadata).
//
// Pipeline for encode(text) (identical to llama.cpp's BPE tokenizer with pre = "qwen35"):
//   1. user-defined tokens (GGUF token_type 4, e.g. "Pin.OUT", "    ") are split out of the
//      text first, longest first (llama.cpp's tokenizer_st_partition); each becomes one id.
//   2. every remaining fragment is pre-tokenized by the split pattern TOK_SPLIT_PATTERN
//      (hand-written in tokenizer.c, Unicode tables in unicode_tables.c);
//   3. each pre-token's bytes are merged by BPE: repeatedly merge the adjacent pair with the
//      lowest merge rank (leftmost first on ties) until no pair has a rank.
// Control tokens (<bos>, [CODE], ...) are NEVER produced by encode: the prompt builder
// inserts their ids directly. decode() is the inverse: the concatenated token bytes.
//
// Conventions: every length is size_t, ids are int32_t, every input is bounds-checked, no
// function crashes on any input (invalid UTF-8 included). Functions that can fail take
// `char* err, size_t err_len` and write a one-line message there (err may be NULL).
#ifndef ROBOLM_TOKENIZER_H
#define ROBOLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// python: robolm.tokenizer.SPLIT_PATTERN (llama.cpp `tokenizer.ggml.pre` = "qwen35")
#define TOK_PRE_NAME "qwen35"
#define TOK_SPLIT_PATTERN                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+" \
    "|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

// Token types: the values of GGUF's tokenizer.ggml.token_type.
enum {
    TOK_TYPE_NORMAL = 1,        // ordinary BPE token (bytes, merges)
    TOK_TYPE_UNKNOWN = 2,       // <unk>: treated like CONTROL
    TOK_TYPE_CONTROL = 3,       // special tokens: never produced by encode
    TOK_TYPE_USER_DEFINED = 4,  // split out of raw text before pre-tokenization
    TOK_TYPE_UNUSED = 5,        // never produced by encode, decodes to its bytes
    TOK_TYPE_BYTE = 6           // a single-byte token: treated like NORMAL
};

#define TOK_ERROR ((size_t)-1)

typedef struct Tokenizer Tokenizer;

// ---------------------------------------------------------------------------------------
// build / free

// Build from raw bytes. tokens[i] (token_lens[i] bytes, raw UTF-8 or any bytes) is the text of
// id i, types[i] its TOK_TYPE_*. merges holds n_merges pairs (left_id, right_id) in rank
// order (2 * n_merges int32); the result of merge r is the token whose bytes are
// bytes(left) + bytes(right), which must exist. Every one of the 256 single bytes must be a
// NORMAL or BYTE token. Token texts must be distinct, except that CONTROL/UNUSED texts may
// repeat other texts. Returns NULL (and a message in err) on bad input.
Tokenizer* tokenizer_build(const char* const* tokens, const size_t* token_lens,
                           const int32_t* types, size_t n_vocab,
                           const int32_t* merges, size_t n_merges,
                           char* err, size_t err_len);

// Build from GGUF metadata as llama.cpp stores it (tokenizer.ggml.tokens / token_type /
// merges): NORMAL and BYTE tokens are in GPT-2 bytes_to_unicode form (space -> "Ġ"),
// CONTROL / USER_DEFINED / UNKNOWN / UNUSED tokens are raw text; each merge is the string
// "left right" (both sides in bytes_to_unicode form, split at the first space after
// position 0). types may be NULL (all NORMAL).
Tokenizer* tokenizer_build_gguf(const char* const* tokens, const size_t* token_lens,
                                const int32_t* types, size_t n_vocab,
                                const char* const* merges, const size_t* merge_lens,
                                size_t n_merges, char* err, size_t err_len);

void tokenizer_free(Tokenizer* t);

// ---------------------------------------------------------------------------------------
// use

size_t tokenizer_vocab_size(const Tokenizer* t);

// Encode len bytes of text (any bytes; invalid UTF-8 bytes are kept, each as its own
// "punctuation" codepoint). Writes at most cap ids into out and returns the number of ids
// the full encoding has (call again with a bigger buffer when it is > cap; out may be NULL
// when cap is 0). Returns TOK_ERROR only for t == NULL or text == NULL with len > 0.
// Not thread-safe on one Tokenizer (it keeps a cache of recently encoded pre-tokens).
size_t tokenizer_encode(Tokenizer* t, const char* text, size_t len, int32_t* out, size_t cap);

// Decode n ids to bytes: writes at most cap bytes into out and returns the full length.
// CONTROL/UNKNOWN tokens are written as their text unless skip_special is nonzero.
// Returns TOK_ERROR if any id is out of range.
size_t tokenizer_decode(const Tokenizer* t, const int32_t* ids, size_t n, int skip_special,
                        char* out, size_t cap);

// The raw bytes of one token (not NUL-terminated) and its length; NULL if id is out of range.
const char* tokenizer_token_bytes(const Tokenizer* t, int32_t id, size_t* len);
int32_t tokenizer_token_type(const Tokenizer* t, int32_t id);  // -1 if out of range

// The id whose raw bytes equal text (any type, e.g. "[CODE]" or "<eos>"), or -1.
int32_t tokenizer_find(const Tokenizer* t, const char* text, size_t len);

// ---------------------------------------------------------------------------------------
// pieces, exposed for tests, training and teaching

// The pieces encode() works on, in order: fn(user, start, end, id) is called for each
// user-defined token (id >= 0) and for each plain pre-token (id = -1; BPE then merges its
// bytes). Returns 0, or -1 on bad arguments or out of memory.
int tokenizer_pieces(const Tokenizer* t, const char* text, size_t len,
                     void (*fn)(void* user, size_t start, size_t end, int32_t id), void* user);

// Pre-tokenize with TOK_SPLIT_PATTERN: writes at most cap end offsets (bytes, exclusive)
// of the pre-tokens of text into ends and returns how many pre-tokens there are.
size_t tok_split(const char* text, size_t len, size_t* ends, size_t cap);

// GPT-2's bytes_to_unicode: the codepoint that stands for byte b in GGUF token texts.
uint32_t tok_byte_to_unicode(uint8_t b);
// The inverse: byte for codepoint cp, or -1 if cp stands for no byte.
int tok_unicode_to_byte(uint32_t cp);

// Train BPE merges (the hot loop of robolm.tokenizer.Tokenizer.train).
// words: n_words unique chunks (pre-tokens after forced merges), word w is the id sequence
// ids[offsets[w] .. offsets[w+1]) (offsets has n_words + 1 entries) seen counts[w] times.
// vocab: the n_vocab tokens so far (raw bytes), new tokens get ids n_vocab, n_vocab+1, ...
// First the n_forced pairs in forced_pairs (2 ids each; they may use ids made by earlier
// forced pairs) are applied in order, whatever their counts. Then each step merges the pair
// with the highest total count; ties go to the smaller (left id, right id). Pairs whose
// concatenation is already a token are skipped, and the loop stops when the best count is
// below min_count. Writes 2 ids per merge (forced ones first) into out_pairs (room for
// 2 * n_merges) and returns the number of merges made (<= n_merges), or TOK_ERROR.
size_t tok_train_bpe(const int32_t* ids, const size_t* offsets, const int64_t* counts,
                     size_t n_words, const char* const* vocab, const size_t* vocab_lens,
                     size_t n_vocab, const int32_t* forced_pairs, size_t n_forced,
                     size_t n_merges, int64_t min_count, int32_t* out_pairs,
                     char* err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
