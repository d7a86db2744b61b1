/* Block floating point GEMM (HBFP, MXINT): C = A @ B^T from the quantiser's
 * mantissas and per-(row, block) scale exponents of both operands (blocks along
 * K). Per output element and block the integer dot product is exact; it is
 * converted to FP32, scaled by 2^(sa + sb) and added into an FP32 total in block
 * order: the arithmetic of formats.hbfp.gemm_reference, bit for bit.
 *
 * The block sums come from the integer GEMM's micro-kernels (int_kernels.h) on
 * VNNI pair-interleaved panels, one K chunk per block, so HBFP runs on the same
 * vpdpwssd / vpmaddwd code as DFP16; only the flush differs: each block's tile
 * of INT32 sums is scaled per (row, column) before it joins the FP32 total.
 * Operands whose block sums could leave INT32 (wide mantissas, huge blocks) or
 * whose block is odd (a K pair would straddle two blocks) take the portable
 * loop below, which sums in INT64 where needed.
 * Contract: dfpengine.h, dfp_gemm_bfp. */
#include "scratch.h"
#include "bfp_gemm.h"
#include "bfp_pack.h"
#include "bfp_quantize.h"
#include "igemm.h"
#include "kernel_table.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MC_MAX 192 /* output tile rows (a multiple of every MR) */
#define NC_MAX 256 /* output tile columns */

/* ---- portable path: any block, block sums in INT64 when INT32 could overflow ---- */

static int32_t dot32(const int16_t *a, const int16_t *b, int64_t len)
{
    int32_t s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t t = 0; t < len; t++)
        s += (int32_t)a[t] * (int32_t)b[t];
    return s;
}

static int64_t dot64(const int16_t *a, const int16_t *b, int64_t len)
{
    int64_t s = 0;
    for (int64_t t = 0; t < len; t++)
        s += (int64_t)a[t] * (int64_t)b[t];
    return s;
}

static void gemm_bfp_portable(int64_t m, int64_t n, int64_t k, int block, const int16_t *ka,
                              const int32_t *sa, const int16_t *kb, const int32_t *sb, float *c,
                              int64_t ldc, int wide)
{
    const int64_t nb = (k + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(m * n * k / 65536))
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int64_t t0 = b * block, len = k - t0 < block ? k - t0 : block;
                const int16_t *pa = ka + i * k + t0, *pb = kb + j * k + t0;
                float sum = wide ? (float)dot64(pa, pb, len) : (float)dot32(pa, pb, len);
                acc += dfp_scale_pow2(sum, sa[i * nb + b] + sb[j * nb + b]);
            }
            c[i * ldc + j] = acc;
        }
}

/* ---- integer micro-kernel path ---- */

typedef struct bfp_plan {
    int64_t m, n, nb, kp, block_pairs;
    int mr, nr, mc, nc;
    int transposed;           /* operands swapped: the tile holds C^T */
    int accumulate;           /* the totals start from c (a K slice continuing a sum) */
    const int32_t *sa, *sb;
    dfp_s16_packed pa, pb;
} bfp_plan;

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Output tile [i0, i0 + mc) x [j0, j0 + nc): block by block, the micro-kernel
 * writes each mr x nr sub-tile's exact block sums into blk, which is scaled and
 * added into the tile's FP32 totals: c itself (its first block added to +0),
 * or for a transposed c the buffer tot (ld ldt), copied out at the end. */
