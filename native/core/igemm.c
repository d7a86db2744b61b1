/* Portable blocking loops of the integer GEMM (BLIS-style) and its chunk/flush
 * rule. Both operands are packed whole into VNNI pair-interleaved panels first
 * (in parallel), so their actual maximum magnitudes are known before any
 * product: the chunk length then makes INT32 overflow impossible.
 *
 * Determinism: every output element is computed by one micro-kernel call per KC
 * block, with K-chunk boundaries at fixed multiples of the chunk length and FP32
 * flushes in K order. Threads split output tiles only, so results are identical
 * for every thread count and, the INT32 sums being exact, for every ISA. */
#include "scratch.h"
#include "igemm.h"
#include "kernel_table.h"

#include <stdlib.h>
#include <string.h>

#define MC_MAX 192       /* rows per output tile (multiple of every MR used) */
#define NC_MAX 256       /* columns per output tile */

dfp_status dfp_s16_pack_operand(const dfp_s16_source *src, int w, int64_t kp, dfp_s16_packed *out)
{
    out->w = w;
    out->kp = kp;
    out->npanels = (src->rows + w - 1) / w;
    out->panels = dfp_scratch_take((size_t)(out->npanels * kp * w * 2) * sizeof(int16_t));
    if (!out->panels)
        return DFP_ERR_OUT_OF_MEMORY;
    int32_t m = 0;
    int64_t sat = 0;
#pragma omp parallel for schedule(static) reduction(max : m) reduction(+ : sat) \
    num_threads(dfp_threads_for_work(out->npanels))
    for (int64_t p = 0; p < out->npanels; p++) {
        int64_t r0 = p * w, rows = src->rows - r0 < w ? src->rows - r0 : w;
        int32_t pm = src->pack(src, r0, rows, w, kp, out->panels + p * kp * w * 2, &sat);
        m = pm > m ? pm : m;
    }
    out->max_abs = src->code_max_known ? src->code_max : m;
    out->sat = sat;
    return DFP_OK;
}

/* An operand as the micro-kernels read it: packed panels, or (A only, panels ==
 * NULL) int16 rows read in place, row r at rows + r * ld: the caller's, or rows
 * quantised from FP32 into `owned` (scratch, given back after the run). */
typedef struct packed_operand {
    dfp_s16_packed p;
    const int16_t *rows;
    int64_t ld;
    int16_t *owned;
} packed_operand;

typedef struct gemm_plan {
    int64_t m, n, kp, chunk, kc;
    int mr, nr, mc, nc;
} gemm_plan;

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

void dfp_igemm_panels(int64_t mpan, int64_t npan, int64_t kp, int64_t chunk, int64_t kc,
                      const int16_t *a, const int16_t *b, float *sums, int64_t ldb, int accumulate)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const dfp_igemm_s16_fn ukr = ik->igemm_s16;
    const int mr = ik->mr, nr = ik->nr;
    if (kp == 0) {
        if (!accumulate)
            for (int64_t i = 0; i < mpan * mr; i++)
                memset(sums + i * ldb, 0, (size_t)(npan * nr) * sizeof(float));
        return;
    }
    for (int64_t p0 = 0; p0 < kp; p0 += kc) {
        int64_t kcb = min64(kc, kp - p0);
        for (int64_t jp = 0; jp < npan; jp++) {
            const int16_t *bp = b + (jp * kp + p0) * nr * 2;
            for (int64_t ip = 0; ip < mpan; ip++) {
                const int16_t *ap = a + (ip * kp + p0) * mr * 2;
                ukr(kcb, chunk, ap, bp, sums + ip * mr * ldb + jp * nr, ldb, accumulate || p0 > 0);
            }
        }
    }
}

void dfp_igemm_epilogue(int64_t m, int64_t n, const float *sums, int64_t ldb, float sa, float sb,
                        float *c, int64_t ldc, int accumulate)
{
    const dfp_scale_row_fn row = dfp_kernels()->integer.scale_row;
    for (int64_t i = 0; i < m; i++)
        row(sums + i * ldb, n, sa, sb, c + i * ldc, accumulate);
}

