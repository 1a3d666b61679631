// RoboLM's byte-level BPE tokenizer in C. Read robolm/tokenizer.py first: it is the
// reference, written to be read; this file does the same steps, fast. API in tokenizer.h.
//
// Parts: (1) small hash maps, (2) UTF-8 + the pre-tokenizer split, (3) build/free,
// (4) BPE on one pre-token, (5) encode/decode, (6) training.
#include "tokenizer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_tables.h"

static void set_err(char* err, size_t err_len, const char* fmt, ...) {
    if (!err || err_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

// ======================================================================================
// (1) hash maps: open addressing, power-of-two capacity, linear probing

static uint64_t hash_bytes(const char* s, size_t n) {  // FNV-1a, then a final mix
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= (uint8_t)s[i]; h *= 1099511628211ULL; }
    h ^= h >> 29; h *= 0xbf58476d1ce4e5b9ULL; h ^= h >> 32;
    return h;
}

static uint64_t hash_u64(uint64_t x) {  // splitmix64 finalizer
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

// bytes -> id, the strings live elsewhere (the tokenizer's token table)
typedef struct {
    int32_t* slots;  // -1 = empty, else an id
    size_t cap;
    const char* const* strs;
    const size_t* lens;
} StrMap;

static int strmap_init(StrMap* m, size_t n, const char* const* strs, const size_t* lens) {
    m->cap = pow2_at_least(2 * n + 1);
    m->slots = (int32_t*)malloc(m->cap * sizeof(int32_t));
    if (!m->slots) return 0;
    memset(m->slots, 0xff, m->cap * sizeof(int32_t));
    m->strs = strs;
    m->lens = lens;
    return 1;
}

static int32_t strmap_get(const StrMap* m, const char* s, size_t n) {
    size_t i = hash_bytes(s, n) & (m->cap - 1);
    for (;;) {
        int32_t id = m->slots[i];
        if (id < 0) return -1;
        if (m->lens[id] == n && memcmp(m->strs[id], s, n) == 0) return id;
        i = (i + 1) & (m->cap - 1);
    }
}

// insert id (its string is strs[id]) unless the string is there already; returns the id in the map
static int32_t strmap_put(StrMap* m, int32_t id) {
    const char* s = m->strs[id];
    size_t n = m->lens[id];
    size_t i = hash_bytes(s, n) & (m->cap - 1);
    for (;;) {
        int32_t old = m->slots[i];
        if (old < 0) { m->slots[i] = id; return id; }
        if (m->lens[old] == n && memcmp(m->strs[old], s, n) == 0) return old;
        i = (i + 1) & (m->cap - 1);
    }
}

// (left id, right id) -> (rank, merged id)
typedef struct { uint64_t key; int32_t rank, id; } PairSlot;
typedef struct { PairSlot* slots; size_t cap; } PairMap;
#define PAIR_EMPTY UINT64_MAX

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static int pairmap_init(PairMap* m, size_t n) {
    m->cap = pow2_at_least(2 * n + 1);
    m->slots = (PairSlot*)malloc(m->cap * sizeof(PairSlot));
    if (!m->slots) return 0;
    for (size_t i = 0; i < m->cap; i++) m->slots[i].key = PAIR_EMPTY;
    return 1;
}

static const PairSlot* pairmap_get(const PairMap* m, int32_t a, int32_t b) {
    uint64_t k = pair_key(a, b);
    size_t i = hash_u64(k) & (m->cap - 1);
    for (;;) {
        const PairSlot* s = &m->slots[i];
        if (s->key == k) return s;
        if (s->key == PAIR_EMPTY) return NULL;
        i = (i + 1) & (m->cap - 1);
    }
}

static void pairmap_put_first(PairMap* m, int32_t a, int32_t b, int32_t rank, int32_t id) {
    uint64_t k = pair_key(a, b);
    size_t i = hash_u64(k) & (m->cap - 1);
    for (;;) {
        PairSlot* s = &m->slots[i];
        if (s->key == k) return;  // a repeated merge keeps its first (lowest) rank, like llama.cpp
        if (s->key == PAIR_EMPTY) { s->key = k; s->rank = rank; s->id = id; return; }
        i = (i + 1) & (m->cap - 1);
    }
}

// ======================================================================================
// (2) UTF-8 and the split.  python: regex.findall(SPLIT_PATTERN, text)

// Decode the codepoint at s[i] (i < len). Invalid UTF-8 (bad lead, truncated, overlong,
// surrogate, > U+10FFFF) gives a one-byte pseudo codepoint 0x110000 + byte, class 0.
static inline uint32_t utf8_at(const uint8_t* s, size_t len, size_t i, size_t* n) {
    uint8_t b0 = s[i];
    if (b0 < 0x80) { *n = 1; return b0; }
    size_t left = len - i;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (left >= 2 && (s[i + 1] & 0xC0) == 0x80) { *n = 2; return ((uint32_t)(b0 & 0x1F) << 6) | (s[i + 1] & 0x3F); }
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (left >= 3 && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80 &&
            !(b0 == 0xE0 && s[i + 1] < 0xA0) && !(b0 == 0xED && s[i + 1] >= 0xA0)) {
            *n = 3;
            return ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
        }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (left >= 4 && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80 && (s[i + 3] & 0xC0) == 0x80 &&
            !(b0 == 0xF0 && s[i + 1] < 0x90) && !(b0 == 0xF4 && s[i + 1] >= 0x90)) {
            *n = 4;
            return ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                   ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
        }
    }
    *n = 1;
    return 0x110000u + b0;
}

static uint8_t k_ascii_class[128];
static int k_ascii_ready = 0;

static inline uint8_t class_of(uint32_t cp) {
    if (cp < 128) {
        if (!k_ascii_ready) {  // benign race: every thread writes the same values
            for (uint32_t c = 0; c < 128; c++) k_ascii_class[c] = unicode_class(c);
            k_ascii_ready = 1;
        }
        return k_ascii_class[cp];
    }
    return cp < 0x110000u ? unicode_class(cp) : 0;
}

#define LM (UCLASS_LETTER | UCLASS_MARK)
#define IS_OTHER(c) ((c) == 0)  // [^\s\p{L}\p{M}\p{N}]: punctuation, symbols, invalid bytes

// The end (exclusive, in bytes) of the pre-token that starts at byte i < len. One branch
// per alternative of SPLIT_PATTERN, tried in the pattern's order.
static size_t split_one(const uint8_t* s, size_t len, size_t i) {
    size_t n0, n1;
    uint32_t c0 = utf8_at(s, len, i, &n0);
    uint8_t k0 = class_of(c0);

    // (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])
    if (c0 == '\'' && i + 1 < len) {
        uint8_t a = s[i + 1] | 0x20;  // ASCII lower case (only compared with letters)
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (i + 2 < len) {
            uint8_t b = s[i + 2] | 0x20;
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
        }
    }
    // [^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+
    size_t j = 0;
    if (k0 & LM) {
        j = i + n0;
    } else if (c0 != '\r' && c0 != '\n' && !(k0 & UCLASS_NUMBER) && i + n0 < len) {
        uint32_t c1 = utf8_at(s, len, i + n0, &n1);
        if (class_of(c1) & LM) j = i + n0 + n1;
    }
    if (j) {
        while (j < len) {
            uint32_t c = utf8_at(s, len, j, &n1);
            if (!(class_of(c) & LM)) break;
            j += n1;
        }
        return j;
    }
    // \p{N}
    if (k0 & UCLASS_NUMBER) return i + n0;
    // ' ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*'
    if (IS_OTHER(k0)) {
        j = i + n0;
    } else if (c0 == ' ' && i + 1 < len) {
        uint32_t c1 = utf8_at(s, len, i + 1, &n1);
        if (IS_OTHER(class_of(c1))) j = i + 1 + n1;
    }
    if (j) {
        while (j < len) {
            uint32_t c = utf8_at(s, len, j, &n1);
            if (!IS_OTHER(class_of(c))) break;
            j += n1;
        }
        while (j < len && (s[j] == '\r' || s[j] == '\n')) j++;
        return j;
    }
    // \s*[\r\n]+ | \s+(?!\S) | \s+   (here c0 is whitespace)
    size_t last_nl = 0, last_start = i, count = 0;
    j = i;
    while (j < len) {
        uint32_t c = utf8_at(s, len, j, &n1);
        if (!(class_of(c) & UCLASS_SPACE)) break;
        if (c == '\r' || c == '\n') last_nl = j + 1;
        last_start = j;
        count++;
        j += n1;
    }
    if (last_nl) return last_nl;
    if (count >= 2 && j < len) return last_start;
    if (count >= 1) return j;
    return i + n0;  // unreachable: every codepoint is in one of the classes above
}

size_t tok_split(const char* text, size_t len, size_t* ends, size_t cap) {
    if (!text) return 0;
    const uint8_t* s = (const uint8_t*)text;
    size_t n = 0, i = 0;
    while (i < len) {
        i = split_one(s, len, i);
        if (n < cap && ends) ends[n] = i;
        n++;
    }
    return n;
}

// GPT-2 bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes
// for 256, 257, ... in byte order.
uint32_t tok_byte_to_unicode(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    uint32_t n = 0;
    for (uint32_t c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) n++;
    return 256 + n;
}

int tok_unicode_to_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) return (int)cp;
    if (cp < 256 || cp >= 256 + 68) return -1;
    uint32_t n = 0;
    for (uint32_t c = 0; c < 256; c++) {
        if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) {
            if (256 + n == cp) return (int)c;
            n++;
        }
    }
    return -1;
}

