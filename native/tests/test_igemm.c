/* Integer GEMM and DFP16 quantiser: every supported ISA bit-identical to the
 * scalar reference (int16 outputs, FP32 results), thread counts 1 and 2
 * identical, and the adversarial all-maximum case never wraps. */
#include "dfpengine.h"
#include "dfp_test.h"
#include "igemm.h"
#include "kernel_table.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static float rndf(void) { return ((float)rnd() / 2147483648.0f - 0.5f) * 4.0f; }

static void fill_f32(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = rndf() * (float)(i % 7 + 1);
}

/* Quantised output of every ISA and rounding mode equals the scalar one. */
static void test_quantize_isas(void)
{
    const int64_t rows = 37, cols = 101;
    float *x = malloc(sizeof(float) * rows * cols);
    int16_t *q0 = malloc(2 * rows * cols), *q1 = malloc(2 * rows * cols);
    int32_t e0[64 * 37], e1[64 * 37];
    fill_f32(x, rows * cols);
    for (int r = DFP_ROUND_NEAREST; r <= DFP_ROUND_BIASED; r++) {
        for (int g = DFP_GRAN_TENSOR; g <= DFP_GRAN_BLOCK; g++) {
            dfp_dfp16_params p = {.shift = 2, .rounding = (dfp_rounding)r, .seed = 7, .stream = 3};
            CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
            CHECK(dfp_dfp16_quantize(x, rows, cols, (dfp_granularity)g, 16, &p, q0, e0, NULL) == DFP_OK);
            for (int isa = DFP_ISA_AVX2; isa <= (int)dfp_isa_supported(); isa++) {
                CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
                memset(q1, 0, 2 * rows * cols);
                CHECK(dfp_dfp16_quantize(x, rows, cols, (dfp_granularity)g, 16, &p, q1, e1, NULL) == DFP_OK);
                CHECK(memcmp(q0, q1, 2 * rows * cols) == 0);
                CHECK(memcmp(e0, e1, 4 * dfp_dfp16_num_exponents(rows, cols, g, 16)) == 0);
            }
        }
    }
    x[5] = NAN;
    dfp_dfp16_params p = {.shift = 2};
    CHECK(dfp_dfp16_quantize(x, rows, cols, DFP_GRAN_TENSOR, 0, &p, q0, e0, NULL) == DFP_ERR_NOT_FINITE);
    p.shift = 4;
    CHECK(dfp_dfp16_quantize(x, rows, cols, DFP_GRAN_TENSOR, 0, &p, q0, e0, NULL) == DFP_ERR_INVALID_ARGUMENT);
    free(x), free(q0), free(q1);
}

/* FP32 results of the DFP16 GEMM: every ISA and thread count, bit-identical. */
static void test_gemm_isas(int64_t m, int64_t n, int64_t k, int ta, int tb)
{
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
    float *c0 = malloc(sizeof(float) * m * n), *c1 = malloc(sizeof(float) * m * n);
    fill_f32(a, m * k);
    fill_f32(b, k * n);
    int64_t lda = ta ? m : k, ldb = tb ? k : n;
    dfp_dfp16_params pa = {.shift = 2, .rounding = DFP_ROUND_NEAREST};
    dfp_dfp16_params pb = {.shift = 1, .rounding = DFP_ROUND_STOCHASTIC, .seed = 1, .stream = 2};
    CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
    CHECK(dfp_set_num_threads(1) == DFP_OK);
    dfp_gemm_stats s0 = {0};
    CHECK(dfp_gemm_dfp16(ta, tb, m, n, k, a, lda, b, ldb, c0, n, 0, &pa, &pb, &s0) == DFP_OK);
    for (int isa = DFP_ISA_SCALAR; isa <= (int)dfp_isa_supported(); isa++) {
        for (int threads = 1; threads <= 2; threads++) {
            CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
            CHECK(dfp_set_num_threads(threads) == DFP_OK);
            dfp_gemm_stats s1 = {0};
            CHECK(dfp_gemm_dfp16(ta, tb, m, n, k, a, lda, b, ldb, c1, n, 0, &pa, &pb, &s1) == DFP_OK);
            CHECK(memcmp(c0, c1, sizeof(float) * m * n) == 0);
            CHECK(s0.flushes == s1.flushes && s0.chunk_len == s1.chunk_len);
        }
    }
    free(a), free(b), free(c0), free(c1);
}

