/* SGEMM: every supported ISA level, 1 and 2 threads, against the scalar
 * reference kernel and a double-precision loop; odd shapes with edge tiles,
 * M/N/K = 1, K = 0, transposes, padded leading dimensions, alpha and beta. */
#include "dfpengine.h"
#include "dfp_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float frand(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        x[i] = frand(&seed);
}

static double a_at(const float *a, int ta, int64_t lda, int64_t i, int64_t p)
{
    return ta ? a[p * lda + i] : a[i * lda + p];
}

static void naive(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += a_at(a, ta, lda, i, p) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * (double)c[i * ldc + j]));
        }
}

/* max |x - y| relative to the scale sqrt(k) of a sum of k unit products */
static int close_enough(const float *x, const float *y, int64_t m, int64_t n, int64_t ldc, int64_t k)
{
    double tol = 1e-5 * (4.0 + sqrt((double)k) * 4.0);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            if (!(fabs((double)x[i * ldc + j] - y[i * ldc + j]) <= tol))
                return 0;
    return 1;
}

static void check_shape(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, float beta)
{
    int64_t pad = 3;
    int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t sa = (size_t)((ta ? k : m) * lda), sb = (size_t)((tb ? n : k) * ldb), sc = (size_t)(m * ldc);
    float *a = malloc((sa + 1) * 4), *b = malloc((sb + 1) * 4);
    float *c0 = malloc(sc * 4), *want = malloc(sc * 4), *got = malloc(sc * 4), *ref = malloc(sc * 4);
    fill(a, sa, 1 + (unsigned)m);
    fill(b, sb, 2 + (unsigned)n);
    fill(c0, sc, 3 + (unsigned)k);
    memcpy(want, c0, sc * 4);
    naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
    dfp_isa top = dfp_isa_supported();
    memcpy(ref, c0, sc * 4);
    CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
    CHECK(dfp_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, ref, ldc) == DFP_OK);
    for (int isa = DFP_ISA_SCALAR; isa <= (int)top; isa++) {
        CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
        for (int threads = 1; threads <= 2; threads++) {
            dfp_set_num_threads(threads);
            memcpy(got, c0, sc * 4);
            CHECK(dfp_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc) == DFP_OK);
            int ok = close_enough(got, want, m, n, ldc, k) && close_enough(got, ref, m, n, ldc, k);
            if (!ok)
                fprintf(stderr, "isa %s threads %d ta %d tb %d m %ld n %ld k %ld\n",
                        dfp_isa_name((dfp_isa)isa), threads, ta, tb, (long)m, (long)n, (long)k);
            CHECK(ok);
            /* the padding between rows is never written */
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = n; j < ldc; j++)
                    CHECK(got[i * ldc + j] == c0[i * ldc + j]);
        }
    }
    dfp_isa_select(top);
    free(a), free(b), free(c0), free(want), free(got), free(ref);
}

static void check_errors(void)
{
    float x[4] = {0};
    CHECK(dfp_sgemm(0, 0, -1, 1, 1, 1, x, 1, x, 1, 0, x, 1) == DFP_ERR_INVALID_SHAPE);
    CHECK(dfp_sgemm(0, 0, 1, 1, 1, 1, NULL, 1, x, 1, 0, x, 1) == DFP_ERR_NULL_POINTER);
    CHECK(dfp_sgemm(0, 0, 1, 1, 1, 1, x, 1, x, 1, 0, NULL, 1) == DFP_ERR_NULL_POINTER);
    CHECK(dfp_sgemm(0, 0, 2, 2, 2, 1, x, 1, x, 2, 0, x, 2) == DFP_ERR_INVALID_SHAPE);
    CHECK(dfp_sgemm(0, 1, 2, 2, 3, 1, x, 3, x, 2, 0, x, 2) == DFP_ERR_INVALID_SHAPE);
    CHECK(dfp_sgemm(0, 0, 0, 5, 5, 1, NULL, 1, NULL, 1, 0, NULL, 1) == DFP_OK);
}

int main(void)
{
    static const int64_t dims[][3] = {
        {1, 1, 1}, {1, 37, 5}, {29, 1, 7}, {13, 17, 1}, {15, 33, 19}, {28, 16, 9},
        {29, 17, 300}, {57, 95, 261}, {100, 3, 40}, {3, 100, 40}, {341, 70, 520}, {7, 9, 0},
    };
    for (size_t d = 0; d < sizeof(dims) / sizeof(dims[0]); d++)
        for (int t = 0; t < 4; t++) {
            float beta = (d % 3 == 0) ? 0.0f : (d % 3 == 1 ? 1.0f : -0.5f);
            check_shape(t & 1, t >> 1, dims[d][0], dims[d][1], dims[d][2], d % 2 ? 1.0f : 0.75f, beta);
        }
    check_errors();
    return TEST_RESULT();
}