static void bfp_tile(const bfp_plan *pl, int64_t i0, int64_t j0, float *tot, float *blk,
                     int32_t *eb, float *c, int64_t ldc)
{
    const dfp_igemm_s16_fn ukr = dfp_kernels()->integer.igemm_s16;
    const dfp_bfp_scale_add_fn scale_add = dfp_kernels()->emu.bfp_scale_add;
    const int mr = pl->mr, nr = pl->nr;
    const int64_t mc = min64(pl->mc, pl->m - i0), nc = min64(pl->nc, pl->n - j0);
    const int64_t mpan = (mc + mr - 1) / mr, npan = (nc + nr - 1) / nr;
    const int64_t kp = pl->kp;
    float *t0 = c + i0 * ldc + j0;
    int64_t ldt = ldc;
    if (pl->transposed) {
        t0 = tot, ldt = npan * nr;
        if (pl->accumulate)
            for (int64_t j = 0; j < nc; j++)
                for (int64_t i = 0; i < mc; i++)
                    tot[i * ldt + j] = c[(j0 + j) * ldc + i0 + i];
    }
    const dfp_igemm_s16_bfp_fn fused = dfp_kernels()->integer.igemm_s16_bfp;
    int32_t ea[DFP_IGEMM_MAX_W];
    for (int64_t b = 0; b < pl->nb; b++) {
        const int64_t p0 = b * pl->block_pairs, len = min64(pl->block_pairs, kp - p0);
        const int first = b == 0 && !pl->accumulate;
        int32_t eb_min = INT32_MAX, eb_max = INT32_MIN;
        for (int64_t j = 0; j < nc; j++) {
            eb[j] = pl->sb[(j0 + j) * pl->nb + b];
            eb_min = eb[j] < eb_min ? eb[j] : eb_min;
            eb_max = eb[j] > eb_max ? eb[j] : eb_max;
        }
        for (int64_t ip = 0; ip < mpan; ip++) {
            const int16_t *ap = pl->pa.panels + ((i0 / mr + ip) * kp + p0) * mr * 2;
            const int64_t rows = min64(mr, mc - ip * mr);
            /* full tiles whose scales are all normal floats take the fused kernel */
            int normal = fused && rows == mr;
            for (int64_t i = 0; i < rows; i++) {
                ea[i] = pl->sa[(i0 + ip * mr + i) * pl->nb + b];
                normal &= ea[i] + eb_min >= -126 && ea[i] + eb_max <= 127;
            }
            for (int64_t jp = 0; jp < npan; jp++) {
                const int16_t *bp = pl->pb.panels + ((j0 / nr + jp) * kp + p0) * nr * 2;
                const int64_t cols = min64(nr, nc - jp * nr);
                float *t = t0 + ip * mr * ldt + jp * nr;
                if (normal && cols == nr) {
                    fused(len, ap, bp, ea, eb + jp * nr, t, ldt, first);
                } else {
                    ukr(len, len, ap, bp, blk, nr, 0);
                    scale_add(blk, nr, ea, 1, eb + jp * nr, rows, cols, t, ldt, first);
                }
            }
        }
    }
    if (pl->transposed)
        for (int64_t j = 0; j < nc; j++)
            for (int64_t i = 0; i < mc; i++)
                c[(j0 + j) * ldc + i0 + i] = tot[i * ldt + j];
}

static dfp_status gemm_bfp_integer(const bfp_plan *pl, float *c, int64_t ldc)
{
    const int64_t ti = (pl->m + pl->mc - 1) / pl->mc, tj = (pl->n + pl->nc - 1) / pl->nc;
    const int64_t ntiles = ti * tj;
    const size_t tot_floats = (size_t)pl->mc * (size_t)((pl->nc + pl->nr - 1) / pl->nr * pl->nr);
    int failed = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(ntiles)) reduction(| : failed)
    {
        /* the totals of a transposed C only; others sum in C itself */
        float *tot = pl->transposed ? aligned_alloc(64, (tot_floats * sizeof(float) + 63) / 64 * 64) : NULL;
        float *blk = aligned_alloc(64, ((size_t)pl->mr * pl->nr * sizeof(float) + 63) / 64 * 64);
        int32_t *eb = malloc((size_t)(pl->nc + pl->nr) * sizeof(int32_t));
        if ((pl->transposed && !tot) || !blk || !eb)
            failed = 1;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < ntiles; t++)
            if (!failed)
                bfp_tile(pl, (t / tj) * pl->mc, (t % tj) * pl->nc, tot, blk, eb, c, ldc);
        free(tot);
        free(blk);
        free(eb);
    }
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}

/* C^T = B A^T takes the same products, scales and additions (bit-identical);
 * swap when the padding of m to MR and n to NR wastes less that way, as for
 * conv GEMMs with 16 output channels against NR = 32. */
static int swap_operands(int64_t m, int64_t n)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const int64_t mr = ik->mr, nr = ik->nr;
    const int64_t pad_ab = (m + mr - 1) / mr * mr * ((n + nr - 1) / nr * nr);
    const int64_t pad_ba = (n + mr - 1) / mr * mr * ((m + nr - 1) / nr * nr);
    return pad_ba < pad_ab;
}

/* The plan of an m x n x k product (operands already in their swapped order)
 * with the current ISA's register block; the panels are packed by the caller. */
static bfp_plan make_plan(int64_t m, int64_t n, int64_t k, int block, int transposed,
                          const int32_t *sa, const int32_t *sb)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    bfp_plan pl = {.m = m, .n = n, .nb = (k + block - 1) / block, .kp = (k + 1) / 2,
                   .block_pairs = block / 2, .mr = ik->mr, .nr = ik->nr,
                   .transposed = transposed, .sa = sa, .sb = sb};
    pl.mc = MC_MAX / pl.mr * pl.mr;
    pl.nc = NC_MAX / pl.nr * pl.nr;
    /* about two tiles per thread where the shape allows (narrower tiles first):
     * a 16 x 144 wtgrad product was one tile, so one thread. Tiles only split
     * the output; every element keeps its block order. */
    const int64_t want = 2 * (int64_t)dfp_threads_for_work(INT64_MAX);
    while (((m + pl.mc - 1) / pl.mc) * ((n + pl.nc - 1) / pl.nc) < want && pl.nc > pl.nr &&
           n > pl.nc / 2)
        pl.nc = (pl.nc / 2 + pl.nr - 1) / pl.nr * pl.nr;
    return pl;
}