/* dfp_igemm_panels with A read in place: rows [i0, i0 + mpan * mr) of pa (rows
 * past m repeat row m - 1; their sums are never read). Same order of calls. */
static void panels_arows(const gemm_plan *pl, const packed_operand *pa, int64_t i0, int64_t mpan,
                         int64_t npan, const int16_t *b, float *sums, int64_t ldb)
{
    const dfp_igemm_s16_arows_fn ukr = dfp_kernels()->integer.igemm_s16_arows;
    const int mr = pl->mr, nr = pl->nr;
    for (int64_t p0 = 0; p0 < pl->kp; p0 += pl->kc) {
        int64_t kcb = min64(pl->kc, pl->kp - p0);
        for (int64_t jp = 0; jp < npan; jp++)
            for (int64_t ip = 0; ip < mpan; ip++) {
                const int16_t *rows[DFP_IGEMM_MAX_W];
                for (int i = 0; i < mr; i++)
                    rows[i] = pa->rows + min64(i0 + ip * mr + i, pl->m - 1) * pa->ld + 2 * p0;
                ukr(kcb, pl->chunk, rows, b + (jp * pl->kp + p0) * nr * 2, sums + ip * mr * ldb + jp * nr,
                    ldb, p0 > 0);
            }
    }
}

/* One output tile [i0, i0+mc) x [j0, j0+nc): unscaled sums in buf, then epilogue. */
static void compute_tile(const gemm_plan *pl, const packed_operand *pa, const packed_operand *pb,
                         int64_t i0, int64_t mc, int64_t j0, int64_t nc, float *buf, float sa, float sb,
                         float *c, int64_t ldc, int accumulate)
{
    int64_t mpan = (mc + pl->mr - 1) / pl->mr, npan = (nc + pl->nr - 1) / pl->nr;
    int64_t ldb = npan * pl->nr;
    const int16_t *bp = pb->p.panels + (j0 / pl->nr) * pl->kp * pl->nr * 2;
    if (!pa->p.panels && pl->kp > 0)
        panels_arows(pl, pa, i0, mpan, npan, bp, buf, ldb);
    else
        dfp_igemm_panels(mpan, npan, pl->kp, pl->chunk, pl->kc,
                         pa->p.panels + (i0 / pl->mr) * pl->kp * pl->mr * 2, bp, buf, ldb, 0);
    dfp_igemm_epilogue(mc, nc, buf, ldb, sa, sb, c + i0 * ldc + j0, ldc, accumulate);
}

static dfp_status run_tiles(const gemm_plan *pl, const packed_operand *pa, const packed_operand *pb,
                            float sa, float sb, float *c, int64_t ldc, int accumulate)
{
    /* Tiles of as equal a number of register panels as the counts allow (the
     * last tile of MC_MAX-row tiles was a third of the others: 1024 rows made
     * 5 + 1/3 tiles, and one thread of two ran a tenth longer). Tiling never
     * changes a result: every element's K loop is the same. */
    const int64_t pm = (pl->m + pl->mr - 1) / pl->mr, pn = (pl->n + pl->nr - 1) / pl->nr;
    const int64_t ti = (pl->m + pl->mc - 1) / pl->mc, tj = (pl->n + pl->nc - 1) / pl->nc;
    const int64_t ntiles = ti * tj;
    size_t buf_floats = (size_t)pl->mc * (size_t)((pl->nc + pl->nr - 1) / pl->nr * pl->nr);
    int failed = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(ntiles)) reduction(| : failed)
    {
        float *buf = aligned_alloc(64, (buf_floats * sizeof(float) + 63) / 64 * 64);
        if (!buf)
            failed = 1;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < ntiles; t++) {
            const int64_t a0 = pm * (t / tj) / ti * pl->mr, a1 = pm * (t / tj + 1) / ti * pl->mr;
            const int64_t b0 = pn * (t % tj) / tj * pl->nr, b1 = pn * (t % tj + 1) / tj * pl->nr;
            if (buf)
                compute_tile(pl, pa, pb, a0, min64(a1, pl->m) - a0, b0, min64(b1, pl->n) - b0, buf, sa,
                             sb, c, ldc, accumulate);
        }
        free(buf);
    }
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}