// ======================================================================================
// (3) build / free

#define CACHE_SLOTS 16384  // direct-mapped cache of encoded pre-tokens
#define CACHE_KEY 30
#define CACHE_IDS 14
typedef struct {
    uint64_t hash;
    uint8_t len, n_ids;
    char key[CACHE_KEY];
    int32_t ids[CACHE_IDS];
} CacheEntry;

typedef struct {           // one user-defined token, laid out for the scan in find_ud_spans
    const char* text;
    size_t len;
    int32_t prio;          // its position in ud[] (0 = cut first)
} UdEntry;

struct Tokenizer {
    size_t n_vocab;
    char** tok;        // raw bytes of each token
    size_t* tok_len;
    int32_t* type;
    int32_t byte_id[256];  // the token of each single byte
    StrMap strs;           // bytes -> id
    PairMap merges;        // (left, right) -> (rank, id)
    int32_t* ud;           // user-defined ids, longest first (ties: smaller id first)
    size_t n_ud;
    UdEntry* ud_by_byte;   // the user-defined tokens grouped by first byte: entries ud_byte_start[b] ..
    size_t ud_byte_start[257];  //   ud_byte_start[b + 1] - 1 start with byte b, in priority order
    uint8_t ud_pair[8192];      // bit (b0 << 8 | b1) set: some user-defined token starts with bytes b0 b1
    CacheEntry* cache;
    // scratch for BPE on one pre-token (grown on demand)
    int32_t* sym;
    int32_t* rank;
    size_t scratch_cap;
};

void tokenizer_free(Tokenizer* t) {
    if (!t) return;
    if (t->tok) for (size_t i = 0; i < t->n_vocab; i++) free(t->tok[i]);
    free(t->tok);
    free(t->tok_len);
    free(t->type);
    free(t->strs.slots);
    free(t->merges.slots);
    free(t->ud);
    free(t->ud_by_byte);
    free(t->cache);
    free(t->sym);
    free(t->rank);
    free(t);
}

static int is_normal(int32_t type) { return type == TOK_TYPE_NORMAL || type == TOK_TYPE_BYTE; }

// user-defined ids, longest text first, ties by smaller id (insertion sort: there are few)
static void sort_ud(const Tokenizer* t, int32_t* ud, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int32_t x = ud[i];
        size_t j = i;
        while (j > 0 && (t->tok_len[ud[j - 1]] < t->tok_len[x] ||
                         (t->tok_len[ud[j - 1]] == t->tok_len[x] && ud[j - 1] > x))) {
            ud[j] = ud[j - 1];
            j--;
        }
        ud[j] = x;
    }
}