/* All operands at +32767 or -32767, K = 2^20: the chunked result is within the
 * bound of an FP32 accumulation of n_flush terms (n_flush * 2^-24 * sum|ab|,
 * Higham's recursive-summation bound, plus 2^-24 for each chunk's conversion),
 * while a plain INT32 sum wraps. */
static void test_overflow(int16_t va, int16_t vb)
{
    const int64_t k = (int64_t)1 << 20;
    int16_t *a = malloc(2 * k), *b = malloc(2 * k);
    for (int64_t i = 0; i < k; i++)
        a[i] = va, b[i] = vb;
    for (int isa = DFP_ISA_SCALAR; isa <= (int)dfp_isa_supported(); isa++) {
        CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
        float c = 0.0f;
        dfp_gemm_stats st = {0};
        CHECK(dfp_gemm_s16(0, 0, 1, 1, k, a, k, 0, b, 1, 0, &c, 1, 0, &st) == DFP_OK);
        double ref = (double)va * vb * (double)k;
        double bound = ((double)st.flushes + 1.0) * 0x1p-24 * fabs(ref);
        CHECK(fabs((double)c - ref) <= bound);
        CHECK(st.chunk_len == 2 && st.flushes == k / 2);
    }
    uint32_t naive = 0; /* INT32 wraps modulo 2^32 */
    for (int64_t i = 0; i < k; i++)
        naive += (uint32_t)((int32_t)a[i] * b[i]);
    CHECK(fabs((double)(int32_t)naive - (double)va * vb * (double)k) > 1e9);
    free(a), free(b);
}

/* Small integers: the result is exact in FP32, so it must equal the int64 sum. */
static void test_gemm_exact(int64_t m, int64_t n, int64_t k, int ta, int tb)
{
    int16_t *a = malloc(2 * m * k), *b = malloc(2 * k * n);
    float *c = malloc(sizeof(float) * m * n);
    for (int64_t i = 0; i < m * k; i++)
        a[i] = (int16_t)((int)(rnd() % 201) - 100);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = (int16_t)((int)(rnd() % 201) - 100);
    for (int isa = DFP_ISA_SCALAR; isa <= (int)dfp_isa_supported(); isa++) {
        CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
        CHECK(dfp_gemm_s16(ta, tb, m, n, k, a, ta ? m : k, -1, b, tb ? k : n, 2, c, n, 0, NULL) == DFP_OK);
        int bad = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t sum = 0;
                for (int64_t p = 0; p < k; p++)
                    sum += (int64_t)a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
                bad += c[i * n + j] != (float)(sum * 2);
            }
        CHECK(bad == 0);
    }
    free(a), free(b), free(c);
}

/* The L1 group-sum kernel of every ISA equals the scalar one, at +-32767 too. */
static void test_l1_groups_isas(void)
{
    enum { G = 37 };
    int16_t v[16 * G];
    int32_t o0[G], o1[G];
    for (int i = 0; i < 16 * G; i++)
        v[i] = i < 32 ? (i % 2 ? 32767 : -32767) : (int16_t)((int32_t)(rnd() % 65535) - 32767);
    for (int64_t ng = 0; ng <= G; ng += ng < 4 ? 1 : 11) {
        CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
        for (int j = 0; j < G; j++)
            o0[j] = o1[j] = j * 1000;
        dfp_kernels()->integer.l1_groups_s16(v, ng, o0);
        for (int isa = DFP_ISA_AVX2; isa <= (int)dfp_isa_supported(); isa++) {
            CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
            int32_t o2[G];
            memcpy(o2, o1, sizeof o2);
            dfp_kernels()->integer.l1_groups_s16(v, ng, o2);
            CHECK(memcmp(o0, o2, sizeof o2) == 0);
        }
    }
    CHECK(o0[0] == 16 * 32767 && o0[1] == 16 * 32767 + 1000);
}

/* The panel group-sum kernel of every ISA equals the scalar one: widths of every
 * ISA's A and B panels, short last groups, +-32767. */
