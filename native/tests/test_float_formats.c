/* Float formats through the public API: FP8 spot values, saturation, code
 * round trip, and every supported ISA bit-identical to scalar (rounding, on a
 * sweep of FP32 bit patterns too, and the emulated GEMM). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dfp_test.h"
#include "dfpengine.h"

#define N 4099

static float sample(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    float mant = 1.0f + (float)(*state >> 8) / 16777216.0f;
    int e = (int)((*state >> 3) % 60) - 40;
    return ((*state & 1u) ? -1.0f : 1.0f) * ldexpf(mant, e);
}

static void test_fp8_values(void)
{
    dfp_float_format f;
    CHECK(dfp_float_format_get(DFP_FMT_FP8, &f) == DFP_OK);
    float x[6] = {1.0f, 1.125f, 1.375f, 60000.0f, -1e30f, 3e-9f}, y[6];
    uint8_t codes[6];
    CHECK(dfp_float_round(&f, DFP_ROUND_NEAREST, 0, 0, 0, x, y, 6) == DFP_OK);
    CHECK(y[0] == 1.0f && y[1] == 1.0f && y[2] == 1.5f); /* ties to even */
    CHECK(y[3] == 57344.0f && y[4] == -57344.0f);      /* saturation */
    CHECK(y[5] == 0.0f);                               /* below half the smallest subnormal */
    CHECK(dfp_float_encode(&f, DFP_ROUND_NEAREST, 0, 0, 0, x, codes, 6) == DFP_OK);
    CHECK(codes[0] == 0x3c && codes[3] == 0x7b && codes[4] == 0xfb);
    for (int c = 0; c < 256; c++) {
        uint8_t code = (uint8_t)c, back;
        float v;
        dfp_float_decode(&f, &code, &v, 1);
        dfp_float_encode(&f, DFP_ROUND_NEAREST, 0, 0, 0, &v, &back, 1);
        CHECK(isnan(v) || back == code);
    }
    f.exp_bits = 9;
    CHECK(dfp_float_round(&f, DFP_ROUND_NEAREST, 0, 0, 0, x, y, 6) == DFP_ERR_INVALID_ARGUMENT);
}

static void run_isa(dfp_isa isa, const float *x, float *y, float *c)
{
    dfp_float_format f;
    dfp_fpemu_gemm_params p;
    CHECK(dfp_isa_select(isa) == DFP_OK);
    memset(&p, 0, sizeof p);
    dfp_float_format_get(DFP_FMT_FP8, &p.in_a);
    p.in_b = p.in_a;
    dfp_float_format_get(DFP_FMT_FP16_169, &p.acc);
    p.in_rounding = p.acc_rounding = DFP_ROUND_STOCHASTIC;
    p.chunk = 7;
    p.seed = 42;
    for (int id = DFP_FMT_FP8; id <= DFP_FMT_BF16; id++) {
        dfp_float_format_get((dfp_float_format_id)id, &f);
        dfp_float_round(&f, DFP_ROUND_NEAREST, 1, 2, 3, x, y + 2 * id * N, N);
        dfp_float_round(&f, DFP_ROUND_STOCHASTIC, 1, 2, 3, x, y + (2 * id + 1) * N, N);
    }
    CHECK(dfp_gemm_fpemu(0, 1, 33, 21, 45, x, 45, x + 2000, 45, c, 21, &p) == DFP_OK);
}

static void test_isas_match_scalar(void)
{
    float *x = malloc(N * sizeof(float)), *ref = malloc(8 * N * sizeof(float));
    float *y = malloc(8 * N * sizeof(float)), cref[33 * 21], c[33 * 21];
    unsigned state = 1;
    for (int i = 0; i < N; i++)
        x[i] = sample(&state);
    dfp_isa before = dfp_isa_selected();
    run_isa(DFP_ISA_SCALAR, x, ref, cref);
    for (int isa = DFP_ISA_AVX2; isa <= (int)dfp_isa_supported(); isa++) {
        run_isa((dfp_isa)isa, x, y, c);
        CHECK(memcmp(y, ref, 8 * N * sizeof(float)) == 0);
        CHECK(memcmp(c, cref, sizeof c) == 0);
    }
    dfp_isa_select(before);
    free(x);
    free(ref);
    free(y);
}

/* FP32 bit patterns for the nearest-rounding sweep: every 251st pattern (all
 * exponents, inf and NaN included), then for every exponent and sign the
 * dropped bits of a d-bit rounding at 0, just below, at and just above half,
 * and all ones (ties to even and carries into the exponent). */
static int64_t sweep_patterns(int d, uint32_t *u)
{
    int64_t n = 0;
    for (uint64_t v = 0; v < (1ull << 32); v += 251)
        u[n++] = (uint32_t)v;
    const uint32_t half = 1u << (d - 1), low[5] = {0, half - 1, half, half + 1, 2 * half - 1};
    for (uint32_t top = 0; top < 512; top++)       /* sign and exponent */
        for (uint32_t kept = 0; kept < 64; kept++) /* low kept mantissa bits */
            for (int l = 0; l < 5; l++)
                u[n++] = top << 23 | ((kept << d) & 0x7fffffu) | low[l];
    return n;
}

static void test_nearest_sweep_matches_scalar(void)
{
    const int64_t cap = (1ll << 32) / 251 + 1 + 512 * 64 * 5;
    uint32_t *u = malloc((size_t)cap * sizeof(uint32_t));
    float *ref = malloc((size_t)cap * sizeof(float)), *y = malloc((size_t)cap * sizeof(float));
    dfp_isa before = dfp_isa_selected();
    for (int id = DFP_FMT_FP8; id <= DFP_FMT_BF16; id++) {
        for (int sat = 0; sat < 2; sat++) {
            dfp_float_format f;
            dfp_float_format_get((dfp_float_format_id)id, &f);
            f.saturate = sat;
            const int64_t n = sweep_patterns(23 - f.man_bits, u);
            const float *x = (const float *)(const void *)u;
            CHECK(dfp_isa_select(DFP_ISA_SCALAR) == DFP_OK);
            dfp_float_round(&f, DFP_ROUND_NEAREST, 0, 0, 0, x, ref, n);
            for (int isa = DFP_ISA_AVX2; isa <= (int)dfp_isa_supported(); isa++) {
                CHECK(dfp_isa_select((dfp_isa)isa) == DFP_OK);
                dfp_float_round(&f, DFP_ROUND_NEAREST, 0, 0, 0, x, y, n);
                CHECK(memcmp(y, ref, (size_t)n * sizeof(float)) == 0);
            }
        }
    }
    dfp_isa_select(before);
    free(u);
    free(ref);
    free(y);
}

int main(void)
{
    test_fp8_values();
    test_isas_match_scalar();
    test_nearest_sweep_matches_scalar();
    return TEST_RESULT();
}
