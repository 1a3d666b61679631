// robolm_run: RoboLM's dependency-free command-line runtime (libc + libm only).
//
//   robolm_run model.gguf -p "blink the LED on pin 2" [--lang hi] [-n 200] [--temp 0.7]
//              [--top-p 0.9] [--top-k 40] [--seed 1] [--threads N] [--hardware "..."] [--stats]
//   robolm_run model.gguf --explain -p "$(cat main.py)" --lang hi     # explain code in Hindi
//
// It builds RoboLM's prompt format itself from the file's metadata (robolm.prompt.template),
// streams the generated text to stdout as it is sampled, and with --stats reports prompt and
// generation speed (tokens/s) and peak memory on stderr. Test hooks: --ids prints token ids
// (one line) instead of text; --tokens "1,2,3" uses those ids as the prompt; --encode prints
// the prompt's ids and exits; --logits FILE writes the float32 logits of every prompt position.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "quant.h"
#include "runtime.h"

static void usage(FILE* out) {
    fprintf(out,
            "usage: robolm_run model.gguf -p \"prompt\" [options]\n"
            "  -p, --prompt TEXT     what the robot should do (any of the 25 languages)\n"
            "  --lang CODE           the prompt's language tag (en, hi, ta, ...; default en)\n"
            "  --hardware TEXT       the [HARDWARE] part of the prompt (default: the file's)\n"
            "  --explain             -p is MicroPython code: explain it in --lang (stops at [/EXPLAIN])\n"
            "  -n N                  generate at most N tokens (default 200)\n"
            "  --temp T              temperature, 0 = greedy (default 0)\n"
            "  --top-k K             keep the K most likely tokens (default 0 = all)\n"
            "  --top-p P             nucleus sampling mass (default 1.0 = off)\n"
            "  --seed S              RNG seed for sampling (default 1)\n"
            "  --threads N           matmul threads (default: $ROBOLM_THREADS or CPUs, at most 4)\n"
            "  --stats               print prompt/generation tokens/s and peak memory to stderr\n"
            "  --ids                 print token ids instead of text\n"
            "  --tokens 1,2,3        use these ids as the prompt (instead of -p)\n"
            "  --encode              print the prompt's ids and exit\n"
            "  --logits FILE         write float32 logits (n_prompt x vocab) of the prompt and exit\n"
            "  --version, -h/--help\n");
}

typedef struct {
    rl_model* m;
    int print_ids;
    int first;
} stream_ctx;

// print each token as it comes: its bytes (control tokens such as [/CODE] and <unk> are not text)
static int on_token(int32_t id, void* user) {
    stream_ctx* s = (stream_ctx*)user;
    if (s->print_ids) {
        printf(s->first ? "%d" : " %d", id);
        s->first = 0;
    } else if (tokenizer_token_type(s->m->tokenizer, id) != TOK_TYPE_CONTROL &&
               tokenizer_token_type(s->m->tokenizer, id) != TOK_TYPE_UNKNOWN) {
        size_t len;
        const char* b = tokenizer_token_bytes(s->m->tokenizer, id, &len);
        if (b) fwrite(b, 1, len, stdout);
    }
    fflush(stdout);
    return 0;
}

