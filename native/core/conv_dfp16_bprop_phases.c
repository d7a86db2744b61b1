/* DFP16 BPROP of a strided convolution as stride-1 "phase" convolutions of the
 * quantised dy (the decomposition of conv2d_f32_bprop_phases.c): input row
 * s*u + a gets the kernel rows kh = a + pad (mod s) only, from dy row
 * u + (a + pad - kh) / s. Per phase (a, b) the K pairs are (dy channel pair,
 * tap of the phase), the weights of those taps are packed once, and the sums
 * run over dy's channel-pair layout (quantised once with a zero border wide
 * enough for every phase) read in place on VNNI, or from B panels packed from
 * it elsewhere: the same K order, chunks and flushes, so the same bits. The
 * phase planes are then interleaved into dx. Replaces GEMM + col2im, whose
 * strided scatter-add cost more than the integer products. */
#include "conv_dfp16_job.h"
#include "conv_dfp16_phases.h"
#include "conv_phases.h"
#include "conv_s16_pack.h"
#include "igemm.h"
#include "kernel_table.h"
#include "work_share.h"

#include <stdlib.h>
#include <string.h>

#define TILE_PANELS 8 /* B panels of 32 output pixels per tile */

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int dfp_conv_dfp16_bprop_phases_applies(const dfp_conv_geom *g)
{
    /* shape only, so every ISA takes the same path (and gets the same bits) */
    return g->stride_h * g->stride_w > 1 && g->stride_h <= DFP_PHASE_MAX_STRIDE &&
           g->stride_w <= DFP_PHASE_MAX_STRIDE && g->dilation_h == 1 && g->dilation_w == 1 &&
           g->kernel_h <= DFP_PHASE_MAX_TAPS && g->kernel_w <= DFP_PHASE_MAX_TAPS &&
           g->in_w % (8 * g->stride_w) == 0 && g->in_h % g->stride_h == 0;
}

/* Border of dy's layout along one dimension: every phase's taps stay inside. */
static int64_t border(int64_t size, int64_t out, int64_t stride, int64_t pad, int64_t kernel)
{
    int64_t b = 0, rows = size / stride;
    for (int64_t a = 0; a < stride; a++) {
        dfp_phase_taps t = dfp_phase_taps_of(a, pad, stride, kernel);
        for (int i = 0; i < t.n; i++) {
            b = -t.d[i] > b ? -t.d[i] : b;
            b = rows - 1 + t.d[i] - (out - 1) > b ? rows - 1 + t.d[i] - (out - 1) : b;
        }
    }
    return b;
}

void dfp_conv_dfp16_bprop_phase_border(const dfp_conv_geom *g, int64_t *ph, int64_t *pw)
{
    *ph = border(g->in_h, g->out_h, g->stride_h, g->pad_h, g->kernel_h);
    *pw = border(g->in_w, g->out_w, g->stride_w, g->pad_w, g->kernel_w);
}

typedef struct phase {
    dfp_phase_taps th, tw;
    int64_t rows, cols, kp, chunk, kc, plane;
    int16_t *w;   /* weight panels: rows c, K pairs (dy channel pair, tap) */
    int64_t *off; /* K pair -> int16 offset in one image of dy's layout */
} phase;

typedef struct phases {
    phase ph[DFP_PHASE_MAX_STRIDE * DFP_PHASE_MAX_STRIDE];
    dfp_phase_plane grid[DFP_PHASE_MAX_STRIDE * DFP_PHASE_MAX_STRIDE];
    int n;
} phases;

static void free_phases(phases *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->ph[i].w), free(p->ph[i].off);
}