static void test_l1_groups_panel_isas(void)
{
    enum { KP = 530, W = 32, G = (KP + 7) / 8 };
    static int16_t pan[KP * W * 2];
    static int32_t s0[G * W], s1[G * W];
    for (int i = 0; i < KP * W * 2; i++)
        pan[i] = i < 64 ? (i % 3 ? 32767 : -32767) : (int16_t)((int32_t)(rnd() % 65535) - 32767);
    const int widths[] = {3, 8, 16, 32};
    const int64_t kps[] = {1, 7, 8, 9, 64, 100, KP};
    for (int wi = 0; wi < 4; wi++)
        for (int ki = 0; ki < 7; ki++) {
            const int w = widths[wi];
            const int64_t kp = kps[ki], groups = (kp + 7) / 8;
            CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
            memset(s0, 0x55, sizeof s0);
            dfp_kernels()->integer.l1_groups_panel_s16(pan, w, kp, s0);
            for (int isa = DFP_ISA_AVX2; isa <= (int)dfp_isa_supported(); isa++) {
                CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
                memset(s1, 0x55, sizeof s1);
                dfp_kernels()->integer.l1_groups_panel_s16(pan, w, kp, s1);
                CHECK(memcmp(s0, s1, sizeof s1) == 0); /* the same sums, nothing past them written */
            }
            int32_t want = 0; /* row 0 of group 0 from its definition */
            for (int64_t q = 0; q < 8 && q < kp; q++)
                want += abs(pan[q * w * 2]) + abs(pan[q * w * 2 + 1]);
            CHECK(s0[0] == want && (groups * w >= G * W || s0[groups * w] == 0x55555555));
        }
}

/* A 32-wide B panel from int16 stored across K: the ISA's one-pass packer (where
 * there is one) equals interleaving each pair, then the clamp-and-maximum pass:
 * rows 1..32, odd and even K, -32768 present. */
static void test_pack_kpairs_isas(void)
{
    enum { LD = 40, K = 21 };
    int16_t s[K * LD], ref[(K + 1) / 2 * 64], got[(K + 1) / 2 * 64];
    for (int i = 0; i < K * LD; i++)
        s[i] = i % 29 == 3 ? INT16_MIN : (int16_t)((int32_t)(rnd() % 65535) - 32767);
    CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
    const dfp_int_kernels *scalar = &dfp_kernels()->integer;
    int64_t clamped = 0;
    for (int64_t rows = 1; rows <= 32; rows += rows < 4 ? 1 : 7)
        for (int64_t k = K - 1; k <= K; k++) {
            const int64_t kp = (k + 1) / 2;
            memset(ref, 0, sizeof ref);
            int64_t sat_ref = 0;
            for (int64_t p = 0; p < kp; p++)
                scalar->interleave_s16(s + 2 * p * LD, 2 * p + 1 < k ? s + (2 * p + 1) * LD : NULL, rows,
                                       ref + p * 64);
            int32_t m_ref = scalar->load_s16(ref, kp * 64, ref, 7, &sat_ref);
            for (int isa = DFP_ISA_AVX2; isa <= (int)dfp_isa_supported(); isa++) {
                CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
                const dfp_pack_kpairs_s16_fn pack = dfp_kernels()->integer.pack_kpairs_s16;
                if (!pack)
                    continue;
                int64_t sat = 0;
                memset(got, 0x55, sizeof got);
                int32_t m = pack(s, LD, k, rows, got, 7, &sat);
                CHECK(m == m_ref && sat == sat_ref);
                clamped += sat;
                CHECK(memcmp(got, ref, (size_t)kp * 64 * sizeof(int16_t)) == 0);
            }
            CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
        }
    CHECK(clamped > 0 || dfp_isa_supported() < DFP_ISA_AVX512);
    CHECK(dfp_isa_select(dfp_isa_supported()) == DFP_OK);
}

/* The row-sum chunk rule picks the longest dividing chunk whose every window
 * fits, restarts windows at segment starts, and never shortens the maxima's. */