/* The product of packed operands (A's panels mr wide, B's nr wide). */
static dfp_status gemm_bfp_planned(int64_t m, int64_t n, int64_t k, int block, int transposed,
                                   const dfp_s16_packed *pa, const int32_t *sa,
                                   const dfp_s16_packed *pb, const int32_t *sb, float *c,
                                   int64_t ldc, int accumulate)
{
    bfp_plan pl = make_plan(m, n, k, block, transposed, sa, sb);
    pl.pa = *pa;
    pl.pb = *pb;
    pl.accumulate = accumulate;
    return gemm_bfp_integer(&pl, c, ldc);
}

static void zero_rows(float *c, int64_t m, int64_t n, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        memset(c + i * ldc, 0, (size_t)n * sizeof(float));
}

dfp_status dfp_gemm_bfp(int64_t m, int64_t n, int64_t k, int block, const int16_t *ka,
                        const int32_t *sa, const int16_t *kb, const int32_t *sb, float *c,
                        int64_t ldc)
{
    if (m < 0 || n < 0 || k < 0 || block < 1 || ldc < (n > 1 ? n : 1))
        return DFP_ERR_INVALID_SHAPE;
    if (m * n > 0 && (!c || (k > 0 && (!ka || !sa || !kb || !sb))))
        return DFP_ERR_NULL_POINTER;
    if (m * n == 0)
        return DFP_OK;
    if (k == 0) {
        zero_rows(c, m, n, ldc);
        return DFP_OK;
    }
    const int32_t max_a = dfp_absmax_s16(ka, m * k), max_b = dfp_absmax_s16(kb, n * k);
    /* the micro-kernels take |values| <= 32767 and sum one block in INT32 */
    const int int32_blocks = (double)block * max_a * max_b <= 2147483647.0;
    if (block % 2 || max_a > 32767 || max_b > 32767 || !int32_blocks) {
        gemm_bfp_portable(m, n, k, block, ka, sa, kb, sb, c, ldc, !int32_blocks);
        return DFP_OK;
    }
    const int swap = swap_operands(m, n);
    if (swap) {
        const int16_t *kt = ka;
        const int32_t *st = sa;
        int64_t t = m;
        ka = kb, kb = kt, sa = sb, sb = st, m = n, n = t;
    }
    bfp_plan pl = make_plan(m, n, k, block, swap, sa, sb);
    dfp_s16_source src_a = {.pack = dfp_pack_s16_from_s16, .data = ka, .ld = k,
                            .k_contiguous = 1, .rows = m, .k = k};
    dfp_s16_source src_b = src_a;
    src_b.data = kb;
    src_b.rows = n;
    dfp_status st = dfp_s16_pack_operand(&src_a, pl.mr, pl.kp, &pl.pa);
    if (st == DFP_OK)
        st = dfp_s16_pack_operand(&src_b, pl.nr, pl.kp, &pl.pb);
    if (st == DFP_OK)
        st = gemm_bfp_integer(&pl, c, ldc);
    dfp_scratch_give(pl.pa.panels);
    dfp_scratch_give(pl.pb.panels);
    return st;
}

/* ---- FP32 operands, quantised while packed ---- */

int dfp_gemm_bfp_on_integers(int block, int mag_bits_a, int mag_bits_b)
{
    const double bound = (double)block * ((1 << mag_bits_a) - 1) * ((1 << mag_bits_b) - 1);
    return block % 2 == 0 && bound <= 2147483647.0;
}

static dfp_status check_operand(const dfp_bfp_operand *op, int64_t rows, int64_t k)
{
    dfp_status st = dfp_bfp_check_args(op->x, rows, k, k > 1 ? k : 1, op->block, op->mag_bits,
                                       op->rounding);
    if (st != DFP_OK || rows * k == 0)
        return st;
    if (op->k_stride == 1 && (rows == 1 || op->row_stride >= k))
        return DFP_OK;
    if (op->row_stride == 1 && (k == 1 || op->k_stride >= rows))
        return DFP_OK;
    return DFP_ERR_INVALID_SHAPE;
}

