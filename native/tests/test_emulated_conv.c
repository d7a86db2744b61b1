/* The emulated-format convolutions (dfp_conv2d_bfp_*, dfp_conv2d_fpemu_*)
 * through the public API equal their definition, one GEMM on the batch's
 * im2col matrix (dfp_conv2d_im2col_f32), bit for bit, on every supported ISA;
 * and they reject what they do not take. */
#include <stdlib.h>
#include <string.h>

#include "dfp_test.h"
#include "dfpengine.h"

enum { NB = 3, C = 4, H = 8, O = 5, KS = 3, TAPS = C * KS * KS, PX = H * H, P = NB * PX };

static float x[NB * C * H * H], w[O * TAPS], dy[NB * O * PX];
static float cols[TAPS * P], dyt[O * P], want[P * O], got[NB * O * PX], dw[O * TAPS], ref[O * TAPS];

static void fill(float *v, int n, unsigned seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)((int)(seed >> 9) % 2001 - 1000) / 250.0f;
    }
}

static dfp_conv2d_shape shape(void)
{
    dfp_conv2d_shape s = {NB, C, H, H, O, KS, KS, 1, 1, 1, 1, 1, 1};
    return s;
}

static dfp_bfp_operand operand(const dfp_bfp_format *f, const float *data, int64_t rs, int64_t ks)
{
    dfp_bfp_operand op = {data, rs, ks, f->block, f->mag_bits, f->floor_exponent, f->rounding,
                          f->seed, f->stream};
    return op;
}

static void test_bfp(void)
{
    const dfp_conv2d_shape s = shape();
    /* blocks of 16 (HBFP4 magnitudes), stochastic: the streams must land where the GEMM's do */
    dfp_bfp_format fx = {16, 3, 0, DFP_ROUND_STOCHASTIC, 7, 20}, fw = fx, fdy = fx;
    fw.stream = 21, fdy.stream = 22;
    /* forward: y^T = cols^T @ W^T */
    dfp_bfp_operand a = operand(&fx, cols, 1, P), b = operand(&fw, w, TAPS, 1);
    CHECK(dfp_gemm_bfp_f32(P, O, TAPS, &a, &b, want, O) == DFP_OK);
    CHECK(dfp_conv2d_bfp_forward(&s, x, &fx, w, &fw, got) == DFP_OK);
    int same = 1;
    for (int n = 0; n < NB; n++)
        for (int o = 0; o < O; o++)
            for (int p = 0; p < PX; p++)
                same &= memcmp(&got[(n * O + o) * PX + p], &want[(n * PX + p) * O + o], 4) == 0;
    CHECK(same);
    /* backward_weight: dW = dY @ cols^T */
    a = operand(&fdy, dyt, P, 1), b = operand(&fx, cols, P, 1);
    CHECK(dfp_gemm_bfp_f32(O, TAPS, P, &a, &b, ref, TAPS) == DFP_OK);
    CHECK(dfp_conv2d_bfp_backward_weight(&s, x, &fx, dy, &fdy, dw) == DFP_OK);
    CHECK(memcmp(dw, ref, sizeof dw) == 0);
    /* blocks of 128 over images of 64 pixels: WTGRAD's slices span two images */
    dfp_bfp_format wx = fx, wdy = fdy;
    wx.block = wdy.block = 128;
    a = operand(&wdy, dyt, P, 1), b = operand(&wx, cols, P, 1);
    CHECK(dfp_gemm_bfp_f32(O, TAPS, P, &a, &b, ref, TAPS) == DFP_OK);
    CHECK(dfp_conv2d_bfp_backward_weight(&s, x, &wx, dy, &wdy, dw) == DFP_OK);
    CHECK(memcmp(dw, ref, sizeof dw) == 0);
    /* an odd block is refused */
    dfp_bfp_format odd = fx;
    odd.block = 15;
    CHECK(dfp_conv2d_bfp_forward(&s, x, &odd, w, &odd, got) == DFP_ERR_INVALID_ARGUMENT);
    CHECK(dfp_conv2d_bfp_forward(&s, NULL, &fx, w, &fw, got) == DFP_ERR_NULL_POINTER);
}

static void test_fpemu(void)
{
    const dfp_conv2d_shape s = shape();
    dfp_fpemu_gemm_params p;
    memset(&p, 0, sizeof p);
    dfp_float_format_get(DFP_FMT_FP8, &p.in_a);
    p.in_b = p.in_a;
    dfp_float_format_get(DFP_FMT_FP16_169, &p.acc);
    p.chunk = 16; /* several chunks per image: WTGRAD's slices go on from the totals */
    CHECK(dfp_gemm_fpemu(1, 1, P, O, TAPS, cols, P, w, TAPS, want, O, &p) == DFP_OK);
    CHECK(dfp_conv2d_fpemu_forward(&s, x, w, &p, got) == DFP_OK);
    int same = 1;
    for (int n = 0; n < NB; n++)
        for (int o = 0; o < O; o++)
            for (int q = 0; q < PX; q++)
                same &= memcmp(&got[(n * O + o) * PX + q], &want[(n * PX + q) * O + o], 4) == 0;
    CHECK(same);
    CHECK(dfp_gemm_fpemu(0, 1, O, TAPS, P, dyt, P, cols, P, ref, TAPS, &p) == DFP_OK);
    CHECK(dfp_conv2d_fpemu_backward_weight(&s, x, dy, &p, dw) == DFP_OK);
    CHECK(memcmp(dw, ref, sizeof dw) == 0);
    p.in_rounding = DFP_ROUND_STOCHASTIC;
    CHECK(dfp_conv2d_fpemu_forward(&s, x, w, &p, got) == DFP_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    fill(x, (int)(sizeof x / sizeof *x), 1);
    fill(w, (int)(sizeof w / sizeof *w), 2);
    fill(dy, (int)(sizeof dy / sizeof *dy), 3);
    dfp_conv2d_shape s = shape();
    CHECK(dfp_conv2d_im2col_f32(&s, x, cols) == DFP_OK);
    for (int n = 0; n < NB; n++)
        for (int o = 0; o < O; o++)
            memcpy(dyt + o * P + n * PX, dy + (n * O + o) * PX, PX * sizeof(float));
    for (int isa = DFP_ISA_SCALAR; isa <= DFP_ISA_AVX512_VNNI; isa++) {
        if (dfp_isa_select((dfp_isa)isa) != DFP_OK)
            continue;
        test_bfp();
        test_fpemu();
    }
    return TEST_RESULT();
}