// Everything except the merges: copy tokens, index them, check the byte tokens.
static Tokenizer* build_vocab(const char* const* tokens, const size_t* token_lens,
                              const int32_t* types, size_t n_vocab, size_t n_merges,
                              char* err, size_t err_len) {
    if (!tokens || !token_lens || n_vocab == 0) { set_err(err, err_len, "tokenizer: empty vocabulary"); return NULL; }
    if (n_vocab > (size_t)INT32_MAX) { set_err(err, err_len, "tokenizer: vocabulary too large"); return NULL; }
    Tokenizer* t = (Tokenizer*)calloc(1, sizeof(Tokenizer));
    if (!t) { set_err(err, err_len, "tokenizer: out of memory"); return NULL; }
    t->n_vocab = n_vocab;
    t->tok = (char**)calloc(n_vocab, sizeof(char*));
    t->tok_len = (size_t*)calloc(n_vocab, sizeof(size_t));
    t->type = (int32_t*)calloc(n_vocab, sizeof(int32_t));
    t->cache = (CacheEntry*)calloc(CACHE_SLOTS, sizeof(CacheEntry));
    if (!t->tok || !t->tok_len || !t->type || !t->cache) goto oom;
    for (size_t i = 0; i < n_vocab; i++) {
        int32_t ty = types ? types[i] : TOK_TYPE_NORMAL;
        if (ty < TOK_TYPE_NORMAL || ty > TOK_TYPE_BYTE) {
            set_err(err, err_len, "tokenizer: token %zu has unknown type %d", i, (int)ty);
            tokenizer_free(t);
            return NULL;
        }
        if (!tokens[i] && token_lens[i] > 0) {
            set_err(err, err_len, "tokenizer: token %zu is NULL", i);
            tokenizer_free(t);
            return NULL;
        }
        t->type[i] = ty;
        t->tok_len[i] = token_lens[i];
        t->tok[i] = (char*)malloc(token_lens[i] + 1);
        if (!t->tok[i]) goto oom;
        if (token_lens[i]) memcpy(t->tok[i], tokens[i], token_lens[i]);
        t->tok[i][token_lens[i]] = 0;
    }
    if (!strmap_init(&t->strs, n_vocab, (const char* const*)t->tok, t->tok_len)) goto oom;
    // normal, byte and user-defined texts must be distinct; control texts may repeat them
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n_vocab; i++) {
            int first = is_normal(t->type[i]) || t->type[i] == TOK_TYPE_USER_DEFINED;
            if (first != (pass == 0)) continue;
            if (first && t->tok_len[i] == 0) {
                set_err(err, err_len, "tokenizer: token %zu is empty", i);
                tokenizer_free(t);
                return NULL;
            }
            int32_t got = strmap_put(&t->strs, (int32_t)i);
            if (first && got != (int32_t)i) {
                set_err(err, err_len, "tokenizer: tokens %d and %zu have the same text", (int)got, i);
                tokenizer_free(t);
                return NULL;
            }
        }
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        int32_t id = strmap_get(&t->strs, &c, 1);
        if (id < 0 || !is_normal(t->type[id])) {
            set_err(err, err_len, "tokenizer: no normal token for byte 0x%02X", b);
            tokenizer_free(t);
            return NULL;
        }
        t->byte_id[b] = id;
    }
    size_t n_ud = 0;
    for (size_t i = 0; i < n_vocab; i++) n_ud += t->type[i] == TOK_TYPE_USER_DEFINED;
    if (n_ud) {
        t->ud = (int32_t*)malloc(n_ud * sizeof(int32_t));
        if (!t->ud) goto oom;
        for (size_t i = 0; i < n_vocab; i++)
            if (t->type[i] == TOK_TYPE_USER_DEFINED) t->ud[t->n_ud++] = (int32_t)i;
        sort_ud(t, t->ud, t->n_ud);
        t->ud_by_byte = (UdEntry*)malloc(n_ud * sizeof(UdEntry));
        if (!t->ud_by_byte) goto oom;
        size_t k = 0;
        for (int b = 0; b < 256; b++) {
            t->ud_byte_start[b] = k;
            for (size_t u = 0; u < t->n_ud; u++) {
                const char* tx = t->tok[t->ud[u]];
                if ((uint8_t)tx[0] != b) continue;
                t->ud_by_byte[k++] = (UdEntry){tx, t->tok_len[t->ud[u]], (int32_t)u};
                // a one-byte user-defined token cannot exist (it would repeat a byte token), so
                // every token has a second byte
                unsigned pair = ((unsigned)b << 8) | (uint8_t)tx[1];
                t->ud_pair[pair >> 3] |= (uint8_t)(1u << (pair & 7));
            }
        }
        t->ud_byte_start[256] = k;
    }
    if (!pairmap_init(&t->merges, n_merges)) goto oom;
    return t;
oom:
    set_err(err, err_len, "tokenizer: out of memory");
    tokenizer_free(t);
    return NULL;
}

static int add_merge(Tokenizer* t, int32_t a, int32_t b, size_t rank, char* err, size_t err_len) {
    if (a < 0 || b < 0 || (size_t)a >= t->n_vocab || (size_t)b >= t->n_vocab) {
        set_err(err, err_len, "tokenizer: merge %zu uses an id out of range (%d, %d)", rank, (int)a, (int)b);
        return 0;
    }
    if (!is_normal(t->type[a]) || !is_normal(t->type[b])) {
        set_err(err, err_len, "tokenizer: merge %zu joins a non-normal token (%d, %d)", rank, (int)a, (int)b);
        return 0;
    }
    size_t la = t->tok_len[a], lb = t->tok_len[b];
    char stackbuf[256];
    char* buf = la + lb <= sizeof(stackbuf) ? stackbuf : (char*)malloc(la + lb);
    if (!buf) { set_err(err, err_len, "tokenizer: out of memory"); return 0; }
    memcpy(buf, t->tok[a], la);
    memcpy(buf + la, t->tok[b], lb);
    int32_t id = strmap_get(&t->strs, buf, la + lb);
    if (buf != stackbuf) free(buf);
    if (id < 0 || !is_normal(t->type[id])) {
        set_err(err, err_len, "tokenizer: merge %zu (%d, %d) makes a string that is not a normal token", rank, (int)a, (int)b);
        return 0;
    }
    pairmap_put_first(&t->merges, a, b, (int32_t)rank, id);
    return 1;
}

Tokenizer* tokenizer_build(const char* const* tokens, const size_t* token_lens,
                           const int32_t* types, size_t n_vocab,
                           const int32_t* merges, size_t n_merges,
                           char* err, size_t err_len) {
    if (n_merges && !merges) { set_err(err, err_len, "tokenizer: merges is NULL"); return NULL; }
    if (n_merges > (size_t)INT32_MAX) { set_err(err, err_len, "tokenizer: too many merges"); return NULL; }
    Tokenizer* t = build_vocab(tokens, token_lens, types, n_vocab, n_merges, err, err_len);
    if (!t) return NULL;
    for (size_t r = 0; r < n_merges; r++) {
        if (!add_merge(t, merges[2 * r], merges[2 * r + 1], r, err, err_len)) { tokenizer_free(t); return NULL; }
    }
    return t;
}

// decode a bytes_to_unicode string into raw bytes (out has room for len bytes); -1 if invalid
static long long unmap_gpt2(const char* s, size_t len, char* out) {
    size_t i = 0, o = 0, n;
    while (i < len) {
        uint32_t cp = utf8_at((const uint8_t*)s, len, i, &n);
        int b = tok_unicode_to_byte(cp);
        if (b < 0) return -1;
        out[o++] = (char)b;
        i += n;
    }
    return (long long)o;
}

