/* Scalar reference integer kernels: the definition every SIMD kernel matches.
 *
 * igemm_s16 contract (4x8 register block): a = kp pairs x 4 rows x 2 int16,
 * b = kp pairs x 8 cols x 2 int16, c = 4 x 8 floats (row stride ldc). Chunks of
 * `chunk` pairs are summed in INT32 (exact: the driver sized the chunk so no
 * partial sum can overflow) and flushed c += (float)isum in chunk order. */
#include "int_kernels.h"
#include "dfp16_round.h"
#include "s16_runs.h"

#include <string.h>

#define MR 4
#define NR 8

static void igemm_s16_scalar_4x8(int64_t kp, int64_t chunk, const int16_t *a, const int16_t *b,
                                 float *c, int64_t ldc, int accumulate)
{
    float acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            acc[i][j] = accumulate ? c[i * ldc + j] : 0.0f;
    for (int64_t p0 = 0; p0 < kp; p0 += chunk) {
        int64_t p1 = p0 + chunk < kp ? p0 + chunk : kp;
        int32_t isum[MR][NR];
        memset(isum, 0, sizeof(isum));
        for (int64_t p = p0; p < p1; p++) {
            const int16_t *ap = a + p * MR * 2, *bp = b + p * NR * 2;
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++)
                    isum[i][j] += (int32_t)ap[2 * i] * bp[2 * j] + (int32_t)ap[2 * i + 1] * bp[2 * j + 1];
        }
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
                acc[i][j] += (float)isum[i][j];
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++)
            c[i * ldc + j] = acc[i][j];
}

static int64_t quantize_s16_scalar(const float *x, int64_t n, const dfp_quant_run *run, int16_t *q)
{
    return dfp16_quantize_span(x, 0, n, run, q);
}

static void dequantize_s16_scalar(const int16_t *q, int64_t n, float scale, float *x)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)q[i] * scale;
}

static uint32_t absmax_bits_scalar(const float *x, int64_t n)
{
    uint32_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], 4);
        bits &= 0x7fffffffU;
        m = bits > m ? bits : m;
    }
    return m;
}

static int32_t load_s16_scalar(const int16_t *src, int64_t n, int16_t *dst, int32_t m, int64_t *sat)
{
    return dfp_load_s16_span(src, 0, n, dst, m, sat);
}

static int32_t absmax_s16_scalar(const int16_t *v, int64_t n, int32_t m)
{
    return dfp_absmax_s16_span(v, 0, n, m);
}

static void l1_groups_s16_scalar(const int16_t *v, int64_t ngroups, int32_t *out)
{
    dfp_l1_groups_s16_span(v, 0, ngroups, out);
}

static void l1_groups_panel_s16_scalar(const int16_t *pan, int w, int64_t kp, int32_t *sums)
{
    dfp_l1_groups_panel_span(pan, w, kp, 0, sums);
}

static void pack_pairs8_scalar(const int16_t *const rows[8], int64_t np, int w, int32_t *dst)
{
    for (int i = 0; i < 8; i++)
        if (rows[i])
            for (int64_t p = 0; p < np; p++)
                memcpy(dst + p * w + i, rows[i] + 2 * p, 4);
}

static void interleave_s16_scalar(const int16_t *even, const int16_t *odd, int64_t n, int16_t *dst)
{
    for (int64_t i = 0; i < n; i++) {
        dst[2 * i] = even[i];
        dst[2 * i + 1] = odd ? odd[i] : 0;
    }
}

static void scale_row_scalar(const float *sums, int64_t n, float sa, float sb, float *c, int accumulate)
{
    if (accumulate)
        for (int64_t j = 0; j < n; j++)
            c[j] += sums[j] * sa * sb;
    else
        for (int64_t j = 0; j < n; j++)
            c[j] = sums[j] * sa * sb;
}

void dfp_int_kernels_init_scalar(dfp_int_kernels *k)
{
    k->mr = MR;
    k->nr = NR;
    k->igemm_s16 = igemm_s16_scalar_4x8;
    k->igemm_s16_inplace = NULL; /* NR = 8: the conv packs */
    k->igemm_s16_inplace_wide = NULL;
    k->igemm_s16_arows = NULL; /* the GEMM packs A */
    k->quantize_s16 = quantize_s16_scalar;
    k->dequantize_s16 = dequantize_s16_scalar;
    k->absmax_bits = absmax_bits_scalar;
    k->load_s16 = load_s16_scalar;
    k->absmax_s16 = absmax_s16_scalar;
    k->l1_groups_s16 = l1_groups_s16_scalar;
    k->l1_groups_panel_s16 = l1_groups_panel_s16_scalar;
    k->pack_pairs8 = pack_pairs8_scalar;
    k->interleave_s16 = interleave_s16_scalar;
    k->quantize_plane_pair = NULL; /* the conv quantises plane by plane */
    k->scale_row = scale_row_scalar;
}
