/* SGEMM benchmark: GFLOP/s on the shapes the engine's convolutions produce
 * (square, im2col tiles, tall-skinny), and percent of the measured FMA peak. */
#include "bench.h"
#include "dfpengine.h"

#include <stdio.h>
#include <stdlib.h>

#define REPEATS 9

static const int64_t shapes[][3] = {
    {1024, 1024, 1024}, {16384, 64, 576}, {4096, 128, 1152}, {1024, 256, 2304}, {131072, 16, 144},
};

static float *random_floats(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f;
    }
    return x;
}

static void bench_shape(int64_t m, int64_t n, int64_t k, int threads, double peak)
{
    float *a = random_floats((size_t)(m * k), 1), *b = random_floats((size_t)(k * n), 2);
    float *c = random_floats((size_t)(m * n), 3);
    double secs[REPEATS];
    dfp_sgemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n); /* warm-up */
    for (int r = 0; r < REPEATS; r++) {
        double t0 = dfp_bench_now();
        dfp_sgemm(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        secs[r] = dfp_bench_now() - t0;
    }
    double flops = 2.0 * m * n * k;
    double gflops = flops / dfp_bench_median(secs, REPEATS) * 1e-9; /* sorts secs */
    double best = flops / secs[0] * 1e-9; /* fastest repeat: what the code reaches on a quiet core */
    printf("{\"bench\": \"sgemm\", \"isa\": \"%s\", \"threads\": %d, \"m\": %ld, \"n\": %ld, "
           "\"k\": %ld, \"gflops\": %.1f, \"best_gflops\": %.1f, \"peak_gflops\": %.1f, "
           "\"pct_peak\": %.1f}\n",
           dfp_isa_name(dfp_isa_selected()), threads, (long)m, (long)n, (long)k, gflops, best, peak,
           peak > 0 ? 100.0 * gflops / peak : 0.0);
    fflush(stdout);
    free(a), free(b), free(c);
}

void dfp_bench_sgemm(int threads)
{
    dfp_set_num_threads(threads);
    double peak = dfp_bench_fp32_peak(threads);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
        bench_shape(shapes[s][0], shapes[s][1], shapes[s][2], threads, peak);
}
