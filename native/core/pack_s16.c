/* Packing of int16 GEMM operands into VNNI pair-interleaved panels, quantising
 * FP32 on the way (no separate pass over FP32 data). Panel layout for a width w
 * (MR for A, NR for B): panel[p][i][t] = P[r0 + i][2p + t], p < kp, i < w.
 * FP32 runs are quantised where they are contiguous in storage, so every element
 * keeps its flat storage index for stochastic rounding (same bits as
 * dfp_dfp16_quantize on the same matrix). */
#include "igemm.h"
#include "kernel_table.h"

#include <string.h>

#define RUN 512 /* elements quantised per kernel call (stack buffer) */

#define ABS_BLOCK 65536 /* int16 values per thread work item of dfp_absmax_s16 */

int32_t dfp_absmax_s16(const int16_t *v, int64_t n)
{
    int64_t nb = (n + ABS_BLOCK - 1) / ABS_BLOCK;
    int32_t m = 0;
#pragma omp parallel for schedule(static) reduction(max : m) num_threads(dfp_threads_for_work(nb))
    for (int64_t b = 0; b < nb; b++) {
        int64_t off = b * ABS_BLOCK, len = n - off < ABS_BLOCK ? n - off : ABS_BLOCK;
        int32_t bm = dfp_absmax_s16_run(v + off, len, 0);
        m = bm > m ? bm : m;
    }
    return m;
}

/* Pair p of the panel from two runs across rows: K = 2p (even) and 2p + 1 (odd,
 * NULL past the end of K). */
static inline void interleave_pair(const int16_t *even, const int16_t *odd, int64_t n,
                                   int16_t *dst)
{
    for (int64_t i = 0; i < n; i++) {
        dst[2 * i] = even[i];
        dst[2 * i + 1] = odd ? odd[i] : 0;
    }
}

/* Copy int16 with -32768 clamped to -32767 (the DFP16 range is symmetric). */
static inline int64_t load_s16_run(const int16_t *src, int64_t n, int16_t *dst)
{
    int64_t sat = 0;
    for (int64_t i = 0; i < n; i++) {
        int16_t v = src[i];
        sat += v == INT16_MIN;
        dst[i] = v == INT16_MIN ? (int16_t)-32767 : v;
    }
    return sat;
}

static inline int64_t load_run(const dfp_s16_source *src, int64_t offset, int64_t index0,
                               int64_t n, int16_t *dst)
{
    if (src->pack == dfp_pack_s16_from_s16)
        return load_s16_run((const int16_t *)src->data + offset, n, dst);
    dfp_quant_run run = src->quant;
    run.index0 = (uint64_t)index0;
    return dfp_kernels()->integer.quantize_s16((const float *)src->data + offset, n, &run, dst);
}

static int32_t pack_panel(const dfp_s16_source *src, int64_t r0, int64_t rows, int w, int64_t kp,
                          int16_t *panel, int64_t *sat)
{
    int16_t buf[2][RUN];
    int32_t m = 0;
    memset(panel, 0, (size_t)(kp * w * 2) * sizeof(int16_t));
    if (src->k_contiguous) {
        /* K segment outer, rows inner: the panel slice being written (RUN/2 pairs x w)
         * stays in L1; row-outer order wrote a whole long panel per row, missing the
         * cache on every pair once K reached a few thousand */
        for (int64_t k0 = 0; k0 < src->k; k0 += RUN) {
            int64_t n = src->k - k0 < RUN ? src->k - k0 : RUN;
            for (int i = 0; i < rows; i++) {
                int64_t r = r0 + i;
                *sat += load_run(src, r * src->ld + k0, r * src->k + k0, n, buf[0]);
                m = dfp_absmax_s16_run(buf[0], n, m);
                dfp_scatter_k_run(buf[0], n, k0, i, w, panel);
            }
        }
        return m;
    }
    for (int64_t k = 0; k < src->k; k += 2) {
        int has_odd = k + 1 < src->k;
        *sat += load_run(src, k * src->ld + r0, k * src->rows + r0, rows, buf[0]);
        if (has_odd)
            *sat += load_run(src, (k + 1) * src->ld + r0, (k + 1) * src->rows + r0, rows, buf[1]);
        m = dfp_absmax_s16_run(buf[0], rows, m);
        m = has_odd ? dfp_absmax_s16_run(buf[1], rows, m) : m;
        interleave_pair(buf[0], has_odd ? buf[1] : NULL, rows, panel + (k >> 1) * w * 2);
    }
    return m;
}

int32_t dfp_pack_s16_from_f32(const dfp_s16_source *src, int64_t r0, int64_t rows, int w,
                              int64_t kp, int16_t *panel, int64_t *sat)
{
    return pack_panel(src, r0, rows, w, kp, panel, sat);
}

int32_t dfp_pack_s16_from_s16(const dfp_s16_source *src, int64_t r0, int64_t rows, int w,
                              int64_t kp, int16_t *panel, int64_t *sat)
{
    return pack_panel(src, r0, rows, w, kp, panel, sat);
}
