/* Emulated low-precision float GEMM driver (portable): validate, pack op(A)
 * into MR-row panels and op(B) into NR-column panels while rounding them to
 * their input formats, then run the ISA micro-kernel on every MR x NR tile.
 *
 * Packing quantises one row of op(A) (or op(B)) at a time through the
 * kernel table's round kernel, with element index i*k + t (t*n + j for B):
 * the same indices as rounding op(A) as one row-major tensor, so seeded
 * stochastic input rounding is independent of blocking, ISA and threads.
 * Every output element is produced by exactly one micro-kernel lane with a
 * fixed add order, so results do not depend on the thread count either. */
#include "kernel_table.h"

#include <stdlib.h>
#include <string.h>

#define DFP_FPEMU_MAX_TILE 1024 /* MR * NR upper bound for the tile buffer */

dfp_status dfp_float_format_check(const dfp_float_format *f);

/* One packed operand: `panels` panels of k x width floats. */
typedef struct fpemu_pack {
    const float *src;
    int64_t ld;
    int trans;            /* element (r, t) of the operand at src[t*ld + r] instead of src[r*ld + t] */
    int64_t rows, k;      /* rows of the operand as packed (m for A, n for B), depth */
    int width;            /* MR or NR */
    const dfp_float_format *fmt;
    int stochastic;
    uint64_t key;
    int b_layout;         /* index of element (r, t) is t*rows + r (op(B) row-major) instead of r*k + t */
} fpemu_pack;

static void pack_row(const fpemu_pack *p, int64_t r, float *row, float *dst,
                     const dfp_fmt_consts *c)
{
    for (int64_t t = 0; t < p->k; t++)
        row[t] = p->trans ? p->src[t * p->ld + r] : p->src[r * p->ld + t];
    if (p->fmt->exp_bits != 0) {
        const dfp_fpemu_round_fn round = dfp_kernels()->emu.round;
        if (p->b_layout) /* indices t*rows + r are strided: round one element at a time */
            for (int64_t t = 0; t < p->k; t++)
                round(c, p->stochastic, p->key, (uint64_t)(t * p->rows + r), row + t, row + t, 1);
        else
            round(c, p->stochastic, p->key, (uint64_t)(r * p->k), row, row, p->k);
    }
    float *panel = dst + (r / p->width) * p->k * p->width;
    for (int64_t t = 0; t < p->k; t++)
        panel[t * p->width + r % p->width] = row[t];
}

static dfp_status pack_operand(const fpemu_pack *p, float **out)
{
    int64_t panels = (p->rows + p->width - 1) / p->width;
    float *dst = calloc((size_t)(panels * p->width * p->k) + 1, sizeof(float));
    if (!dst)
        return DFP_ERR_OUT_OF_MEMORY;
    dfp_fmt_consts c = {0};
    if (p->fmt->exp_bits != 0)
        c = dfp_fmt_consts_make(p->fmt);
    int failed = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(p->rows))
    {
        float *row = malloc((size_t)p->k * sizeof(float) + sizeof(float));
        if (!row) {
#pragma omp atomic write
            failed = 1;
        } else {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < p->rows; r++)
                pack_row(p, r, row, dst, &c);
        }
        free(row);
    }
    if (failed) {
        free(dst);
        return DFP_ERR_OUT_OF_MEMORY;
    }
    *out = dst;
    return DFP_OK;
}

static void run_tiles(int64_t m, int64_t n, int64_t k, const float *ap, const float *bp,
                      float *c, int64_t ldc, const dfp_fpemu_acc *acc)
{
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    const int mr = kern->mr, nr = kern->nr;
    const int64_t mb = (m + mr - 1) / mr, nb = (n + nr - 1) / nr;
#pragma omp parallel for schedule(dynamic) num_threads(dfp_threads_for_work(mb * nb))
    for (int64_t tile = 0; tile < mb * nb; tile++) {
        int64_t i0 = (tile % mb) * mr, j0 = (tile / mb) * nr;
        float out[DFP_FPEMU_MAX_TILE];
        kern->gemm_ukernel(k, ap + i0 * k, bp + j0 * k, out, i0, j0, acc);
        for (int64_t j = 0; j < nr && j0 + j < n; j++)
            for (int64_t i = 0; i < mr && i0 + i < m; i++)
                c[(i0 + i) * ldc + j0 + j] = out[j * mr + i];
    }
}

static dfp_status check_gemm_args(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                  const float *a, int64_t lda, const float *b, int64_t ldb,
                                  const float *c, int64_t ldc, const dfp_fpemu_gemm_params *p)
{
    if (!p || !c || (k > 0 && (!a || !b)))
        return DFP_ERR_NULL_POINTER;
    if (m < 0 || n < 0 || k < 0 || ldc < (n > 1 ? n : 1))
        return DFP_ERR_INVALID_SHAPE;
    if (lda < ((trans_a ? m : k) > 1 ? (trans_a ? m : k) : 1) ||
        ldb < ((trans_b ? k : n) > 1 ? (trans_b ? k : n) : 1))
        return DFP_ERR_INVALID_SHAPE;
    if (p->chunk < 1 || (unsigned)p->in_rounding > 1u || (unsigned)p->acc_rounding > 1u)
        return DFP_ERR_INVALID_ARGUMENT;
    if ((p->in_a.exp_bits != 0 && dfp_float_format_check(&p->in_a) != DFP_OK) ||
        (p->in_b.exp_bits != 0 && dfp_float_format_check(&p->in_b) != DFP_OK))
        return DFP_ERR_INVALID_ARGUMENT;
    return dfp_float_format_check(&p->acc);
}

dfp_status dfp_gemm_fpemu(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                          int64_t ldc, const dfp_fpemu_gemm_params *p)
{
    dfp_status st = check_gemm_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, p);
    if (st != DFP_OK || m == 0 || n == 0)
        return st;
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    const int stoch_in = p->in_rounding == DFP_ROUND_STOCHASTIC;
    fpemu_pack pa = {a, lda, trans_a, m, k, kern->mr, &p->in_a, stoch_in,
                     dfp_rng_key(p->seed, p->stream), 0};
    /* op(B) is packed as its transpose: row r of the pack is column r of op(B) */
    fpemu_pack pb = {b, ldb, !trans_b, n, k, kern->nr, &p->in_b, stoch_in,
                     dfp_rng_key(p->seed, p->stream + 1), 1};
    float *ap = NULL, *bp = NULL;
    if ((st = pack_operand(&pa, &ap)) != DFP_OK || (st = pack_operand(&pb, &bp)) != DFP_OK) {
        free(ap);
        return st;
    }
    dfp_fpemu_acc acc = {dfp_fmt_consts_make(&p->acc), p->acc_rounding == DFP_ROUND_STOCHASTIC,
                         p->chunk, dfp_rng_key(p->seed, p->stream + 2),
                         dfp_rng_key(p->seed, p->stream + 3), m};
    run_tiles(m, n, k, ap, bp, c, ldc, &acc);
    free(ap);
    free(bp);
    return DFP_OK;
}