Tokenizer* tokenizer_build_gguf(const char* const* tokens, const size_t* token_lens,
                                const int32_t* types, size_t n_vocab,
                                const char* const* merges, const size_t* merge_lens,
                                size_t n_merges, char* err, size_t err_len) {
    if (!tokens || !token_lens || n_vocab == 0) { set_err(err, err_len, "tokenizer: empty vocabulary"); return NULL; }
    if (n_merges && (!merges || !merge_lens)) { set_err(err, err_len, "tokenizer: merges is NULL"); return NULL; }
    char** raw = (char**)calloc(n_vocab, sizeof(char*));
    size_t* raw_len = (size_t*)calloc(n_vocab, sizeof(size_t));
    Tokenizer* t = NULL;
    char* buf = NULL;
    if (!raw || !raw_len) { set_err(err, err_len, "tokenizer: out of memory"); goto done; }
    for (size_t i = 0; i < n_vocab; i++) {
        int32_t ty = types ? types[i] : TOK_TYPE_NORMAL;
        if (!tokens[i] && token_lens[i]) { set_err(err, err_len, "tokenizer: token %zu is NULL", i); goto done; }
        raw[i] = (char*)malloc(token_lens[i] + 1);
        if (!raw[i]) { set_err(err, err_len, "tokenizer: out of memory"); goto done; }
        if (is_normal(ty)) {
            long long n = unmap_gpt2(tokens[i], token_lens[i], raw[i]);
            if (n < 0) { set_err(err, err_len, "tokenizer: token %zu is not in GPT-2 byte-to-unicode form", i); goto done; }
            raw_len[i] = (size_t)n;
        } else {
            if (token_lens[i]) memcpy(raw[i], tokens[i], token_lens[i]);
            raw_len[i] = token_lens[i];
        }
    }
    t = build_vocab((const char* const*)raw, raw_len, types, n_vocab, n_merges, err, err_len);
    if (!t) goto done;
    for (size_t r = 0; r < n_merges; r++) {
        const char* m = merges[r];
        size_t ml = merge_lens[r];
        if (!m || ml < 3) { set_err(err, err_len, "tokenizer: merge %zu is not \"left right\"", r); goto fail; }
        const char* sp = memchr(m + 1, ' ', ml - 1);  // split at the first space after position 0
        if (!sp || sp == m + ml - 1) { set_err(err, err_len, "tokenizer: merge %zu is not \"left right\"", r); goto fail; }
        size_t ll = (size_t)(sp - m), rl = ml - ll - 1;
        free(buf);
        buf = (char*)malloc(ml);
        if (!buf) { set_err(err, err_len, "tokenizer: out of memory"); goto fail; }
        long long a = unmap_gpt2(m, ll, buf), b = a < 0 ? -1 : unmap_gpt2(sp + 1, rl, buf + a);
        if (a < 0 || b < 0) { set_err(err, err_len, "tokenizer: merge %zu is not in byte-to-unicode form", r); goto fail; }
        int32_t ia = strmap_get(&t->strs, buf, (size_t)a), ib = strmap_get(&t->strs, buf + a, (size_t)b);
        if (ia < 0 || ib < 0) { set_err(err, err_len, "tokenizer: merge %zu names a token that is not in the vocabulary", r); goto fail; }
        if (!add_merge(t, ia, ib, r, err, err_len)) goto fail;
    }
    goto done;
fail:
    tokenizer_free(t);
    t = NULL;
done:
    free(buf);
    if (raw) for (size_t i = 0; i < n_vocab; i++) free(raw[i]);
    free(raw);
    free(raw_len);
    return t;
}

size_t tokenizer_vocab_size(const Tokenizer* t) { return t ? t->n_vocab : 0; }

const char* tokenizer_token_bytes(const Tokenizer* t, int32_t id, size_t* len) {
    if (!t || id < 0 || (size_t)id >= t->n_vocab) { if (len) *len = 0; return NULL; }
    if (len) *len = t->tok_len[id];
    return t->tok[id];
}

int32_t tokenizer_token_type(const Tokenizer* t, int32_t id) {
    if (!t || id < 0 || (size_t)id >= t->n_vocab) return -1;
    return t->type[id];
}

int32_t tokenizer_find(const Tokenizer* t, const char* text, size_t len) {
    if (!t || (!text && len)) return -1;
    return strmap_get(&t->strs, text ? text : "", len);
}

// ======================================================================================
// (4) BPE on one pre-token.  python: Tokenizer._bpe(chunk)
// Repeatedly merge the adjacent pair with the lowest rank (leftmost on ties).

#define NO_RANK INT32_MAX

static inline int32_t rank_of(const Tokenizer* t, int32_t a, int32_t b, int32_t* id) {
    const PairSlot* s = pairmap_get(&t->merges, a, b);
    if (!s) return NO_RANK;
    *id = s->id;
    return s->rank;
}

static int grow_scratch(Tokenizer* t, size_t n) {
    if (n <= t->scratch_cap) return 1;
    size_t cap = t->scratch_cap ? t->scratch_cap : 64;
    while (cap < n) cap *= 2;
    int32_t* s = (int32_t*)realloc(t->sym, cap * sizeof(int32_t));
    if (!s) return 0;
    t->sym = s;
    int32_t* r = (int32_t*)realloc(t->rank, cap * sizeof(int32_t));
    if (!r) return 0;
    t->rank = r;
    t->scratch_cap = cap;
    return 1;
}

// short pre-tokens: arrays, a linear scan for the lowest rank. Returns the number of ids in sym.
static size_t bpe_small(Tokenizer* t, const uint8_t* s, size_t n) {
    int32_t* sym = t->sym;
    int32_t* rk = t->rank;  // rk[k]: rank of pair (sym[k], sym[k+1])
    int32_t dummy;
    for (size_t k = 0; k < n; k++) sym[k] = t->byte_id[s[k]];
    for (size_t k = 0; k + 1 < n; k++) rk[k] = rank_of(t, sym[k], sym[k + 1], &dummy);
    size_t m = n;
    while (m > 1) {
        size_t best = 0;
        int32_t br = NO_RANK;
        for (size_t k = 0; k + 1 < m; k++)
            if (rk[k] < br) { br = rk[k]; best = k; }
        if (br == NO_RANK) break;
        int32_t id = 0;
        rank_of(t, sym[best], sym[best + 1], &id);
        sym[best] = id;
        memmove(sym + best + 1, sym + best + 2, (m - best - 2) * sizeof(int32_t));
        if (m >= best + 3) memmove(rk + best + 1, rk + best + 2, (m - best - 3) * sizeof(int32_t));
        m--;
        if (best > 0) rk[best - 1] = rank_of(t, sym[best - 1], sym[best], &dummy);
        if (best + 1 < m) rk[best] = rank_of(t, sym[best], sym[best + 1], &dummy);
    }
    return m;
}