static dfp_status make_phases(const conv_job *j, int64_t bh, int64_t bw, int mr, phases *ps)
{
    const dfp_conv_geom *g = &j->g;
    const int64_t o_n = j->out_ch, c_n = g->channels, cpn = (o_n + 1) / 2, kk = g->kernel_h * g->kernel_w;
    const int64_t hp = g->out_h + 2 * bh, wp = g->out_w + 2 * bw, mpan = (c_n + mr - 1) / mr;
    memset(ps, 0, sizeof(*ps));
    int64_t plane = 0;
    for (int64_t a = 0; a < g->stride_h; a++)
        for (int64_t b = 0; b < g->stride_w; b++) {
            phase *p = &ps->ph[ps->n++];
            p->th = dfp_phase_taps_of(a, g->pad_h, g->stride_h, g->kernel_h);
            p->tw = dfp_phase_taps_of(b, g->pad_w, g->stride_w, g->kernel_w);
            p->rows = g->in_h / g->stride_h;
            p->cols = g->in_w / g->stride_w;
            p->kp = cpn * p->th.n * p->tw.n;
            p->plane = plane;
            ps->grid[ps->n - 1] = (dfp_phase_plane){p->rows, p->cols, plane};
            plane += p->rows * p->cols;
            if (p->kp == 0)
                continue;
            p->w = calloc((size_t)(mpan * p->kp * mr * 2), sizeof(int16_t));
            p->off = malloc((size_t)p->kp * sizeof(int64_t));
            if (!p->w || !p->off) {
                free_phases(ps);
                return DFP_ERR_OUT_OF_MEMORY;
            }
            int32_t wmax = 0;
            int64_t q = 0;
            for (int64_t cp = 0; cp < cpn; cp++)
                for (int ih = 0; ih < p->th.n; ih++)
                    for (int iw = 0; iw < p->tw.n; iw++, q++) {
                        p->off[q] = ((cp * hp + p->th.d[ih] + bh) * wp + p->tw.d[iw] + bw) * 2;
                        const int64_t tap = p->th.k[ih] * g->kernel_w + p->tw.k[iw];
                        for (int64_t c = 0; c < c_n; c++)
                            for (int t = 0; t < 2 && 2 * cp + t < o_n; t++) {
                                int16_t v = j->w.q[((2 * cp + t) * c_n + c) * kk + tap];
                                p->w[(((c / mr) * p->kp + q) * mr + c % mr) * 2 + t] = v;
                                int32_t m = v < 0 ? -(int32_t)v : v;
                                wmax = m > wmax ? m : wmax;
                            }
                    }
            if (dfp_conv_weight_chunking(p->w, mr, p->kp, c_n, wmax, j->dy.max_abs, &p->chunk,
                                         &p->kc) != DFP_OK) {
                free_phases(ps);
                return DFP_ERR_OUT_OF_MEMORY;
            }
        }
    return DFP_OK;
}

/* Output pixels [p0, p0 + np) of phase p of one image (dy layout image xpn) into
 * the unscaled sums buf (rows c, ld ldb): K blocks of kc pairs, panels of nr
 * pixels; in place (ukr) or on B panels packed from the same pairs (bp). */
static void phase_tile(const phase *p, int64_t wp, int mr, int nr, int64_t mpan, const int16_t *xpn,
                       int64_t p0, int64_t np, dfp_igemm_s16_inplace_fn ukr, int16_t *bp, float *buf,
                       int64_t ldb)
{
    if (!ukr) {
        /* B panel jp (width nr): pair q of pixel i at bp[((jp * kp + q) * nr + i) * 2], zero past np */
        const int64_t npan = (np + nr - 1) / nr;
        for (int64_t jp = 0; jp < npan; jp++)
            for (int i = 0; i < nr; i++) {
                const int64_t px = p0 + jp * nr + i, at = (px / p->cols * wp + px % p->cols) * 2;
                int32_t *dst = (int32_t *)(void *)bp + jp * p->kp * nr + i;
                for (int64_t q = 0; q < p->kp; q++) {
                    int32_t v = 0;
                    if (jp * nr + i < np)
                        memcpy(&v, xpn + at + p->off[q], 4);
                    dst[q * nr] = v;
                }
            }
        dfp_igemm_panels(mpan, npan, p->kp, p->chunk, p->kc, p->w, bp, buf, ldb, 0);
        return;
    }
    const int64_t npan = (np + nr - 1) / nr;
    const int run = p->cols % 16 == 0 ? 16 : 8;
    for (int64_t q0 = 0; q0 < p->kp; q0 += p->kc) {
        const int64_t kcb = min64(p->kc, p->kp - q0);
        for (int64_t jp = 0; jp < npan; jp++) {
            const int16_t *runs[4];
            for (int r = 0; r < nr / run; r++) { /* runs past np repeat the first (never read back) */
                int64_t px = p0 + jp * nr + (jp * nr + run * r < np ? run * r : 0);
                runs[r] = xpn + (px / p->cols * wp + px % p->cols) * 2;
            }
            for (int64_t ip = 0; ip < mpan; ip++)
                ukr(kcb, p->chunk, p->w + (ip * p->kp + q0) * mr * 2, runs, run, p->off + q0,
                    buf + ip * mr * ldb + jp * nr, ldb, q0 > 0);
        }
    }
}

