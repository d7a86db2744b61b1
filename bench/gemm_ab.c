/* A/B of two builds' int16 GEMM (dfp_gemm_s16) in one process: both
 * libdfpengine.so files are dlopen()ed and their calls alternate, so both see the
 * same machine load; prints each build's minimum and median GOP/s, the median and
 * quartiles of the paired speed ratio B/A, and whether the outputs are
 * bit-identical. Operands as the benchmark's: |values| < 2^13 (DFP16 at shift 2).
 *
 * Build: gcc -O2 -o gemm_ab bench/gemm_ab.c -Inative/include -ldl
 * Usage: ./gemm_ab LIB_A LIB_B REPS THREADS M N K */
#include "ab_timing.h"
#include "dfpengine.h"
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef dfp_status (*gemm_t)(int, int, int64_t, int64_t, int64_t, const int16_t *, int64_t, int,
                             const int16_t *, int64_t, int, float *, int64_t, int, dfp_gemm_stats *);
typedef void (*threads_t)(int);

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s LIB_A LIB_B REPS THREADS M N K\n", argv[0]);
        return 2;
    }
    int reps = atoi(argv[3]), threads = atoi(argv[4]);
    int64_t m = atoll(argv[5]), n = atoll(argv[6]), k = atoll(argv[7]);
    if (reps < 1 || reps > 100000 || m < 1 || n < 1 || k < 1)
        return 2;
    gemm_t gemm[2];
    for (int l = 0; l < 2; l++) {
        void *h = dlopen(argv[1 + l], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "%s\n", dlerror());
            return 1;
        }
        gemm[l] = (gemm_t)dlsym(h, "dfp_gemm_s16");
        ((threads_t)dlsym(h, "dfp_set_num_threads"))(threads);
    }
    int16_t *a = malloc(2 * m * k), *b = malloc(2 * k * n);
    float *c[2] = {malloc(4 * m * n), malloc(4 * m * n)};
    for (int64_t i = 0; i < m * k; i++)
        a[i] = (int16_t)((int)((uint32_t)(i * 2654435761u) >> 7 & 16383) - 8191);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = (int16_t)((int)((uint32_t)(i * 40503u + 7) >> 3 & 16383) - 8191);
    double *t[2] = {malloc(sizeof(double) * reps), malloc(sizeof(double) * reps)};
    double *ratio = malloc(sizeof(double) * reps);
    for (int r = 0; r < reps; r++)
        for (int l = 0; l < 2; l++) {
            double t0 = now();
            gemm[l](0, 0, m, n, k, a, k, -13, b, n, -13, c[l], n, 0, NULL);
            t[l][r] = now() - t0;
        }
    for (int r = 0; r < reps; r++)
        ratio[r] = t[0][r] / t[1][r];
    qsort(ratio, reps, sizeof(double), cmp);
    const double ops = 2.0 * m * n * k * 1e-9;
    for (int l = 0; l < 2; l++) {
        qsort(t[l], reps, sizeof(double), cmp);
        printf("%c: min %.3f ms (%.1f GOP/s), median %.3f ms (%.1f GOP/s)\n", 'A' + l, t[l][0] * 1e3,
               ops / t[l][0], t[l][reps / 2] * 1e3, ops / t[l][reps / 2]);
    }
    printf("speed B/A: median %.4f, quartiles %.4f %.4f; outputs %s\n", ratio[reps / 2], ratio[reps / 4],
           ratio[3 * reps / 4], memcmp(c[0], c[1], 4 * m * n) ? "DIFFER" : "bit-identical");
    return 0;
}
