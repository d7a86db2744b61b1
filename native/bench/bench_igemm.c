/* Integer GEMM benchmark: a VNNI peak micro-benchmark (independent vpdpwssd
 * chains, no memory traffic) and dfp_gemm_s16 on the shapes, printed as
 * JSON objects (one per line). Called from the dfp_bench program. */
#include "bench.h"
#include "dfpengine.h"
#include "kernel_table.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

/* 12 independent vpdpwssd chains (latency 5 x 2 ports covered): each
 * instruction is 32 multiply-adds = 64 integer ops. */
__attribute__((target("avx512f,avx512vnni"))) static double vnni_peak_thread(int64_t iters)
{
    __m512i a0 = _mm512_set1_epi32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    __m512i a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    __m512i x = _mm512_set1_epi16(3), y = _mm512_set1_epi16(5);
    double t0 = dfp_bench_now();
    for (int64_t it = 0; it < iters; it++) {
        __asm__ volatile(
            "vpdpwssd %12, %13, %0\n\tvpdpwssd %12, %13, %1\n\tvpdpwssd %12, %13, %2\n\t"
            "vpdpwssd %12, %13, %3\n\tvpdpwssd %12, %13, %4\n\tvpdpwssd %12, %13, %5\n\t"
            "vpdpwssd %12, %13, %6\n\tvpdpwssd %12, %13, %7\n\tvpdpwssd %12, %13, %8\n\t"
            "vpdpwssd %12, %13, %9\n\tvpdpwssd %12, %13, %10\n\tvpdpwssd %12, %13, %11\n\t"
            : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7),
              "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11)
            : "v"(x), "v"(y));
    }
    double t = dfp_bench_now() - t0;
    volatile int sink = _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a11));
    (void)sink;
    return (double)iters * 12.0 * 64.0 / t;
}

/* Measured VNNI peak in ops/s for `threads` threads (sum over threads). */
double dfp_bench_vnni_peak(int threads)
{
    if (dfp_isa_supported() < DFP_ISA_AVX512_VNNI)
        return 0.0;
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double total = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
        total += vnni_peak_thread(20000000);
        best = total > best ? total : best;
    }
    return best;
}

enum { REPS = 7 };

typedef struct shape_data {
    int64_t m, n, k;
    int16_t *a16, *b16;
    float *a32, *b32, *c;
} shape_data;

/* Median seconds of REPS runs of one kind: 0 int16 GEMM, 1 DFP16 from FP32, 2 SGEMM. */
static double time_kind(const shape_data *d, int kind, dfp_gemm_stats *st)
{
    dfp_dfp16_params p = {.shift = 2, .rounding = DFP_ROUND_NEAREST};
    double t[REPS];
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = dfp_bench_now();
        if (kind == 0)
            dfp_gemm_s16(0, 0, d->m, d->n, d->k, d->a16, d->k, -13, d->b16, d->n, -13, d->c, d->n, 0, st);
        else if (kind == 1)
            dfp_gemm_dfp16(0, 0, d->m, d->n, d->k, d->a32, d->k, d->b32, d->n, d->c, d->n, 0, &p, &p, st);
        else
            dfp_sgemm(0, 0, d->m, d->n, d->k, 1.0f, d->a32, d->k, d->b32, d->n, 0.0f, d->c, d->n);
        t[rep] = dfp_bench_now() - t0;
    }
    return dfp_bench_median(t, REPS);
}

static void make_shape(shape_data *d, int64_t m, int64_t n, int64_t k)
{
    *d = (shape_data){.m = m, .n = n, .k = k};
    d->a16 = malloc(2 * m * k), d->b16 = malloc(2 * k * n);
    d->a32 = malloc(4 * m * k), d->b32 = malloc(4 * k * n), d->c = malloc(4 * m * n);
    for (int64_t i = 0; i < m * k; i++) {
        d->a16[i] = (int16_t)((int)((uint32_t)(i * 2654435761u) >> 7 & 16383) - 8191);
        d->a32[i] = (float)d->a16[i] * 0x1p-13f;
    }
    for (int64_t i = 0; i < k * n; i++) {
        d->b16[i] = (int16_t)((int)((uint32_t)(i * 40503u + 7) >> 3 & 16383) - 8191);
        d->b32[i] = (float)d->b16[i] * 0x1p-13f;
    }
}

static void free_shape(shape_data *d)
{
    free(d->a16), free(d->b16), free(d->a32), free(d->b32), free(d->c);
}

/* JSON lines: the VNNI peak, then per shape the int16 GEMM (|values| < 2^13,
 * DFP16 at shift 2), the DFP16 GEMM quantising FP32 while packing, and the FP32
 * SGEMM of the same shape, with ratios from this run. */
void dfp_bench_igemm(int threads)
{
    static const int64_t shapes[][3] = {
        {1024, 1024, 1024}, {16384, 64, 576}, {4096, 128, 1152}, {1024, 256, 2304}};
    dfp_set_num_threads(threads);
    double peak = dfp_bench_vnni_peak(threads) * 1e-9;
    printf("{\"bench\": \"vnni_peak\", \"threads\": %d, \"gops\": %.1f}\n", threads, peak);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        shape_data d;
        make_shape(&d, shapes[s][0], shapes[s][1], shapes[s][2]);
        double ops = 2.0 * (double)d.m * (double)d.n * (double)d.k * 1e-9;
        dfp_gemm_stats st = {0};
        double t16 = time_kind(&d, 0, &st), tq = time_kind(&d, 1, NULL), tf = time_kind(&d, 2, NULL);
        printf("{\"bench\": \"igemm\", \"isa\": \"%s\", \"threads\": %d, \"m\": %lld, \"n\": %lld, "
               "\"k\": %lld, \"s16_gops\": %.1f, \"dfp16_gops\": %.1f, \"sgemm_gflops\": %.1f, "
               "\"s16_over_sgemm\": %.2f, \"dfp16_over_sgemm\": %.2f, \"pct_vnni_peak\": %.1f, "
               "\"chunk_len\": %lld}\n",
               dfp_isa_name(dfp_isa_selected()), threads, (long long)d.m, (long long)d.n,
               (long long)d.k, ops / t16, ops / tq, ops / tf, tf / t16, tf / tq,
               peak > 0 ? 100.0 * ops / t16 / peak : 0.0, (long long)st.chunk_len);
        fflush(stdout);
        free_shape(&d);
    }
}
