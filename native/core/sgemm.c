/* SGEMM: portable BLIS-style blocking (NC -> KC -> MC -> NR -> MR) around the
 * table's register-blocked micro-kernel, plus the public dfp_sgemm.
 *
 * Threading: the C matrix is split into contiguous slabs along M (or along N
 * when N is the larger side), one per thread; each thread packs its own
 * operands, so threads never synchronise. The split side is chosen so the
 * duplicated packing (the other operand, once per thread) is the smaller one. */
#include "sgemm.h"
#include "kernel_table.h"
#include "pack_f32.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Fewer multiply-adds than this per thread and a second thread costs more than it saves. */
#define DFP_SGEMM_MIN_MACS_PER_THREAD (1 << 17)

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
static inline float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* The narrow kernel wins when the whole N fits one of its panels; the short
 * one when rounding m up to its MR wastes clearly less than the main MR does
 * (m = 16, 32, 64 channels against MR = 14). */
static inline const dfp_sgemm_ukernel *pick_kernel(int64_t m, int64_t n)
{
    const dfp_fp32_kernels *k = &dfp_kernels()->fp32;
    if (n <= k->sgemm_narrow.nr)
        return &k->sgemm_narrow;
    int64_t main_rows = round_up(m, k->sgemm.mr), short_rows = round_up(m, k->sgemm_short.mr);
    return 10 * short_rows < 9 * main_rows ? &k->sgemm_short : &k->sgemm;
}

dfp_sgemm_args dfp_sgemm_make_args(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                   float alpha, const float *a, int64_t lda, const float *b,
                                   int64_t ldb, float beta, float *c, int64_t ldc)
{
    dfp_sgemm_args g = {m, n, k, alpha, beta, a, lda, 1, b, ldb, 1, c, ldc};
    if (trans_a) {
        g.rsa = 1;
        g.csa = lda;
    }
    if (trans_b) {
        g.rsb = 1;
        g.csb = ldb;
    }
    return g;
}

size_t dfp_sgemm_workspace_floats(int64_t m, int64_t n, int64_t k)
{
    int64_t kc = min64(DFP_SGEMM_KC, k > 0 ? k : 1);
    /* panels are padded to MR/NR of whichever kernel runs: bound by the largest */
    int64_t mc = min64(DFP_SGEMM_MC, m + DFP_SGEMM_MAX_MR);
    int64_t nc = min64(DFP_SGEMM_NC, n + DFP_SGEMM_MAX_NR);
    /* packed A, packed B, one scratch tile for edges; 16-float alignment slack */
    return (size_t)(mc * kc + kc * nc + DFP_SGEMM_MAX_MR * DFP_SGEMM_MAX_NR + 3 * 16);
}


/* C = beta * C (k == 0); beta == 0 writes zeros without reading C. */
static void scale_c(const dfp_sgemm_args *g)
{
    for (int64_t i = 0; i < g->m; i++) {
        float *row = g->c + i * g->ldc;
        if (g->beta == 0.0f)
            memset(row, 0, (size_t)g->n * sizeof(float));
        else
            for (int64_t j = 0; j < g->n; j++)
                row[j] *= g->beta;
    }
}

/* An edge tile: the kernel writes a full tile into scratch, then the valid
 * rows x cols part is merged into C with beta. */
static inline void edge_tile(const dfp_sgemm_ukernel *uk, int64_t kc, const float *ap,
                             const float *bp, float *c, int64_t ldc, int rows, int cols,
                             float alpha, float beta, float *scratch)
{
    uk->fn(kc, ap, bp, scratch, uk->nr, alpha, 0.0f);
    for (int i = 0; i < rows; i++) {
        const float *t = scratch + i * uk->nr;
        float *ci = c + i * ldc;
        for (int j = 0; j < cols; j++)
            ci[j] = beta == 0.0f ? t[j] : t[j] + beta * ci[j];
    }
}

/* Macro-kernel: every MR x NR tile of an mc x nc block of C from packed
 * panels, consecutive A panels a_step floats apart and B panels b_step. */
static void macro_kernel(const dfp_sgemm_ukernel *uk, int64_t mc, int64_t nc, int64_t kc,
                         const float *ap, int64_t a_step, const float *bp, int64_t b_step, float *c,
                         int64_t ldc, float alpha, float beta, float *scratch)
{
    const int mr = uk->mr, nr = uk->nr;
    for (int64_t jr = 0; jr < nc; jr += nr) {
        int cols = (int)min64(nr, nc - jr);
        const float *b_panel = bp + jr / nr * b_step;
        for (int64_t ir = 0; ir < mc; ir += mr) {
            int rows = (int)min64(mr, mc - ir);
            const float *a_panel = ap + ir / mr * a_step;
            float *cij = c + ir * ldc + jr;
            if (rows == mr && cols == nr)
                uk->fn(kc, a_panel, b_panel, cij, ldc, alpha, beta);
            else
                edge_tile(uk, kc, a_panel, b_panel, cij, ldc, rows, cols, alpha, beta, scratch);
        }
    }
}