/* Widest B (columns) for which A is read in place: at N = 256 both ways ran
 * alike; at N = 1024 the packed panels ran 4-6% faster (one contiguous stream
 * for the broadcasts instead of eight rows) and the copy is cheap against N
 * columns of products. */
#define A_IN_PLACE_MAX_N 256

/* Whether the ISA can read A's rows in place for B n columns wide: K-contiguous
 * rows with their K pairs adjacent (K even). */
static int a_rows_readable(const dfp_s16_source *a, int64_t n, const dfp_int_kernels *ik)
{
    return ik->igemm_s16_arows && ik->mr <= DFP_IGEMM_MAX_W && a->k_contiguous && a->k % 2 == 0 &&
           a->k > 0 && a->rows > 0 && n <= A_IN_PLACE_MAX_N;
}

static void set_rows(const dfp_int_kernels *ik, const int16_t *rows, int64_t ld, int64_t k, int32_t max_abs,
                     packed_operand *pa)
{
    pa->rows = rows;
    pa->ld = ld;
    pa->p.max_abs = max_abs;
    pa->p.w = ik->mr;
    pa->p.kp = k / 2;
}

/* A int16 source whose rows are readable (a_rows_readable) is read in place
 * where no value needs the packer's -32768 clamp: its maximum (a read-only pass)
 * instead of a packed copy, which for operands used by few columns (N = 64) cost
 * as much as the products. Returns 0 when A must be packed. */
static int a_in_place(const dfp_s16_source *a, int64_t n, const dfp_int_kernels *ik, packed_operand *pa)
{
    if (a->pack != dfp_pack_s16_from_s16 || !a_rows_readable(a, n, ik))
        return 0;
    const int16_t *data = a->data;
    int32_t m = 0;
#pragma omp parallel for schedule(static) reduction(max : m) \
    num_threads(dfp_threads_for_work(a->rows * a->k / 65536))
    for (int64_t r = 0; r < a->rows; r++) {
        int32_t rm = ik->absmax_s16(data + r * a->ld, a->k, 0);
        m = rm > m ? rm : m;
    }
    if (m > 32767)
        return 0;
    set_rows(ik, data, a->ld, a->k, m, pa);
    return 1;
}

/* The same for an FP32 A: quantised row by row into int16 rows of its own (the
 * packer's codes: a row's stochastic indices start at r * k as the packer's
 * runs do; never -32768), then read in place. Skips the 8-row transposes into
 * panels: for 16384 x 64 x 576, 12% of the GEMM's time. Returns 0 where A must
 * be packed (also when the scratch is not there: packing then reports it). */
static int a_quantised_rows(const dfp_s16_source *a, int64_t n, const dfp_int_kernels *ik, packed_operand *pa)
{
    if (a->pack != dfp_pack_s16_from_f32 || !a_rows_readable(a, n, ik))
        return 0;
    int16_t *q = dfp_scratch_take((size_t)(a->rows * a->k) * sizeof(int16_t));
    if (!q)
        return 0;
    const float *x = a->data;
    int32_t m = 0;
    int64_t sat = 0;
#pragma omp parallel for schedule(static) reduction(max : m) reduction(+ : sat) \
    num_threads(dfp_threads_for_work(a->rows * a->k / 65536))
    for (int64_t r = 0; r < a->rows; r++) {
        dfp_quant_run run = a->quant;
        run.index0 = (uint64_t)(r * a->k);
        sat += ik->quantize_s16(x + r * a->ld, a->k, &run, q + r * a->k);
        int32_t rm = a->code_max_known ? 0 : ik->absmax_s16(q + r * a->k, a->k, 0);
        m = rm > m ? rm : m;
    }
    set_rows(ik, q, a->k, a->k, a->code_max_known ? a->code_max : m, pa);
    pa->p.sat = sat;
    pa->owned = q;
    return 1;
}

