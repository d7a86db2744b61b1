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

static inline int32_t scatter_k_run(const int16_t *run, int64_t n, int64_t k0, int i, int w,
                                    int16_t *panel, int32_t m)
{
    for (int64_t t = 0; t < n; t++) {
        int64_t k = k0 + t;
        int32_t v = run[t];
        panel[(k >> 1) * w * 2 + i * 2 + (k & 1)] = (int16_t)v;
        v = v < 0 ? -v : v;
        m = v > m ? v : m;
    }
    return m;
}

static inline int32_t scatter_r_run(const int16_t *run, int64_t n, int64_t k, int w,
                                    int16_t *panel, int32_t m)
{
    int16_t *dst = panel + (k >> 1) * w * 2 + (k & 1);
    for (int64_t i = 0; i < n; i++) {
        int32_t v = run[i];
        dst[2 * i] = (int16_t)v;
        v = v < 0 ? -v : v;
        m = v > m ? v : m;
    }
    return m;
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
    int16_t buf[RUN];
    int32_t m = 0;
    memset(panel, 0, (size_t)(kp * w * 2) * sizeof(int16_t));
    if (src->k_contiguous) {
        for (int i = 0; i < rows; i++) {
            int64_t r = r0 + i;
            for (int64_t k0 = 0; k0 < src->k; k0 += RUN) {
                int64_t n = src->k - k0 < RUN ? src->k - k0 : RUN;
                *sat += load_run(src, r * src->ld + k0, r * src->k + k0, n, buf);
                m = scatter_k_run(buf, n, k0, i, w, panel, m);
            }
        }
        return m;
    }
    for (int64_t k = 0; k < src->k; k++) {
        *sat += load_run(src, k * src->ld + r0, k * src->rows + r0, rows, buf);
        m = scatter_r_run(buf, rows, k, w, panel, m);
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