dfp_status dfp_conv_dfp16_bprop_phases(const conv_job *j, float *dx, int accumulate,
                                       dfp_gemm_stats *stats)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const dfp_conv_geom *g = &j->g;
    const int mr = ik->mr;
    /* in place where the ISA has the kernel (whole runs: 16 or 32 columns), else B
     * panels packed at its width */
    const dfp_igemm_s16_inplace_fn ukr = ik->nr % 16 == 0 ? ik->igemm_s16_inplace : NULL;
    int64_t bh, bw;
    dfp_conv_dfp16_bprop_phase_border(g, &bh, &bw);
    phases ps;
    if (make_phases(j, bh, bw, mr, &ps) != DFP_OK)
        return DFP_ERR_OUT_OF_MEMORY;
    const int64_t c_n = g->channels, in_pixels = g->in_h * g->in_w, mpan = (c_n + mr - 1) / mr;
    const int64_t hp = g->out_h + 2 * bh, wp = g->out_w + 2 * bw, image = (j->out_ch + 1) / 2 * hp * wp * 2;
    const int64_t tile = TILE_PANELS * 32, ldb = tile, nr = ik->nr;
    int64_t max_kp = 0;
    for (int i = 0; i < ps.n; i++)
        max_kp = ps.ph[i].kp > max_kp ? ps.ph[i].kp : max_kp;
    const float sw = dfp_pow2f(j->w.e), sdy = dfp_pow2f(j->dy.e);
    int failed = 0;
    dfp_work_share ws;
#pragma omp parallel num_threads(dfp_threads_for_work(j->batch)) reduction(| : failed)
    {
        float *buf = aligned_alloc(64, (size_t)((mpan * mr * ldb * 4 + 63) / 64 * 64));
        float *planes = malloc((size_t)(c_n * in_pixels) * sizeof(float));
        int16_t *bp = ukr ? NULL : aligned_alloc(64, (size_t)((tile * max_kp * 4 + 63) / 64 * 64 + 64));
        failed |= !buf || !planes || (!ukr && !bp);
        dfp_work_share_start(&ws, j->batch); /* images (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t n; (n = dfp_work_next(&ws, &cur)) >= 0;) {
            if (!buf || !planes || (!ukr && !bp))
                continue;
            const int16_t *xpn = j->dy.q + n * image;
            for (int i = 0; i < ps.n; i++) {
                const phase *p = &ps.ph[i];
                const int64_t pixels = p->rows * p->cols;
                if (p->kp == 0) {
                    for (int64_t c = 0; c < c_n; c++)
                        memset(planes + c * in_pixels + p->plane, 0, (size_t)pixels * sizeof(float));
                    continue;
                }
                for (int64_t p0 = 0; p0 < pixels; p0 += tile) {
                    const int64_t np = min64(tile, pixels - p0);
                    phase_tile(p, wp, mr, (int)nr, mpan, xpn, p0, np, ukr, bp, buf, ldb);
                    dfp_igemm_epilogue(c_n, np, buf, ldb, sw, sdy, planes + p->plane + p0, in_pixels, 0);
                }
            }
            dfp_phase_interleave(g, ps.grid, planes, dx + n * c_n * in_pixels, accumulate);
        }
        free(buf), free(planes), free(bp);
    }
    if (!failed && stats)
        for (int i = 0; i < ps.n; i++)
            if (ps.ph[i].kp) {
                stats->flushes += j->batch * c_n * ps.ph[i].rows * ps.ph[i].cols *
                                  dfp_igemm_flushes_per_element(ps.ph[i].kp, ps.ph[i].kc, ps.ph[i].chunk);
                stats->chunk_len = 2 * min64(ps.ph[i].chunk, ps.ph[i].kp);
            }
    free_phases(&ps);
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}