/* A's int16 rows, K pairs adjacent, when packing changed no value (no -32768
 * clamped); else NULL. */
static const int16_t *a_rows_unclamped(const dfp_s16_source *a, const dfp_s16_packed *packed)
{
    return a->pack == dfp_pack_s16_from_s16 && a->k_contiguous && a->k % 2 == 0 && packed->sat == 0
               ? (const int16_t *)a->data
               : NULL;
}

/* pl->chunk and pl->kc from the row sums of the operand with fewer rows (the
 * cheaper pass) and the other's maximum. */
static dfp_status plan_chunks(gemm_plan *pl, const dfp_s16_source *a, const packed_operand *pa,
                              const packed_operand *pb)
{
    const int use_a = pl->m <= pl->n;
    dfp_l1_groups g;
    dfp_status st = dfp_l1_groups_init(&g, use_a ? pl->m : pl->n, (pl->kp + DFP_L1_GROUP - 1) / DFP_L1_GROUP, 0);
    if (st != DFP_OK)
        return st;
    /* from int16 rows where A has them: the SIMD kernel on contiguous K (the
     * panels' sums are a strided scalar loop); packed rows must not have been
     * clamped, so the sums are those of the packed values */
    const int16_t *arows = pa->p.panels ? a_rows_unclamped(a, &pa->p) : pa->rows;
    if (use_a && arows) {
        const int64_t ld = pa->p.panels ? a->ld : pa->ld;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(pl->m * pl->kp / 65536))
        for (int64_t r = 0; r < pl->m; r++) /* each row its own sums: any split gives the same */
            dfp_l1_groups_add_run(arows + r * ld, pl->kp, 0, g.sum + r * g.ngroups);
    } else {
        dfp_l1_groups_from_panels(use_a ? pa->p.panels : pb->p.panels, use_a ? pl->mr : pl->nr, pl->kp, &g);
    }
    dfp_igemm_chunking_l1(&g, use_a ? pb->p.max_abs : pa->p.max_abs, pa->p.max_abs, pb->p.max_abs, &pl->chunk,
                          &pl->kc);
    dfp_l1_groups_free(&g);
    if (pl->kp == 0)
        pl->kc = 1;
    return DFP_OK;
}

dfp_status dfp_igemm_run(const dfp_s16_source *a, const dfp_s16_source *b, float scale_a,
                         float scale_b, float *c, int64_t ldc, int accumulate,
                         dfp_gemm_stats *stats)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    gemm_plan pl = {.m = a->rows, .n = b->rows, .kp = (a->k + 1) / 2, .mr = ik->mr, .nr = ik->nr};
    pl.mc = MC_MAX / pl.mr * pl.mr;
    pl.nc = NC_MAX / pl.nr * pl.nr;
    packed_operand pa = {.rows = NULL, .owned = NULL}, pb = {.rows = NULL, .owned = NULL};
    dfp_status st = DFP_OK;
    if (!a_in_place(a, b->rows, ik, &pa) && !a_quantised_rows(a, b->rows, ik, &pa))
        st = dfp_s16_pack_operand(a, pl.mr, pl.kp, &pa.p);
    if (st == DFP_OK)
        st = dfp_s16_pack_operand(b, pl.nr, pl.kp, &pb.p);
    if (st == DFP_OK)
        st = plan_chunks(&pl, a, &pa, &pb);
    if (st == DFP_OK)
        st = run_tiles(&pl, &pa, &pb, scale_a, scale_b, c, ldc, accumulate);
    if (st == DFP_OK && stats) {
        stats->flushes += pl.m * pl.n * (pl.kp ? dfp_igemm_flushes_per_element(pl.kp, pl.kc, pl.chunk) : 0);
        stats->chunk_len = 2 * min64(pl.chunk, pl.kp);
        stats->saturations += pa.p.sat + pb.p.sat;
    }
    dfp_scratch_give(pa.p.panels);
    dfp_scratch_give(pa.owned);
    dfp_scratch_give(pb.p.panels);
    return st;
}
