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
    out->max_abs = m;
    out->sat = sat;
    return DFP_OK;
}

typedef dfp_s16_packed packed_operand;

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

/* One output tile [i0, i0+mc) x [j0, j0+nc): unscaled sums in buf, then epilogue. */
static void compute_tile(const gemm_plan *pl, const packed_operand *pa, const packed_operand *pb,
                         int64_t i0, int64_t j0, float *buf, float sa, float sb, float *c,
                         int64_t ldc, int accumulate)
{
    int64_t mc = min64(pl->mc, pl->m - i0), nc = min64(pl->nc, pl->n - j0);
    int64_t mpan = (mc + pl->mr - 1) / pl->mr, npan = (nc + pl->nr - 1) / pl->nr;
    int64_t ldb = npan * pl->nr;
    dfp_igemm_panels(mpan, npan, pl->kp, pl->chunk, pl->kc,
                     pa->panels + (i0 / pl->mr) * pl->kp * pl->mr * 2,
                     pb->panels + (j0 / pl->nr) * pl->kp * pl->nr * 2, buf, ldb, 0);
    dfp_igemm_epilogue(mc, nc, buf, ldb, sa, sb, c + i0 * ldc + j0, ldc, accumulate);
}

static dfp_status run_tiles(const gemm_plan *pl, const packed_operand *pa, const packed_operand *pb,
                            float sa, float sb, float *c, int64_t ldc, int accumulate)
{
    int64_t ti = (pl->m + pl->mc - 1) / pl->mc, tj = (pl->n + pl->nc - 1) / pl->nc;
    int64_t ntiles = ti * tj;
    size_t buf_floats = (size_t)pl->mc * (size_t)((pl->nc + pl->nr - 1) / pl->nr * pl->nr);
    int failed = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(ntiles)) reduction(| : failed)
    {
        float *buf = aligned_alloc(64, (buf_floats * sizeof(float) + 63) / 64 * 64);
        if (!buf)
            failed = 1;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < ntiles; t++)
            if (buf)
                compute_tile(pl, pa, pb, (t / tj) * pl->mc, (t % tj) * pl->nc, buf, sa, sb, c,
                             ldc, accumulate);
        free(buf);
    }
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}

dfp_status dfp_igemm_run(const dfp_s16_source *a, const dfp_s16_source *b, float scale_a,
                         float scale_b, float *c, int64_t ldc, int accumulate,
                         dfp_gemm_stats *stats)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    gemm_plan pl = {.m = a->rows, .n = b->rows, .kp = (a->k + 1) / 2, .mr = ik->mr, .nr = ik->nr};
    pl.mc = MC_MAX / pl.mr * pl.mr;
    pl.nc = NC_MAX / pl.nr * pl.nr;
    packed_operand pa = {0}, pb = {0};
    dfp_status st = dfp_s16_pack_operand(a, pl.mr, pl.kp, &pa);
    if (st == DFP_OK)
        st = dfp_s16_pack_operand(b, pl.nr, pl.kp, &pb);
    if (st == DFP_OK) {
        /* row sums of the operand with fewer rows: the cheaper pass */
        const dfp_s16_packed *small = pl.m <= pl.n ? &pa : &pb;
        dfp_l1_groups g;
        st = dfp_l1_groups_init(&g, small == &pa ? pl.m : pl.n, (pl.kp + DFP_L1_GROUP - 1) / DFP_L1_GROUP, 0);
        if (st == DFP_OK) {
            dfp_l1_groups_from_panels(small->panels, small->w, pl.kp, &g);
            dfp_igemm_chunking_l1(&g, small == &pa ? pb.max_abs : pa.max_abs, pa.max_abs, pb.max_abs,
                                  &pl.chunk, &pl.kc);
            dfp_l1_groups_free(&g);
        }
        if (pl.kp == 0)
            pl.kc = 1;
        if (st == DFP_OK)
            st = run_tiles(&pl, &pa, &pb, scale_a, scale_b, c, ldc, accumulate);
    }
    if (st == DFP_OK && stats) {
        stats->flushes += pl.m * pl.n * (pl.kp ? dfp_igemm_flushes_per_element(pl.kp, pl.kc, pl.chunk) : 0);
        stats->chunk_len = 2 * min64(pl.chunk, pl.kp);
        stats->saturations += pa.sat + pb.sat;
    }
    dfp_scratch_give(pa.panels);
    dfp_scratch_give(pb.panels);
    return st;
}
