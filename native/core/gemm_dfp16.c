/* Public integer GEMM entry points: validate, describe each operand as a packer
 * source (quantising FP32 while packing, or reading int16), run the driver. */
#include "igemm.h"
#include "kernel_table.h"

#include <math.h>
#include <string.h>

static dfp_status check_gemm(int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                             int trans_a, const void *b, int64_t ldb, int trans_b, float *c,
                             int64_t ldc)
{
    if (m < 0 || n < 0 || k < 0)
        return DFP_ERR_INVALID_SHAPE;
    if (!c && m * n > 0)
        return DFP_ERR_NULL_POINTER;
    if ((!a || !b) && m * n * k > 0)
        return DFP_ERR_NULL_POINTER;
    if (lda < (trans_a ? m : k) || lda < 1 || ldb < (trans_b ? k : n) || ldb < 1 ||
        ldc < n || ldc < 1)
        return DFP_ERR_INVALID_SHAPE;
    return DFP_OK;
}

/* P_a = op(A) (m x k); P_b = op(B)^T (n x k). */
static dfp_s16_source source(dfp_s16_pack_fn pack, const void *data, int64_t ld, int k_contig,
                             int64_t rows, int64_t k)
{
    dfp_s16_source s = {.pack = pack, .data = data, .ld = ld, .k_contiguous = k_contig,
                        .rows = rows, .k = k};
    return s;
}

/* Exponent of a stored (r x cols, ld) FP32 matrix, and the bits of its largest
 * |value|; DFP_ERR_NOT_FINITE on NaN/inf. */
static dfp_status matrix_exponent(const float *x, int64_t r, int64_t cols, int64_t ld, int shift,
                                  int32_t *e, uint32_t *max_bits)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    uint32_t m = 0;
#pragma omp parallel for schedule(static) reduction(max : m) num_threads(dfp_threads_for_work(r / 64))
    for (int64_t i = 0; i < r; i++) {
        uint32_t mi = ik->absmax_bits(x + i * ld, cols);
        m = mi > m ? mi : m;
    }
    if (m >= 0x7f800000U)
        return DFP_ERR_NOT_FINITE;
    *e = dfp_dfp16_exponent(m, shift);
    *max_bits = m;
    return DFP_OK;
}

/* Nearest and biased rounding are monotone in |x| and sign-symmetric: the largest
 * |code| is the code of the largest |x|, known before any quantising (the packers
 * then skip their pass over the codes for it). Stochastic codes are not: their
 * maximum is taken from the codes. */
static void set_code_max(dfp_s16_source *s, uint32_t max_bits)
{
    if (s->quant.rounding == DFP_ROUND_STOCHASTIC)
        return;
    float x;
    int16_t q;
    memcpy(&x, &max_bits, sizeof x);
    dfp_kernels()->integer.quantize_s16(&x, 1, &s->quant, &q);
    s->code_max_known = 1;
    s->code_max = q < 0 ? -(int32_t)q : q;
}

static dfp_status check_params(const dfp_dfp16_params *p)
{
    if (!p)
        return DFP_ERR_NULL_POINTER;
    if (p->shift < 0 || p->shift > 3 || p->rounding < DFP_ROUND_NEAREST ||
        p->rounding > DFP_ROUND_BIASED)
        return DFP_ERR_INVALID_ARGUMENT;
    return DFP_OK;
}

dfp_status dfp_gemm_dfp16(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          const float *a, int64_t lda, const float *b, int64_t ldb,
                          float *c, int64_t ldc, int accumulate, const dfp_dfp16_params *pa,
                          const dfp_dfp16_params *pb, dfp_gemm_stats *stats)
{
    dfp_status st = check_gemm(m, n, k, a, lda, trans_a, b, ldb, trans_b, c, ldc);
    if (st == DFP_OK)
        st = check_params(pa);
    if (st == DFP_OK)
        st = check_params(pb);
    if (st != DFP_OK || m * n == 0)
        return st;
    int32_t ea = 0, eb = 0;
    uint32_t max_a = 0, max_b = 0;
    if (k > 0) {
        st = matrix_exponent(a, trans_a ? k : m, trans_a ? m : k, lda, pa->shift, &ea, &max_a);
        if (st == DFP_OK)
            st = matrix_exponent(b, trans_b ? n : k, trans_b ? k : n, ldb, pb->shift, &eb, &max_b);
        if (st != DFP_OK)
            return st;
    }
    dfp_s16_source sa = source(dfp_pack_s16_from_f32, a, lda, !trans_a, m, k);
    dfp_s16_source sb = source(dfp_pack_s16_from_f32, b, ldb, trans_b, n, k);
    sa.quant = dfp_dfp16_run(ea, pa, 0);
    sb.quant = dfp_dfp16_run(eb, pb, 0);
    set_code_max(&sa, max_a);
    set_code_max(&sb, max_b);
    return dfp_igemm_run(&sa, &sb, ldexpf(1.0f, ea), ldexpf(1.0f, eb), c, ldc, accumulate, stats);
}

dfp_status dfp_gemm_s16(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        const int16_t *a, int64_t lda, int32_t ea, const int16_t *b, int64_t ldb,
                        int32_t eb, float *c, int64_t ldc, int accumulate, dfp_gemm_stats *stats)
{
    dfp_status st = check_gemm(m, n, k, a, lda, trans_a, b, ldb, trans_b, c, ldc);
    if (st != DFP_OK || m * n == 0)
        return st;
    if (ea < -126 || ea > 127 || eb < -126 || eb > 127)
        return DFP_ERR_INVALID_ARGUMENT;
    dfp_s16_source sa = source(dfp_pack_s16_from_s16, a, lda, !trans_a, m, k);
    dfp_s16_source sb = source(dfp_pack_s16_from_s16, b, ldb, trans_b, n, k);
    return dfp_igemm_run(&sa, &sb, ldexpf(1.0f, ea), ldexpf(1.0f, eb), c, ldc, accumulate, stats);
}