// long pre-tokens: a doubly linked list of symbols and a binary min-heap of candidate
// merges ordered by (rank, position); stale heap entries are skipped when popped.
typedef struct { int32_t rank; uint32_t pos; int32_t a, b; } HeapItem;

static inline int heap_less(const HeapItem* x, const HeapItem* y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}
static void heap_push(HeapItem* h, size_t* n, HeapItem it) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&it, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}
static HeapItem heap_pop(HeapItem* h, size_t* n) {
    HeapItem top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, c = i;
        const HeapItem* cur = &last;
        if (l < *n && heap_less(&h[l], cur)) { c = l; cur = &h[l]; }
        if (r < *n && heap_less(&h[r], cur)) { c = r; }
        if (c == i) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static size_t bpe_large(Tokenizer* t, const uint8_t* s, size_t n, int* ok) {
    if (n >= UINT32_MAX) { *ok = 0; return 0; }
    int32_t* sym = t->sym;  // sym[k] = id at position k, or -1 once merged away
    int32_t* nxt = t->rank; // reuse: next live position (n = none)
    size_t* prv = (size_t*)malloc(n * sizeof(size_t));
    HeapItem* heap = (HeapItem*)malloc(2 * n * sizeof(HeapItem) + sizeof(HeapItem));
    size_t hn = 0, cap = 2 * n + 1;
    if (!prv || !heap) { free(prv); free(heap); *ok = 0; return 0; }
    for (size_t k = 0; k < n; k++) { sym[k] = t->byte_id[s[k]]; nxt[k] = (int32_t)(k + 1); prv[k] = k ? k - 1 : SIZE_MAX; }
    int32_t id = 0;
    for (size_t k = 0; k + 1 < n; k++) {
        int32_t r = rank_of(t, sym[k], sym[k + 1], &id);
        if (r != NO_RANK) heap_push(heap, &hn, (HeapItem){r, (uint32_t)k, sym[k], sym[k + 1]});
    }
    while (hn) {
        HeapItem it = heap_pop(heap, &hn);
        size_t k = it.pos;
        if (sym[k] != it.a) continue;  // left side changed or merged away
        size_t q = (size_t)nxt[k];
        if (q >= n || sym[q] != it.b) continue;  // right side changed
        rank_of(t, it.a, it.b, &id);
        sym[k] = id;
        sym[q] = -1;
        nxt[k] = nxt[q];
        if ((size_t)nxt[q] < n) prv[nxt[q]] = k;
        if (hn + 2 > cap) {  // cannot happen (each merge adds at most 2 items, n-1 merges) but stay safe
            HeapItem* h2 = (HeapItem*)realloc(heap, (cap *= 2) * sizeof(HeapItem));
            if (!h2) { free(prv); free(heap); *ok = 0; return 0; }
            heap = h2;
        }
        if (prv[k] != SIZE_MAX) {
            size_t p = prv[k];
            int32_t r = rank_of(t, sym[p], sym[k], &id);
            if (r != NO_RANK) heap_push(heap, &hn, (HeapItem){r, (uint32_t)p, sym[p], sym[k]});
        }
        if ((size_t)nxt[k] < n) {
            size_t q2 = (size_t)nxt[k];
            int32_t r = rank_of(t, sym[k], sym[q2], &id);
            if (r != NO_RANK) heap_push(heap, &hn, (HeapItem){r, (uint32_t)k, sym[k], sym[q2]});
        }
    }
    size_t m = 0;
    for (size_t k = 0; k < n; k = (size_t)nxt[k]) sym[m++] = sym[k];
    free(prv);
    free(heap);
    return m;
}

// Encode one pre-token into out (room checked by the caller's counters). Returns #ids or TOK_ERROR.
static size_t bpe_chunk(Tokenizer* t, const uint8_t* s, size_t n, int32_t* out, size_t out_room) {
    CacheEntry* e = NULL;
    uint64_t h = 0;
    if (n <= CACHE_KEY) {
        h = hash_bytes((const char*)s, n);
        e = &t->cache[h & (CACHE_SLOTS - 1)];
        if (e->n_ids && e->hash == h && e->len == n && memcmp(e->key, s, n) == 0) {
            size_t k = e->n_ids < out_room ? e->n_ids : out_room;
            if (k) memcpy(out, e->ids, k * sizeof(int32_t));
            return e->n_ids;
        }
    }
    if (!grow_scratch(t, n)) return TOK_ERROR;
    size_t m;
    if (n <= 64) {
        m = bpe_small(t, s, n);
    } else {
        int ok = 1;
        m = bpe_large(t, s, n, &ok);
        if (!ok) return TOK_ERROR;
    }
    size_t k = m < out_room ? m : out_room;
    if (k) memcpy(out, t->sym, k * sizeof(int32_t));
    if (e && m <= CACHE_IDS) {
        e->hash = h;
        e->len = (uint8_t)n;
        e->n_ids = (uint8_t)m;
        memcpy(e->key, s, n);
        memcpy(e->ids, t->sym, m * sizeof(int32_t));
    }
    return m;
}

// ======================================================================================
// (5) encode / decode

// Encode one fragment of plain text (no user-defined tokens inside): split, then BPE.
static int encode_plain(Tokenizer* t, const uint8_t* s, size_t len, int32_t* out, size_t cap, size_t* count) {
    size_t i = 0;
    while (i < len) {
        size_t j = split_one(s, len, i);
        size_t room = *count < cap ? cap - *count : 0;
        size_t m = bpe_chunk(t, s + i, j - i, room ? out + *count : NULL, room);  // writes min(m, room) ids
        if (m == TOK_ERROR) return 0;
        *count += m;
        i = j;
    }
    return 1;
}

// python: Tokenizer._partition (llama.cpp's tokenizer_st_partition). The definition: for each
// user-defined token in priority order (longest first), split every remaining plain fragment at
// the token's leftmost non-overlapping occurrences. Done here in one scan with the same result:
// list every occurrence of every token, then, token by token in priority order, accept an
// occurrence when it starts at or after the end of that token's previous accepted one and
// overlaps no span accepted for an earlier token (it lies inside one plain fragment).
typedef struct { size_t start; int32_t prio; } Span;

static int span_by_start(const void* a, const void* b) {
    size_t x = ((const Span*)a)->start, y = ((const Span*)b)->start;
    return x < y ? -1 : (x > y);
}

// Accepted user-defined spans of s, sorted by start, in *out (malloc'd; free it). TOK_ERROR on OOM.
static size_t find_ud_spans(const Tokenizer* t, const uint8_t* s, size_t len, Span** out) {
    *out = NULL;
    if (t->n_ud == 0 || len == 0) return 0;
    size_t n = 0, cap = 0;
    Span* cand = NULL;
    for (size_t pos = 0; pos + 1 < len; pos++) {  // every occurrence, in order of position
        unsigned pair = ((unsigned)s[pos] << 8) | s[pos + 1];
        if (!(t->ud_pair[pair >> 3] & (1u << (pair & 7)))) continue;  // no token starts with these 2 bytes
        size_t b0 = t->ud_byte_start[s[pos]], b1 = t->ud_byte_start[s[pos] + 1];
        for (size_t k = b0; k < b1; k++) {
            const UdEntry* e = &t->ud_by_byte[k];
            size_t L = e->len;
            int32_t u = e->prio;
            if (L > len - pos || s[pos + 1] != (uint8_t)e->text[1] || memcmp(s + pos, e->text, L) != 0) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                Span* c2 = (Span*)realloc(cand, cap * sizeof(Span));
                if (!c2) { free(cand); return TOK_ERROR; }
                cand = c2;
            }
            cand[n++] = (Span){pos, u};
        }
    }
    if (n == 0) { free(cand); return 0; }
    // group by priority (counting sort, stable: positions stay ascending)
    size_t* first = (size_t*)calloc(t->n_ud + 1, sizeof(size_t));
    Span* by_prio = (Span*)malloc(n * sizeof(Span));
    uint8_t* covered = (uint8_t*)calloc(len, 1);
    if (!first || !by_prio || !covered) { free(first); free(by_prio); free(covered); free(cand); return TOK_ERROR; }
    for (size_t i = 0; i < n; i++) first[cand[i].prio + 1]++;
    for (size_t u = 0; u < t->n_ud; u++) first[u + 1] += first[u];
    for (size_t i = 0; i < n; i++) by_prio[first[cand[i].prio]++] = cand[i];
    size_t n_acc = 0, last_end = 0;
    int32_t cur = -1;
    for (size_t i = 0; i < n; i++) {
        Span c = by_prio[i];
        if (c.prio != cur) { cur = c.prio; last_end = 0; }
        size_t L = t->tok_len[t->ud[c.prio]];
        if (c.start < last_end) continue;
        int free_run = 1;
        for (size_t k = c.start; k < c.start + L; k++) if (covered[k]) { free_run = 0; break; }
        if (!free_run) continue;
        memset(covered + c.start, 1, L);
        last_end = c.start + L;
        cand[n_acc++] = c;  // reuse cand for the accepted spans
    }
    free(first);
    free(by_prio);
    free(covered);
    qsort(cand, n_acc, sizeof(Span), span_by_start);
    *out = cand;
    return n_acc;
}