/* The direct-A kernel for this problem, or NULL: A must be row-major (unit
 * column stride) and N small enough that packed A would be reused little. */
static inline const dfp_sgemm_ukernel_da *pick_direct(const dfp_sgemm_args *g)
{
    const dfp_fp32_kernels *k = &dfp_kernels()->fp32;
    if (g->csa != 1 || g->n > DFP_SGEMM_DIRECT_MAX_N)
        return NULL;
    const dfp_sgemm_ukernel_da *d = g->n <= k->sgemm_direct_narrow.nr ? &k->sgemm_direct_narrow
                                                                      : &k->sgemm_direct;
    return d->fn ? d : NULL;
}

/* Ask for the next row panel of A while this one is multiplied: when A is read
 * in place, N is small and each A line is used for only a few FMAs. */
static inline void prefetch_rows(const float *a, int64_t rows, int64_t kc, int64_t lda)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t p = 0; p < kc; p += 16)
            __builtin_prefetch(a + i * lda + p);
}

/* Direct-A macro-kernel: A rows read in place; a partial row panel is copied
 * zero-padded into `ap` (MR x kc, row stride kc) first. */
static void macro_kernel_direct(const dfp_sgemm_ukernel_da *uk, int64_t mc, int64_t nc, int64_t kc,
                                const float *a, int64_t lda, const float *bp, float *c,
                                int64_t ldc, float alpha, float beta, float *ap, float *scratch)
{
    const int mr = uk->mr, nr = uk->nr;
    for (int64_t ir = 0; ir < mc; ir += mr) {
        int rows = (int)min64(mr, mc - ir);
        const float *a_rows = a + ir * lda;
        int64_t a_ld = lda;
        if (rows < mr) {
            memset(ap, 0, (size_t)(mr * kc) * sizeof(float));
            for (int i = 0; i < rows; i++)
                memcpy(ap + i * kc, a_rows + i * lda, (size_t)kc * sizeof(float));
            a_rows = ap;
            a_ld = kc;
        } else {
            prefetch_rows(a + (ir + mr) * lda, min64(mr, mc - ir - mr), kc, lda);
        }
        for (int64_t jr = 0; jr < nc; jr += nr) {
            int cols = (int)min64(nr, nc - jr);
            float *cij = c + ir * ldc + jr;
            if (rows == mr && cols == nr) {
                uk->fn(kc, a_rows, a_ld, bp + jr * kc, cij, ldc, alpha, beta);
                continue;
            }
            uk->fn(kc, a_rows, a_ld, bp + jr * kc, scratch, nr, alpha, 0.0f);
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    cij[i * ldc + j] = beta == 0.0f ? scratch[i * nr + j]
                                                    : scratch[i * nr + j] + beta * cij[i * ldc + j];
        }
    }
}

/* The blocked loops with the direct-A kernel (no A packing). */
static void serial_direct(const dfp_sgemm_args *g, const dfp_sgemm_ukernel_da *uk, float *ap,
                          float *bp, float *scratch)
{
    for (int64_t jc = 0; jc < g->n; jc += DFP_SGEMM_NC) {
        int64_t nc = min64(DFP_SGEMM_NC, g->n - jc);
        for (int64_t pc = 0; pc < g->k; pc += DFP_SGEMM_KC) {
            int64_t kc = min64(DFP_SGEMM_KC, g->k - pc);
            float beta = pc == 0 ? g->beta : 1.0f;
            dfp_pack_b_f32(uk->nr, kc, nc, g->b + pc * g->rsb + jc * g->csb, g->rsb, g->csb, bp);
            macro_kernel_direct(uk, g->m, nc, kc, g->a + pc, g->rsa, bp, g->c + jc, g->ldc,
                                g->alpha, beta, ap, scratch);
        }
    }
}

void dfp_sgemm_f32_serial(const dfp_sgemm_args *g, float *workspace)
{
    if (g->k == 0) {
        scale_c(g);
        return;
    }
    const dfp_sgemm_ukernel_da *direct = pick_direct(g);
    if (direct) {
        int64_t kc = min64(DFP_SGEMM_KC, g->k), nc = min64(DFP_SGEMM_NC, round_up(g->n, direct->nr));
        float *ap = align64(workspace);
        float *bp = align64(ap + direct->mr * kc);
        serial_direct(g, direct, ap, bp, align64(bp + kc * nc));
        return;
    }
    const dfp_sgemm_ukernel *uk = pick_kernel(g->m, g->n);
    int64_t kc_max = min64(DFP_SGEMM_KC, g->k);
    int64_t mc_max = min64(DFP_SGEMM_MC, round_up(g->m, uk->mr));
    int64_t nc_max = min64(DFP_SGEMM_NC, round_up(g->n, uk->nr));
    float *ap = align64(workspace);
    float *bp = align64(ap + mc_max * kc_max);
    float *scratch = align64(bp + kc_max * nc_max);
    for (int64_t jc = 0; jc < g->n; jc += DFP_SGEMM_NC) {
        int64_t nc = min64(DFP_SGEMM_NC, g->n - jc);
        for (int64_t pc = 0; pc < g->k; pc += DFP_SGEMM_KC) {
            int64_t kc = min64(DFP_SGEMM_KC, g->k - pc);
            float beta = pc == 0 ? g->beta : 1.0f;
            dfp_pack_b_f32(uk->nr, kc, nc, g->b + pc * g->rsb + jc * g->csb, g->rsb, g->csb, bp);
            for (int64_t ic = 0; ic < g->m; ic += DFP_SGEMM_MC) {
                int64_t mc = min64(DFP_SGEMM_MC, g->m - ic);
                dfp_pack_a_f32(uk->mr, mc, kc, g->a + ic * g->rsa + pc * g->csa, g->rsa, g->csa, ap);
                macro_kernel(uk, mc, nc, kc, ap, uk->mr * kc, bp, uk->nr * kc, g->c + ic * g->ldc + jc,
                             g->ldc, g->alpha, beta, scratch);
            }
        }
    }
}