/* Dense codes of one operand (the general path's input). */
static dfp_status quantize_dense(const dfp_bfp_operand *op, int64_t rows, int64_t k, int16_t *mant,
                                 int32_t *exps)
{
    if (op->k_stride == 1)
        return dfp_bfp_quantize(op->x, rows, k, rows == 1 ? (k > 1 ? k : 1) : op->row_stride,
                                op->block, op->mag_bits, op->floor_exponent, op->rounding, op->seed,
                                op->stream, mant, exps, NULL);
    return dfp_bfp_quantize_transposed(op->x, rows, k, op->k_stride, op->block, op->mag_bits,
                                       op->floor_exponent, op->rounding, op->seed, op->stream, mant,
                                       exps, NULL);
}

static dfp_status gemm_bfp_f32_dense(int64_t m, int64_t n, int64_t k, const dfp_bfp_operand *a,
                                     const dfp_bfp_operand *b, float *c, int64_t ldc)
{
    const int64_t nb = (k + a->block - 1) / a->block;
    int16_t *ka = malloc((size_t)(m * k) * sizeof(int16_t)), *kb = malloc((size_t)(n * k) * sizeof(int16_t));
    int32_t *sa = malloc((size_t)(m * nb) * sizeof(int32_t)), *sb = malloc((size_t)(n * nb) * sizeof(int32_t));
    dfp_status st = ka && kb && sa && sb ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
    if (st == DFP_OK)
        st = quantize_dense(a, m, k, ka, sa);
    if (st == DFP_OK)
        st = quantize_dense(b, n, k, kb, sb);
    if (st == DFP_OK)
        st = dfp_gemm_bfp(m, n, k, a->block, ka, sa, kb, sb, c, ldc);
    free(ka);
    free(kb);
    free(sa);
    free(sb);
    return st;
}

dfp_status dfp_gemm_bfp_f32(int64_t m, int64_t n, int64_t k, const dfp_bfp_operand *a,
                            const dfp_bfp_operand *b, float *c, int64_t ldc)
{
    return dfp_gemm_bfp_f32_at(m, n, k, a, NULL, b, NULL, c, ldc, 0);
}

dfp_status dfp_gemm_bfp_f32_at(int64_t m, int64_t n, int64_t k, const dfp_bfp_operand *a,
                               const dfp_bfp_origin *oa, const dfp_bfp_operand *b,
                               const dfp_bfp_origin *ob, float *c, int64_t ldc, int accumulate)
{
    if (!a || !b)
        return DFP_ERR_NULL_POINTER;
    if (m < 0 || n < 0 || k < 0 || ldc < (n > 1 ? n : 1))
        return DFP_ERR_INVALID_SHAPE;
    if (a->block != b->block)
        return DFP_ERR_INVALID_ARGUMENT;
    dfp_status st = check_operand(a, m, k);
    if (st == DFP_OK)
        st = check_operand(b, n, k);
    if (st != DFP_OK || m * n == 0)
        return st;
    if (!c)
        return DFP_ERR_NULL_POINTER;
    if (k == 0) {
        if (!accumulate)
            zero_rows(c, m, n, ldc);
        return DFP_OK;
    }
    const int block = a->block;
    if (!dfp_gemm_bfp_on_integers(block, a->mag_bits, b->mag_bits)) {
        if (oa || ob || accumulate) /* the dense path quantises whole operands from zero */
            return DFP_ERR_INVALID_ARGUMENT;
        return gemm_bfp_f32_dense(m, n, k, a, b, c, ldc);
    }
    const int swap = swap_operands(m, n);
    if (swap) {
        const dfp_bfp_operand *t = a;
        const dfp_bfp_origin *to = oa;
        int64_t r = m;
        a = b, b = t, oa = ob, ob = to, m = n, n = r;
    }
    const int64_t nb = (k + block - 1) / block;
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    int32_t *sa = malloc((size_t)(m * nb) * sizeof(int32_t)), *sb = malloc((size_t)(n * nb) * sizeof(int32_t));
    dfp_s16_packed pa = {0}, pb = {0};
    st = sa && sb ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
    if (st == DFP_OK)
        st = dfp_bfp_pack_operand(a, oa, m, k, ik->mr, &pa, sa);
    if (st == DFP_OK)
        st = dfp_bfp_pack_operand(b, ob, n, k, ik->nr, &pb, sb);
    if (st == DFP_OK)
        st = gemm_bfp_planned(m, n, k, block, swap, &pa, sa, &pb, sb, c, ldc, accumulate);
    dfp_scratch_give(pa.panels);
    dfp_scratch_give(pb.panels);
    free(sa);
    free(sb);
    return st;
}

dfp_status dfp_gemm_bfp_packed(int64_t m, int64_t n, int64_t k, int block, const dfp_s16_packed *pa,
                               const int32_t *sa, const dfp_s16_packed *pb, const int32_t *sb,
                               float *c, int64_t ldc, int accumulate)
{
    return gemm_bfp_planned(m, n, k, block, 0, pa, sa, pb, sb, c, ldc, accumulate);
}
