// ref_arch: llama.cpp reference outputs for kiln's tiny architecture test models.
// Usage: ref_arch MODEL.gguf OUT.json OUT.logits.bin PROMPT...
// Per prompt: llama_tokenize (add_special, no parse_special), one llama_decode of
// the whole prompt, the last position's full logits (appended to OUT.logits.bin),
// then 32 greedy steps (argmax, lowest id on ties; EOG does not stop).
// 1 thread, F32 K/V, flash attention off, n_ctx = n_batch = n_ubatch = 256,
// a fresh context per prompt.
#include "llama.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NGEN 32
#define NCTX 256

static int argmax(const float *x, int n) { int b = 0; for (int i = 1; i < n; i++) if (x[i] > x[b]) b = i; return b; }
static float margin(const float *x, int n, int best) {
    float second = -INFINITY;
    for (int i = 0; i < n; i++) if (i != best && x[i] > second) second = x[i];
    return x[best] - second;
}
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s MODEL OUT.json OUT.bin PROMPT...\n", argv[0]); return 2; }
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *model = llama_model_load_from_file(argv[1], mp);
    if (!model) return 1;
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    const int nv = llama_vocab_n_tokens(vocab);
    FILE *jf = fopen(argv[2], "w"), *bf = fopen(argv[3], "wb");
    char desc[256];
    llama_model_desc(model, desc, sizeof desc);
    fprintf(jf, "{\"model_desc\": ");
    json_str(jf, desc);
    fprintf(jf, ", \"settings\": {\"n_threads\": 1, \"n_ctx\": %d, \"type_k\": \"f32\", \"type_v\": \"f32\", \"flash_attn\": false, "
                "\"add_special\": true, \"parse_special\": false, \"n_gen\": %d}, \"n_vocab\": %d, \"prompts\": [",
            NCTX, NGEN, nv);
    for (int pi = 4; pi < argc; pi++) {
        struct llama_context_params cp = llama_context_default_params();
        cp.n_ctx = cp.n_batch = cp.n_ubatch = NCTX;
        cp.n_threads = cp.n_threads_batch = 1;
        cp.type_k = cp.type_v = GGML_TYPE_F32;
        cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
        struct llama_context *ctx = llama_init_from_model(model, cp);
        if (!ctx) return 1;
        llama_token toks[NCTX];
        const int nt = llama_tokenize(vocab, argv[pi], (int)strlen(argv[pi]), toks, NCTX, true, false);
        if (nt < 0 || nt + NGEN > NCTX) { fprintf(stderr, "prompt %d: %d tokens\n", pi - 4, nt); return 1; }
        if (llama_decode(ctx, llama_batch_get_one(toks, nt))) return 1;
        const float *lg = llama_get_logits_ith(ctx, -1);
        fwrite(lg, sizeof(float), nv, bf);
        fprintf(jf, "%s{\"prompt\": ", pi > 4 ? ", " : "");
        json_str(jf, argv[pi]);
        fprintf(jf, ", \"token_ids\": [");
        for (int i = 0; i < nt; i++) fprintf(jf, "%s%d", i ? ", " : "", toks[i]);
        int ids[NGEN];
        float lgs[NGEN], mgs[NGEN];
        for (int s = 0; s < NGEN; s++) {
            lg = llama_get_logits_ith(ctx, -1);
            ids[s] = argmax(lg, nv);
            lgs[s] = lg[ids[s]];
            mgs[s] = margin(lg, nv, ids[s]);
            llama_token t = ids[s];
            if (s + 1 < NGEN && llama_decode(ctx, llama_batch_get_one(&t, 1))) return 1;
        }
        fprintf(jf, "], \"greedy\": {\"ids\": [");
        for (int s = 0; s < NGEN; s++) fprintf(jf, "%s%d", s ? ", " : "", ids[s]);
        fprintf(jf, "], \"logits\": [");
        for (int s = 0; s < NGEN; s++) fprintf(jf, "%s%.9g", s ? ", " : "", lgs[s]);
        fprintf(jf, "], \"margins\": [");
        for (int s = 0; s < NGEN; s++) fprintf(jf, "%s%.9g", s ? ", " : "", mgs[s]);
        fprintf(jf, "]}}");
        llama_free(ctx);
    }
    fprintf(jf, "]}\n");
    fclose(jf);
    fclose(bf);
    llama_model_free(model);
    return 0;
}