const dfp_sgemm_ukernel *dfp_sgemm_kernel_for(int64_t m, int64_t n) { return pick_kernel(m, n); }

void dfp_sgemm_f32_packed(const dfp_sgemm_ukernel *uk, int64_t m, int64_t n, int64_t k, const float *ap,
                          const float *bp, float *c, int64_t ldc, float *scratch)
{
    for (int64_t pc = 0; pc < k; pc += DFP_SGEMM_KC) {
        int64_t kc = min64(DFP_SGEMM_KC, k - pc);
        macro_kernel(uk, m, n, kc, ap + pc * uk->mr, k * uk->mr, bp + pc * uk->nr, k * uk->nr, c, ldc, 1.0f,
                     pc == 0 ? 0.0f : 1.0f, align64(scratch));
    }
}

/* The slab [lo, hi) of the split side for thread t of nt, aligned to `unit`. */
static inline void slab(int64_t len, int64_t unit, int t, int nt, int64_t *lo, int64_t *hi)
{
    int64_t units = (len + unit - 1) / unit;
    *lo = min64(len, units * t / nt * unit);
    *hi = min64(len, units * (t + 1) / nt * unit);
}

/* The part of g that thread t of nt computes (split along M or N). */
static dfp_sgemm_args sub_problem(const dfp_sgemm_args *g, int split_m, int64_t unit, int t, int nt)
{
    dfp_sgemm_args s = *g;
    int64_t lo, hi;
    slab(split_m ? g->m : g->n, unit, t, nt, &lo, &hi);
    if (split_m) {
        s.m = hi - lo;
        s.a += lo * g->rsa;
        s.c += lo * g->ldc;
    } else {
        s.n = hi - lo;
        s.b += lo * g->csb;
        s.c += lo;
    }
    return s;
}

int dfp_sgemm_f32_threaded(const dfp_sgemm_args *g)
{
    const dfp_sgemm_ukernel *uk = pick_kernel(g->m, g->n);
    int64_t m_tiles = (g->m + uk->mr - 1) / uk->mr, n_tiles = (g->n + uk->nr - 1) / uk->nr;
    int64_t macs = g->m * g->n * (g->k > 0 ? g->k : 1);
    int nt = dfp_threads_for_work(min64(macs / DFP_SGEMM_MIN_MACS_PER_THREAD,
                                        m_tiles > n_tiles ? m_tiles : n_tiles));
    int split_m = g->m >= g->n ? m_tiles >= nt : n_tiles < nt;
    int64_t unit = split_m ? uk->mr : uk->nr;
    size_t ws_floats = dfp_sgemm_workspace_floats(g->m, g->n, g->k);
    int failed = 0;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        int t = omp_get_thread_num(), nthreads = omp_get_num_threads();
        dfp_sgemm_args s = sub_problem(g, split_m, unit, t, nthreads);
        float *ws = s.m > 0 && s.n > 0 ? malloc(ws_floats * sizeof(float)) : NULL;
        if (ws)
            dfp_sgemm_f32_serial(&s, ws);
        else if (s.m > 0 && s.n > 0)
            failed = 1;
        free(ws);
    }
    return failed ? -1 : 0;
}

dfp_status dfp_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                     const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                     float *c, int64_t ldc)
{
    if (m < 0 || n < 0 || k < 0)
        return DFP_ERR_INVALID_SHAPE;
    if (m == 0 || n == 0)
        return DFP_OK;
    if (!c || (k > 0 && (!a || !b)))
        return DFP_ERR_NULL_POINTER;
    int64_t a_row = trans_a ? m : k, b_row = trans_b ? k : n;
    if (lda < 1 || ldb < 1 || lda < a_row || ldb < b_row || ldc < n)
        return DFP_ERR_INVALID_SHAPE;
    dfp_sgemm_args g = dfp_sgemm_make_args(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                                           beta, c, ldc);
    return dfp_sgemm_f32_threaded(&g) == 0 ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
}
