/* FP32 BPROP of a strided convolution as stride-1 "phase" convolutions of dy,
 * read in place by the B-in-place SGEMM micro-kernel (sgemm_inplace).
 *
 * With row stride s, input row i = s*u + a gets taps kh = a + pad (mod s)
 * only, from dy row u + (a + pad - kh) / s: for each phase (a, b) of input
 * rows and columns, dx[c][s*u + a][s*v + b] is a stride-1 convolution of dy
 * with the sub-kernel of those taps (K = O x taps of the phase; the phases'
 * taps partition the kernel, so the products are those of the conv). Each image
 * of dy is copied once into a zero-bordered copy, every phase's output grid is
 * computed in tiles of the kernel's width (16 or 32 pixels), and the phase
 * planes are interleaved into dx.
 * This replaces a column GEMM and a scatter-add into dx (col2im) whose strided
 * read-modify-writes cost more than the products. */
#include "conv2d_f32.h"
#include "conv_phases.h"
#include "kernel_table.h"
#include "pack_f32.h"
#include "work_share.h"

#include <stdlib.h>
#include <string.h>

/* Output rows (or columns) of phase a: input indices s*u + a < size. */
static inline int64_t phase_len(int64_t size, int64_t a, int64_t stride)
{
    return size > a ? (size - a + stride - 1) / stride : 0;
}

int dfp_conv_f32_bprop_phases_applies(const conv_plan *pl)
{
    const dfp_sgemm_ukernel_bo *uk = &dfp_kernels()->fp32.sgemm_inplace;
    const dfp_conv_geom *g = &pl->g;
    return uk->fn && (uk->nr == 16 || uk->nr == 32) && uk->mr <= 8 && g->stride_h * g->stride_w > 1 &&
           g->stride_h <= DFP_PHASE_MAX_STRIDE && g->stride_w <= DFP_PHASE_MAX_STRIDE && g->dilation_h == 1 &&
           g->dilation_w == 1 && g->kernel_h <= DFP_PHASE_MAX_TAPS && g->kernel_w <= DFP_PHASE_MAX_TAPS &&
           g->in_w % (8 * g->stride_w) == 0 && g->in_h % g->stride_h == 0;
}

typedef struct phase {
    dfp_phase_taps th, tw;
    int64_t rows, cols, k; /* output grid and K = O * taps */
    float *a;              /* packed weights (mr-row panels of the C x K sub-kernel) */
    int64_t *off;          /* K offsets into the dy copy */
    int64_t plane;         /* this phase's offset in the per-image phase buffer (per channel) */
} phase;

typedef struct phases_job {
    phase ph[DFP_PHASE_MAX_STRIDE * DFP_PHASE_MAX_STRIDE];
    dfp_phase_plane grid[DFP_PHASE_MAX_STRIDE * DFP_PHASE_MAX_STRIDE];
    int nph;
    int64_t hq, wq, top, left; /* the zero-bordered dy copy */
} phases_job;

static void free_job(phases_job *j)
{
    for (int p = 0; p < j->nph; p++)
        free(j->ph[p].a), free(j->ph[p].off);
}

static dfp_status make_job(const conv_plan *pl, int mr, phases_job *j)
{
    const dfp_conv_geom *g = &pl->g;
    const int64_t o_n = pl->out_ch, c_n = g->channels, kk = g->kernel_h * g->kernel_w;
    memset(j, 0, sizeof(*j));
    int64_t top = 0, left = 0, bottom = 0, right = 0, plane = 0;
    for (int64_t a = 0; a < g->stride_h; a++)
        for (int64_t b = 0; b < g->stride_w; b++) {
            phase *p = &j->ph[j->nph++];
            p->th = dfp_phase_taps_of(a, g->pad_h, g->stride_h, g->kernel_h);
            p->tw = dfp_phase_taps_of(b, g->pad_w, g->stride_w, g->kernel_w);
            p->rows = phase_len(g->in_h, a, g->stride_h);
            p->cols = phase_len(g->in_w, b, g->stride_w);
            p->k = o_n * p->th.n * p->tw.n;
            p->plane = plane;
            j->grid[j->nph - 1] = (dfp_phase_plane){p->rows, p->cols, plane};
            plane += p->rows * p->cols;
            for (int i = 0; i < p->th.n; i++) {
                top = -p->th.d[i] > top ? -p->th.d[i] : top;
                int64_t over = p->rows - 1 + p->th.d[i] - (g->out_h - 1);
                bottom = over > bottom ? over : bottom;
            }
            for (int i = 0; i < p->tw.n; i++) {
                left = -p->tw.d[i] > left ? -p->tw.d[i] : left;
                int64_t over = p->cols - 1 + p->tw.d[i] - (g->out_w - 1);
                right = over > right ? over : right;
            }
        }
    j->top = top, j->left = left;
    j->hq = top + g->out_h + bottom;
    j->wq = left + g->out_w + right;
    const int64_t mpan = (c_n + mr - 1) / mr;
    for (int q = 0; q < j->nph; q++) {
        phase *p = &j->ph[q];
        if (p->k == 0)
            continue;
        float *sub = malloc((size_t)(c_n * p->k) * sizeof(float));
        p->a = malloc((size_t)(mpan * mr * p->k) * sizeof(float));
        p->off = malloc((size_t)p->k * sizeof(int64_t));
        if (!sub || !p->a || !p->off) {
            free(sub);
            free_job(j);
            return DFP_ERR_OUT_OF_MEMORY;
        }
        int64_t t = 0;
        for (int64_t o = 0; o < o_n; o++)
            for (int ih = 0; ih < p->th.n; ih++)
                for (int iw = 0; iw < p->tw.n; iw++, t++) {
                    p->off[t] = (o * j->hq + p->th.d[ih] + top) * j->wq + p->tw.d[iw] + left;
                    const int64_t tap = p->th.k[ih] * g->kernel_w + p->tw.k[iw];
                    for (int64_t c = 0; c < c_n; c++)
                        sub[c * p->k + t] = pl->w[(o * c_n + c) * kk + tap];
                }
        dfp_pack_a_f32(mr, c_n, p->k, sub, p->k, 1, p->a);
        free(sub);
    }
    return DFP_OK;
}

