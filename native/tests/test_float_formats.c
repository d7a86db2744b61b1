/* Float formats through the public API: FP8 spot values, saturation, code
 * round trip, and every supported ISA bit-identical to scalar (rounding and
 * the emulated GEMM). */
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

int main(void)
{
    test_fp8_values();
    test_isas_match_scalar();
    return TEST_RESULT();
}