// Peak resident memory in MB: VmHWM of /proc/self/status (reset by exec, unlike getrusage's
// ru_maxrss, which keeps the parent's peak across fork + exec), else getrusage.
static double peak_rss_mb(void) {
    FILE* f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kb = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
        fclose(f);
        if (kb >= 0) return kb / 1024.0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int parse_int(const char* s, const char* flag, long lo, long hi, long* out) {
    char* end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "robolm_run: %s expects an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char* s, const char* flag, double lo, double hi, double* out) {
    char* end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi)) {
        fprintf(stderr, "robolm_run: %s expects a number in [%g, %g], got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char** argv) {
    const char *path = NULL, *prompt = NULL, *lang = "en", *hardware = NULL, *tokens_arg = NULL, *logits_path = NULL;
    long n_new = 200, top_k = 0, seed = 1, threads = 0;
    double temp = 0.0, top_p = 1.0;
    int stats = 0, print_ids = 0, encode_only = 0, explain = 0;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1, bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--version")) { printf("robolm_run 0.1.0\n"); return 0; }
        else if (!strcmp(a, "--stats")) { stats = 1; takes = 0; }
        else if (!strcmp(a, "--ids")) { print_ids = 1; takes = 0; }
        else if (!strcmp(a, "--encode")) { encode_only = 1; takes = 0; }
        else if (!strcmp(a, "--explain")) { explain = 1; takes = 0; }
        else if (a[0] == '-' && a[1] && !v) { fprintf(stderr, "robolm_run: %s needs a value\n", a); return 2; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--lang")) lang = v;
        else if (!strcmp(a, "--hardware")) hardware = v;
        else if (!strcmp(a, "--tokens")) tokens_arg = v;
        else if (!strcmp(a, "--logits")) logits_path = v;
        else if (!strcmp(a, "-n")) bad = parse_int(v, a, 0, 1 << 20, &n_new);
        else if (!strcmp(a, "--top-k")) bad = parse_int(v, a, 0, 1 << 24, &top_k);
        else if (!strcmp(a, "--seed")) bad = parse_int(v, a, 0, 0x7fffffffL, &seed);
        else if (!strcmp(a, "--threads")) bad = parse_int(v, a, 0, 256, &threads);
        else if (!strcmp(a, "--temp")) bad = parse_float(v, a, 0.0, 100.0, &temp);
        else if (!strcmp(a, "--top-p")) bad = parse_float(v, a, 0.0, 1.0, &top_p);
        else if (a[0] == '-') { fprintf(stderr, "robolm_run: unknown option %s\n", a); usage(stderr); return 2; }
        else if (!path) { path = a; takes = 0; }
        else { fprintf(stderr, "robolm_run: unexpected argument '%s'\n", a); return 2; }
        if (bad) return 2;
        if (takes) i++;
    }
    if (!path || (!prompt && !tokens_arg)) {
        usage(stderr);
        return 2;
    }
    if (threads > 0) quant_set_threads((int)threads);

    rl_model m;
    char err[RL_ERR_SIZE];
    if (rl_load(&m, path, err, sizeof err) != 0) {
        fprintf(stderr, "robolm_run: %s\n", err);
        return 1;
    }

    // ---- the prompt
    size_t cap = (size_t)m.config.seq_len + 1;
    int32_t* ids = (int32_t*)malloc(cap * sizeof(int32_t));
    long n_prompt = 0;
    if (!ids) { fprintf(stderr, "robolm_run: out of memory\n"); rl_free(&m); return 1; }
    if (tokens_arg) {
        const char* s = tokens_arg;
        while (*s && (size_t)n_prompt < cap) {
            char* end;
            long id = strtol(s, &end, 10);
            if (end == s || id < 0 || id >= m.config.vocab_size) {
                fprintf(stderr, "robolm_run: --tokens: '%s' is not a token id below %d\n", s, m.config.vocab_size);
                free(ids); rl_free(&m); return 2;
            }
            ids[n_prompt++] = (int32_t)id;
            s = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') { fprintf(stderr, "robolm_run: --tokens wants ids like 2,4,6\n"); free(ids); rl_free(&m); return 2; }
        }
    } else {
        n_prompt = explain ? rl_build_explain_prompt(&m, prompt, lang, ids, cap, err, sizeof err)
                           : rl_build_prompt(&m, prompt, lang, hardware, ids, cap, err, sizeof err);
        if (n_prompt < 0) { fprintf(stderr, "robolm_run: %s\n", err); free(ids); rl_free(&m); return 2; }
        if ((size_t)n_prompt > cap) {  // longer than the context: make room (--encode still prints it)
            int32_t* more = (int32_t*)realloc(ids, (size_t)n_prompt * sizeof(int32_t));
            if (!more) { fprintf(stderr, "robolm_run: out of memory\n"); free(ids); rl_free(&m); return 1; }
            ids = more;
            if (explain) rl_build_explain_prompt(&m, prompt, lang, ids, (size_t)n_prompt, err, sizeof err);
            else rl_build_prompt(&m, prompt, lang, hardware, ids, (size_t)n_prompt, err, sizeof err);
        }
    }
    if (encode_only) {
        for (long i = 0; i < n_prompt; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        free(ids); rl_free(&m); return 0;
    }
    if (n_prompt > m.config.seq_len) {
        fprintf(stderr, "robolm_run: the prompt has %ld tokens, the context only %d. Hint: shorten the prompt\n",
                n_prompt, m.config.seq_len);
        free(ids); rl_free(&m); return 2;
    }
    if (logits_path) {
        FILE* f = fopen(logits_path, "wb");
        if (!f) { fprintf(stderr, "robolm_run: cannot write %s: %s\n", logits_path, strerror(errno)); free(ids); rl_free(&m); return 1; }
        for (long pos = 0; pos < n_prompt; pos++) {
            float* logits = rl_forward(&m, ids[pos], (int)pos);
            fwrite(logits, sizeof(float), (size_t)m.config.vocab_size, f);
        }
        fclose(f);
        free(ids); rl_free(&m); return 0;
    }

    // ---- generate, streaming
    rl_sampler sampler;
    rl_sampler_init(&sampler, (float)temp, (int)top_k, (float)top_p, (uint64_t)seed);
    stream_ctx ctx = {&m, print_ids, 1};
    rl_stats st;
    // code generation stops at the file's stop tokens ([/CODE], <eos>); an explanation at [/EXPLAIN], <eos>
    int32_t explain_stops[2] = {tokenizer_find(m.tokenizer, "[/EXPLAIN]", 10), m.eos_id};
    int n = rl_generate(&m, ids, (int)n_prompt, (int)n_new, &sampler, explain ? explain_stops : NULL, explain ? 2 : 0,
                        on_token, &ctx, NULL, &st, err, sizeof err);
    printf("\n");
    fflush(stdout);
    if (n < 0) { fprintf(stderr, "robolm_run: %s\n", err); free(ids); rl_free(&m); return 1; }
    if (stats) {
        fprintf(stderr, "prompt: %d tokens, %.1f tok/s | generation: %d tokens, %.1f tok/s | threads %d | peak RSS %.1f MB\n",
                st.n_prompt, st.prompt_seconds > 0 ? st.n_prompt / st.prompt_seconds : 0.0, st.n_generated,
                st.gen_seconds > 0 ? st.n_generated / st.gen_seconds : 0.0, quant_get_threads(), peak_rss_mb());
    }
    free(ids);
    rl_free(&m);
    return 0;
}