/* Phase p of image n into its planes of buf (channel c at buf + c * in_pixels + p->plane). */
static void phase_image(const conv_plan *pl, const dfp_sgemm_ukernel_bo *uk, const phases_job *j,
                        const phase *p, const float *dyp, float *buf, float *tile)
{
    const int64_t c_n = pl->g.channels, pixels = p->rows * p->cols, mr = uk->mr;
    if (p->k == 0) {
        for (int64_t c = 0; c < c_n; c++)
            memset(buf + c * pl->in_pixels + p->plane, 0, (size_t)pixels * sizeof(float));
        return;
    }
    const int run = p->cols % 16 == 0 ? 16 : 8, nr = uk->nr;
    for (int64_t q0 = 0; q0 < pixels; q0 += nr) {
        int64_t cols = pixels - q0 < nr ? pixels - q0 : nr;
        const float *runs[4];
        for (int r = 0; r < nr / run; r++) { /* runs past the last pixel repeat the first */
            int64_t q = r * run < cols ? q0 + r * run : q0;
            runs[r] = dyp + q / p->cols * j->wq + q % p->cols;
        }
        for (int64_t c0 = 0; c0 < c_n; c0 += mr) {
            int64_t rows = c_n - c0 < mr ? c_n - c0 : mr;
            float *dst = buf + c0 * pl->in_pixels + p->plane + q0;
            if (rows == mr && cols == nr) {
                uk->fn(p->k, p->a + c0 * p->k, runs, run, p->off, dst, pl->in_pixels, 0.0f);
                continue;
            }
            uk->fn(p->k, p->a + c0 * p->k, runs, run, p->off, tile, nr, 0.0f);
            for (int64_t r = 0; r < rows; r++)
                memcpy(dst + r * pl->in_pixels, tile + r * nr, (size_t)cols * sizeof(float));
        }
    }
}

dfp_status dfp_conv_f32_bprop_phases(const conv_plan *pl)
{
    const dfp_sgemm_ukernel_bo *uk = &dfp_kernels()->fp32.sgemm_inplace;
    const dfp_conv_geom *g = &pl->g;
    phases_job j;
    if (make_job(pl, uk->mr, &j) != DFP_OK)
        return DFP_ERR_OUT_OF_MEMORY;
    const int64_t o_n = pl->out_ch, copy = o_n * j.hq * j.wq;
    double macs = (double)pl->batch * pl->pixels * pl->out_ch * pl->ckk;
    double per = macs / DFP_CONV_MIN_MACS_PER_THREAD;
    int nt = dfp_threads_for_work(per < (double)pl->batch ? (int64_t)per : pl->batch);
    int failed = 0;
    dfp_work_share ws;
#pragma omp parallel num_threads(nt) reduction(| : failed) if (nt > 1)
    {
        float *dyp = calloc((size_t)copy, sizeof(float)); /* the border stays zero */
        float *buf = malloc((size_t)(g->channels * pl->in_pixels) * sizeof(float));
        float tile[8 * 32];
        failed |= !dyp || !buf;
        dfp_work_share_start(&ws, pl->batch); /* images (work_share.h) */
        dfp_work_cursor cur = {0};
        if (dyp && buf) {
            for (int64_t n; (n = dfp_work_next(&ws, &cur)) >= 0;) {
                const float *dy = pl->dy + n * o_n * pl->pixels;
                for (int64_t o = 0; o < o_n; o++)
                    for (int64_t h = 0; h < g->out_h; h++)
                        memcpy(dyp + (o * j.hq + h + j.top) * j.wq + j.left,
                               dy + (o * g->out_h + h) * g->out_w, (size_t)g->out_w * sizeof(float));
                for (int q = 0; q < j.nph; q++)
                    phase_image(pl, uk, &j, &j.ph[q], dyp, buf, tile);
                dfp_phase_interleave(g, j.grid, buf, pl->dx + n * g->channels * pl->in_pixels, 0);
            }
        }
        free(dyp), free(buf);
    }
    free_job(&j);
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}