size_t tokenizer_encode(Tokenizer* t, const char* text, size_t len, int32_t* out, size_t cap) {
    if (!t || (!text && len)) return TOK_ERROR;
    if (!out) cap = 0;
    const uint8_t* s = (const uint8_t*)text;
    size_t count = 0;
    Span* spans;
    size_t n_spans = find_ud_spans(t, s, len, &spans);
    if (n_spans == TOK_ERROR) return TOK_ERROR;
    size_t pos = 0;
    for (size_t k = 0; k <= n_spans; k++) {
        size_t gap_end = k < n_spans ? spans[k].start : len;
        if (!encode_plain(t, s + pos, gap_end - pos, out, cap, &count)) { free(spans); return TOK_ERROR; }
        if (k < n_spans) {
            int32_t id = t->ud[spans[k].prio];
            if (count < cap) out[count] = id;
            count++;
            pos = gap_end + t->tok_len[id];
        }
    }
    free(spans);
    return count;
}

int tokenizer_pieces(const Tokenizer* t, const char* text, size_t len,
                     void (*fn)(void* user, size_t start, size_t end, int32_t id), void* user) {
    if (!t || !fn || (!text && len)) return -1;
    const uint8_t* s = (const uint8_t*)text;
    Span* spans;
    size_t n_spans = find_ud_spans(t, s, len, &spans);
    if (n_spans == TOK_ERROR) return -1;
    size_t pos = 0;
    for (size_t k = 0; k <= n_spans; k++) {
        size_t gap_end = k < n_spans ? spans[k].start : len;
        while (pos < gap_end) {
            size_t j = pos + split_one(s + pos, gap_end - pos, 0);
            fn(user, pos, j, -1);
            pos = j;
        }
        if (k < n_spans) {
            int32_t id = t->ud[spans[k].prio];
            fn(user, gap_end, gap_end + t->tok_len[id], id);
            pos = gap_end + t->tok_len[id];
        }
    }
    free(spans);
    return 0;
}

size_t tokenizer_decode(const Tokenizer* t, const int32_t* ids, size_t n, int skip_special,
                        char* out, size_t cap) {
    if (!t || (!ids && n)) return TOK_ERROR;
    if (!out) cap = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || (size_t)id >= t->n_vocab) return TOK_ERROR;
        int32_t ty = t->type[id];
        if (skip_special && (ty == TOK_TYPE_CONTROL || ty == TOK_TYPE_UNKNOWN || ty == TOK_TYPE_UNUSED)) continue;
        size_t l = t->tok_len[id];
        if (o < cap) memcpy(out + o, t->tok[id], (o + l <= cap ? l : cap - o));
        o += l;
    }
    return o;
}

// ======================================================================================
// (6) training.  python: Tokenizer.train (the readable version: _train_reference)

typedef struct {
    int64_t count;
    int32_t* words;  // indices of words that (may) contain the pair; may repeat or be stale
    size_t n_words, cap_words;
    int banned;      // its concatenation is already a token
    size_t stamp;    // last step it was queued for the heap
} PairInfo;

typedef struct { int64_t count; int32_t a, b; } TrainItem;

static inline int train_better(const TrainItem* x, const TrainItem* y) {  // max-heap order
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

typedef struct {
    TrainItem* h;
    size_t n, cap;
} TrainHeap;

static int theap_push(TrainHeap* q, TrainItem it) {
    if (q->n == q->cap) {
        size_t c = q->cap ? 2 * q->cap : 1024;
        TrainItem* h = (TrainItem*)realloc(q->h, c * sizeof(TrainItem));
        if (!h) return 0;
        q->h = h;
        q->cap = c;
    }
    size_t i = q->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!train_better(&it, &q->h[p])) break;
        q->h[i] = q->h[p];
        i = p;
    }
    q->h[i] = it;
    return 1;
}