static void test_chunking_l1(void)
{
    dfp_l1_groups g;
    CHECK(dfp_l1_groups_init(&g, 2, 30, 0) == DFP_OK);
    /* max|b| = 1000: the row sum of a window may reach INT32_MAX / 1000 = 2147483 */
    for (int j = 0; j < 30; j++)
        g.sum[j] = 100000, g.sum[30 + j] = 1000;   /* row 0: 24 groups 2.4e6 (no), 12 fit */
    int64_t chunk, kc;
    dfp_igemm_chunking_l1(&g, 1000, 32767, 1000, &chunk, &kc);
    CHECK(chunk == 12 * DFP_L1_GROUP && kc == 192);
    g.sum[13] = 1500000; /* windows [12, 24) and [8, 16) now too large, [12, 18) fits */
    dfp_igemm_chunking_l1(&g, 1000, 32767, 1000, &chunk, &kc);
    CHECK(chunk == 6 * DFP_L1_GROUP && kc == 192);
    g.sum[13] = 2100000; /* only single groups fit: the maxima's 32 pairs are longer */
    dfp_igemm_chunking_l1(&g, 1000, 32767, 1000, &chunk, &kc);
    CHECK(chunk == 32 && kc == 192);
    dfp_l1_groups_free(&g);
    /* two segments of 5 groups: windows restart at group 5, so 24 groups never
     * sum more than one segment */
    CHECK(dfp_l1_groups_init(&g, 1, 10, 5) == DFP_OK);
    for (int j = 0; j < 10; j++)
        g.sum[j] = 400000;  /* one segment 2.0e6 fits, two would not */
    dfp_igemm_chunking_l1(&g, 1000, 32767, 1000, &chunk, &kc);
    CHECK(chunk == 24 * DFP_L1_GROUP);
    /* the maxima already allow more than any row-sum candidate: kept */
    dfp_igemm_chunking_l1(&g, 1, 1, 1, &chunk, &kc);
    CHECK(chunk == 192 && kc == 192);
    dfp_igemm_chunking_l1(&g, 32767, 32767, 32767, &chunk, &kc);
    CHECK(chunk == 1 && kc == 192);
    dfp_l1_groups_free(&g);
}

/* int16 GEMM with A's rows strided (lda > k: read in place on VNNI, packed
 * elsewhere): every ISA and thread count bit-identical. */
static void test_gemm_s16_strided_a(int64_t m, int64_t n, int64_t k, int64_t lda)
{
    int16_t *a = malloc(2 * m * lda), *b = malloc(2 * k * n);
    float *c0 = malloc(sizeof(float) * m * n), *c1 = malloc(sizeof(float) * m * n);
    for (int64_t i = 0; i < m * lda; i++)
        a[i] = (int16_t)((int32_t)(rnd() % 65535) - 32767);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = (int16_t)((int32_t)(rnd() % 65535) - 32767);
    CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
    CHECK(dfp_gemm_s16(0, 0, m, n, k, a, lda, 0, b, n, 0, c0, n, 0, NULL) == DFP_OK);
    for (int isa = DFP_ISA_AVX2; isa <= (int)dfp_isa_supported(); isa++)
        for (int t = 1; t <= 2; t++) {
            CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
            dfp_set_num_threads(t);
            CHECK(dfp_gemm_s16(0, 0, m, n, k, a, lda, 0, b, n, 0, c1, n, 0, NULL) == DFP_OK);
            CHECK(memcmp(c0, c1, sizeof(float) * m * n) == 0);
        }
    dfp_set_num_threads(1);
    free(a), free(b), free(c0), free(c1);
}

int main(void)
{
    test_gemm_s16_strided_a(37, 45, 300, 301);
    test_gemm_s16_strided_a(200, 64, 576, 600);
    test_l1_groups_isas();
    test_l1_groups_panel_isas();
    test_pack_kpairs_isas();
    test_chunking_l1();
    test_gemm_exact(13, 37, 301, 0, 0);
    test_gemm_exact(29, 45, 100, 1, 0);
    test_gemm_exact(7, 70, 33, 0, 1);
    test_gemm_exact(64, 31, 513, 1, 1);
    test_quantize_isas();
    test_gemm_isas(1, 1, 1, 0, 0);
    test_gemm_isas(13, 37, 301, 0, 0);
    test_gemm_isas(50, 70, 1000, 1, 0);
    test_gemm_isas(65, 33, 777, 0, 1);
    test_gemm_isas(200, 300, 64, 1, 1);
    test_overflow(32767, 32767);
    test_overflow(-32767, -32767);
    test_overflow(-32767, 32767);
    return TEST_RESULT();
}
