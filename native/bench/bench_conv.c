/* Convolution benchmark: the conv layers of a CIFAR ResNet-20 training step
 * (batch 128, 3x3, one shape per stage plus the strided stage entries), each
 * pass (FPROP, BPROP, WTGRAD) in FP32 and DFP16, with GOP/s and percent of the
 * measured arithmetic peak: the kernel figures `dfpengine profile` prints,
 * for people who embed the library without Python. */
#include "bench.h"
#include "dfpengine.h"

#include <stdio.h>
#include <stdlib.h>

enum { CONV_REPS = 5, BATCH = 128 };

typedef struct conv_case {
    const char *name;
    int64_t c, hw, o, stride;
} conv_case;

static const conv_case cases[] = {
    {"stage1", 16, 32, 16, 1}, {"stage2_entry", 16, 32, 32, 2}, {"stage2", 32, 16, 32, 1},
    {"stage3_entry", 32, 16, 64, 2}, {"stage3", 64, 8, 64, 1},
};

static float *random_buffer(int64_t n, unsigned *state)
{
    float *p = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; p && i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        p[i] = (float)((int32_t)(*state >> 8) - (1 << 23)) / (float)(1 << 23);
    }
    return p;
}

/* pass 0 FPROP, 1 BPROP, 2 WTGRAD; dfp16 selects the integer path. */
static dfp_status run_pass(const dfp_conv2d_shape *s, int pass, int dfp16, const float *x,
                           const float *w, const float *dy, float *y, float *dx, float *dw,
                           dfp_gemm_stats *st)
{
    dfp_dfp16_params p = {.shift = 2, .rounding = DFP_ROUND_NEAREST, .seed = 0, .stream = 0};
    if (!dfp16)
        return pass == 0 ? dfp_conv2d_forward_f32(s, x, w, NULL, y)
             : pass == 1 ? dfp_conv2d_backward_data_f32(s, dy, w, dx)
                         : dfp_conv2d_backward_weight_f32(s, x, dy, dw);
    return pass == 0 ? dfp_conv2d_forward_dfp16(s, x, w, NULL, y, &p, &p, st)
         : pass == 1 ? dfp_conv2d_backward_data_dfp16(s, dy, w, dx, &p, &p, st)
                     : dfp_conv2d_backward_weight_dfp16(s, x, dy, dw, &p, &p, st);
}

static void bench_case(const conv_case *cc, int threads, double peak_f32, double peak_s16)
{
    static const char *pass_names[] = {"fprop", "bprop", "wtgrad"};
    dfp_conv2d_shape s = {BATCH, cc->c, cc->hw, cc->hw, cc->o, 3, 3, cc->stride, cc->stride,
                          1, 1, 1, 1};
    int64_t oh, ow;
    if (dfp_conv2d_output_size(&s, &oh, &ow) != DFP_OK)
        return;
    unsigned state = 12345u;
    int64_t nx = BATCH * cc->c * cc->hw * cc->hw, nw = cc->o * cc->c * 9, ny = BATCH * cc->o * oh * ow;
    float *x = random_buffer(nx, &state), *w = random_buffer(nw, &state);
    float *dy = random_buffer(ny, &state), *y = random_buffer(ny, &state);
    float *dx = random_buffer(nx, &state), *dw = random_buffer(nw, &state);
    double ops = 2.0 * (double)ny * (double)(cc->c * 9);
    for (int pass = 0; pass < 3 && x && w && dy && y && dx && dw; pass++) {
        double secs[2];
        dfp_gemm_stats st = {0};
        for (int dfp16 = 0; dfp16 < 2; dfp16++) {
            double t[CONV_REPS];
            run_pass(&s, pass, dfp16, x, w, dy, y, dx, dw, NULL); /* warm-up */
            for (int r = 0; r < CONV_REPS; r++) {
                double t0 = dfp_bench_now();
                run_pass(&s, pass, dfp16, x, w, dy, y, dx, dw, r == 0 ? &st : NULL);
                t[r] = dfp_bench_now() - t0;
            }
            secs[dfp16] = dfp_bench_median(t, CONV_REPS);
        }
        printf("{\"bench\": \"conv\", \"isa\": \"%s\", \"threads\": %d, \"layer\": \"%s\", "
               "\"pass\": \"%s\", \"batch\": %d, \"in_channels\": %lld, \"out_channels\": %lld, "
               "\"size\": %lld, \"stride\": %lld, \"fp32_ms\": %.3f, \"dfp16_ms\": %.3f, "
               "\"fp32_gflops\": %.1f, \"dfp16_gops\": %.1f, \"fp32_pct_peak\": %.1f, "
               "\"dfp16_pct_peak\": %.1f, \"dfp16_over_fp32\": %.2f, \"flushes\": %lld, "
               "\"dfp16_quantize_ms\": %.3f}\n",
               dfp_isa_name(dfp_isa_selected()), threads, cc->name, pass_names[pass], BATCH,
               (long long)cc->c, (long long)cc->o, (long long)cc->hw, (long long)cc->stride,
               1e3 * secs[0], 1e3 * secs[1], 1e-9 * ops / secs[0], 1e-9 * ops / secs[1],
               peak_f32 > 0 ? 100.0 * ops / secs[0] / peak_f32 : 0.0,
               peak_s16 > 0 ? 100.0 * ops / secs[1] / peak_s16 : 0.0, secs[0] / secs[1],
               (long long)st.flushes, 1e-6 * (double)st.quantize_ns);
        fflush(stdout);
    }
    free(x), free(w), free(dy), free(y), free(dx), free(dw);
}

void dfp_bench_conv(int threads)
{
    double peak_f32 = 0.0, peak_s16 = 0.0;
    dfp_set_num_threads(threads);
    dfp_measure_peak(DFP_PEAK_FP32_FMA, threads, &peak_f32);
    dfp_measure_peak(DFP_PEAK_INT16_MADD, threads, &peak_s16);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        bench_case(&cases[i], threads, peak_f32, peak_s16);
}