static TrainItem theap_pop(TrainHeap* q) {
    TrainItem top = q->h[0], last = q->h[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, c = i;
        const TrainItem* cur = &last;
        if (l < q->n && train_better(&q->h[l], cur)) { c = l; cur = &q->h[l]; }
        if (r < q->n && train_better(&q->h[r], cur)) c = r;
        if (c == i) break;
        q->h[i] = q->h[c];
        i = c;
    }
    if (q->n) q->h[i] = last;
    return top;
}

typedef struct {
    // pair -> index into infos
    uint64_t* keys;
    int32_t* idx;
    size_t cap, used;
    PairInfo* infos;
    size_t n_infos, cap_infos;
} PairTable;

static int ptable_grow(PairTable* p);

static PairInfo* ptable_get(PairTable* p, int32_t a, int32_t b, int create) {
    uint64_t k = pair_key(a, b);
    size_t i = hash_u64(k) & (p->cap - 1);
    for (;;) {
        if (p->keys[i] == k) return &p->infos[p->idx[i]];
        if (p->keys[i] == PAIR_EMPTY) break;
        i = (i + 1) & (p->cap - 1);
    }
    if (!create) return NULL;
    if (2 * (p->used + 1) > p->cap) {
        if (!ptable_grow(p)) return NULL;
        return ptable_get(p, a, b, create);
    }
    if (p->n_infos == p->cap_infos) {
        size_t c = p->cap_infos ? 2 * p->cap_infos : 1024;
        PairInfo* in = (PairInfo*)realloc(p->infos, c * sizeof(PairInfo));
        if (!in) return NULL;
        p->infos = in;
        p->cap_infos = c;
    }
    PairInfo* info = &p->infos[p->n_infos];
    memset(info, 0, sizeof(*info));
    info->stamp = SIZE_MAX;
    p->keys[i] = k;
    p->idx[i] = (int32_t)p->n_infos++;
    p->used++;
    return info;
}

static int ptable_grow(PairTable* p) {
    size_t nc = p->cap ? 2 * p->cap : 1024;
    uint64_t* nk = (uint64_t*)malloc(nc * sizeof(uint64_t));
    int32_t* ni = (int32_t*)malloc(nc * sizeof(int32_t));
    if (!nk || !ni) { free(nk); free(ni); return 0; }
    for (size_t i = 0; i < nc; i++) nk[i] = PAIR_EMPTY;
    for (size_t i = 0; i < p->cap; i++) {
        if (p->keys[i] == PAIR_EMPTY) continue;
        size_t j = hash_u64(p->keys[i]) & (nc - 1);
        while (nk[j] != PAIR_EMPTY) j = (j + 1) & (nc - 1);
        nk[j] = p->keys[i];
        ni[j] = p->idx[i];
    }
    free(p->keys);
    free(p->idx);
    p->keys = nk;
    p->idx = ni;
    p->cap = nc;
    return 1;
}

static int pinfo_add_word(PairInfo* info, int32_t w) {
    if (info->n_words && info->words[info->n_words - 1] == w) return 1;
    if (info->n_words == info->cap_words) {
        size_t c = info->cap_words ? 2 * info->cap_words : 4;
        int32_t* nw = (int32_t*)realloc(info->words, c * sizeof(int32_t));
        if (!nw) return 0;
        info->words = nw;
        info->cap_words = c;
    }
    info->words[info->n_words++] = w;
    return 1;
}

typedef struct {
    PairTable pairs;
    TrainHeap heap;
    int32_t* sym;      // all words' symbols, word w at sym[start[w] .. start[w] + len[w])
    size_t* start;
    size_t* len;
    const int64_t* counts;
    size_t n_words;
    size_t* word_stamp;
    int32_t* touched;  // pairs (as a, b) whose counts went up this step
    size_t n_touched, cap_touched;
    size_t step;
} Trainer;

static int add_count(Trainer* tr, int32_t a, int32_t b, int64_t delta, int32_t w) {
    PairInfo* info = ptable_get(&tr->pairs, a, b, delta > 0);
    if (!info) return delta <= 0;
    info->count += delta;
    if (delta > 0) {
        if (!pinfo_add_word(info, w)) return 0;
        if (info->stamp != tr->step) {
            info->stamp = tr->step;
            if (tr->n_touched + 2 > tr->cap_touched) {
                size_t c = tr->cap_touched ? 2 * tr->cap_touched : 1024;
                int32_t* nt = (int32_t*)realloc(tr->touched, c * sizeof(int32_t));
                if (!nt) return 0;
                tr->touched = nt;
                tr->cap_touched = c;
            }
            tr->touched[tr->n_touched++] = a;
            tr->touched[tr->n_touched++] = b;
        }
    }
    return 1;
}

// Merge (a, b) -> T in every word that has it, keeping the pair counts up to date.
static int apply_merge(Trainer* tr, int32_t a, int32_t b, int32_t T) {
    PairInfo* info = ptable_get(&tr->pairs, a, b, 0);
    if (!info) return 1;  // a forced merge that never occurs
    tr->step++;
    tr->n_touched = 0;
    // the list can grow while we iterate (when a == b, or T pairs) so copy it
    size_t nw = info->n_words;
    int32_t* words = (int32_t*)malloc((nw ? nw : 1) * sizeof(int32_t));
    if (!words) return 0;
    memcpy(words, info->words, nw * sizeof(int32_t));
    for (size_t x = 0; x < nw; x++) {
        int32_t w = words[x];
        if (tr->word_stamp[w] == tr->step) continue;
        tr->word_stamp[w] = tr->step;
        int32_t* s = tr->sym + tr->start[w];
        size_t n = tr->len[w], o = 0, i = 0;
        int64_t c = tr->counts[w];
        while (i < n) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                if (o > 0) {
                    if (!add_count(tr, s[o - 1], a, -c, w) || !add_count(tr, s[o - 1], T, c, w)) { free(words); return 0; }
                }
                if (i + 2 < n) {
                    if (!add_count(tr, b, s[i + 2], -c, w) || !add_count(tr, T, s[i + 2], c, w)) { free(words); return 0; }
                }
                s[o++] = T;
                i += 2;
            } else {
                s[o++] = s[i++];
            }
        }
        tr->len[w] = o;
    }
    free(words);
    info = ptable_get(&tr->pairs, a, b, 0);  // the table may have moved
    info->count = 0;
    free(info->words);
    info->words = NULL;
    info->n_words = info->cap_words = 0;
    for (size_t k = 0; k < tr->n_touched; k += 2) {
        PairInfo* p = ptable_get(&tr->pairs, tr->touched[k], tr->touched[k + 1], 0);
        if (p && p->count > 0 && !theap_push(&tr->heap, (TrainItem){p->count, tr->touched[k], tr->touched[k + 1]})) return 0;
    }
    return 1;
}

size_t tok_train_bpe(const int32_t* ids, const size_t* offsets, const int64_t* counts,
                     size_t n_words, const char* const* vocab, const size_t* vocab_lens,
                     size_t n_vocab, const int32_t* forced_pairs, size_t n_forced,
                     size_t n_merges, int64_t min_count, int32_t* out_pairs,
                     char* err, size_t err_len) {
    if ((!ids && n_words) || !offsets || (!counts && n_words) || !vocab || !vocab_lens || !out_pairs ||
        (n_forced && !forced_pairs)) {
        set_err(err, err_len, "train: NULL argument");
        return TOK_ERROR;
    }
    if (n_forced > n_merges) { set_err(err, err_len, "train: more forced merges than merges"); return TOK_ERROR; }
    if (n_vocab + n_merges > (size_t)INT32_MAX) { set_err(err, err_len, "train: too many tokens"); return TOK_ERROR; }
    size_t total = n_vocab + n_merges;
    size_t result = TOK_ERROR;
    Trainer tr;
    memset(&tr, 0, sizeof(tr));
    char** tok = (char**)calloc(total, sizeof(char*));
    size_t* tok_len = (size_t*)calloc(total, sizeof(size_t));
    StrMap strs = {0};
    size_t n_sym = offsets[n_words];
    tr.sym = (int32_t*)malloc((n_sym ? n_sym : 1) * sizeof(int32_t));
    tr.start = (size_t*)malloc((n_words + 1) * sizeof(size_t));
    tr.len = (size_t*)malloc((n_words + 1) * sizeof(size_t));
    tr.word_stamp = (size_t*)malloc((n_words + 1) * sizeof(size_t));
    tr.counts = counts;
    tr.n_words = n_words;
    if (!tok || !tok_len || !tr.sym || !tr.start || !tr.len || !tr.word_stamp) goto oom;
    if (!ptable_grow(&tr.pairs)) goto oom;
    for (size_t i = 0; i < n_vocab; i++) {
        if (!vocab[i] && vocab_lens[i]) { set_err(err, err_len, "train: vocab entry %zu is NULL", i); goto done; }
        tok[i] = (char*)malloc(vocab_lens[i] + 1);
        if (!tok[i]) goto oom;
        if (vocab_lens[i]) memcpy(tok[i], vocab[i], vocab_lens[i]);
        tok_len[i] = vocab_lens[i];
    }
    if (!strmap_init(&strs, total, (const char* const*)tok, tok_len)) goto oom;
    for (size_t i = 0; i < n_vocab; i++) strmap_put(&strs, (int32_t)i);
    for (size_t w = 0; w < n_words; w++) {
        if (offsets[w] > offsets[w + 1] || offsets[w + 1] > n_sym) { set_err(err, err_len, "train: bad offsets at word %zu", w); goto done; }
        tr.start[w] = offsets[w];
        tr.len[w] = offsets[w + 1] - offsets[w];
        tr.word_stamp[w] = SIZE_MAX;
        for (size_t k = offsets[w]; k < offsets[w + 1]; k++) {
            if (ids[k] < 0 || (size_t)ids[k] >= n_vocab) { set_err(err, err_len, "train: word %zu has id %d out of range", w, (int)ids[k]); goto done; }
            tr.sym[k] = ids[k];
        }
    }
    // initial pair counts
    for (size_t w = 0; w < n_words; w++) {
        const int32_t* s = tr.sym + tr.start[w];
        for (size_t k = 0; k + 1 < tr.len[w]; k++)
            if (!add_count(&tr, s[k], s[k + 1], counts[w], (int32_t)w)) goto oom;
    }
    for (size_t i = 0; i < tr.pairs.cap; i++) {
        if (tr.pairs.keys[i] == PAIR_EMPTY) continue;
        PairInfo* p = &tr.pairs.infos[tr.pairs.idx[i]];
        int32_t a = (int32_t)(tr.pairs.keys[i] >> 32), b = (int32_t)(uint32_t)tr.pairs.keys[i];
        if (!theap_push(&tr.heap, (TrainItem){p->count, a, b})) goto oom;
    }
    size_t made = 0;
    for (; made < n_merges; made++) {
        int32_t a, b;
        if (made < n_forced) {
            a = forced_pairs[2 * made];
            b = forced_pairs[2 * made + 1];
            if (a < 0 || b < 0 || (size_t)a >= n_vocab + made || (size_t)b >= n_vocab + made) {
                set_err(err, err_len, "train: forced merge %zu uses an id out of range", made);
                goto done;
            }
        } else {
            int found = 0;
            while (tr.heap.n) {
                TrainItem it = theap_pop(&tr.heap);
                PairInfo* p = ptable_get(&tr.pairs, it.a, it.b, 0);
                if (!p || p->banned || p->count <= 0) continue;
                if (p->count != it.count) {  // stale: put it back with its real count
                    if (!theap_push(&tr.heap, (TrainItem){p->count, it.a, it.b})) goto oom;
                    continue;
                }
                if (p->count < min_count) break;
                // skip a pair whose string is already a token (ids stay unique strings)
                size_t la = tok_len[it.a], lb = tok_len[it.b];
                char* cat = (char*)malloc(la + lb + 1);
                if (!cat) goto oom;
                memcpy(cat, tok[it.a], la);
                memcpy(cat + la, tok[it.b], lb);
                int32_t have = strmap_get(&strs, cat, la + lb);
                free(cat);
                if (have >= 0) { p->banned = 1; continue; }
                a = it.a;
                b = it.b;
                found = 1;
                break;
            }
            if (!found) break;
        }
        int32_t T = (int32_t)(n_vocab + made);
        size_t la = tok_len[a], lb = tok_len[b];
        tok[T] = (char*)malloc(la + lb + 1);
        if (!tok[T]) goto oom;
        memcpy(tok[T], tok[a], la);
        memcpy(tok[T] + la, tok[b], lb);
        tok_len[T] = la + lb;
        strmap_put(&strs, T);
        out_pairs[2 * made] = a;
        out_pairs[2 * made + 1] = b;
        if (!apply_merge(&tr, a, b, T)) goto oom;
    }
    result = made;
    goto done;
oom:
    set_err(err, err_len, "train: out of memory");
done:
    if (tok) for (size_t i = 0; i < total; i++) free(tok[i]);
    free(tok);
    free(tok_len);
    free(strs.slots);
    for (size_t i = 0; i < tr.pairs.n_infos; i++) free(tr.pairs.infos[i].words);
    free(tr.pairs.infos);
    free(tr.pairs.keys);
    free(tr.pairs.idx);
    free(tr.heap.h);
    free(tr.sym);
    free(tr.start);
    free(tr.len);
    free(tr.word_stamp);
    free(tr.touched);
    return result;
}
