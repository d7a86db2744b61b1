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

/* K pairs of a B panel interleaved before their clamp-and-maximum pass, on ISAs
 * without the one-pass packer (pack_kpairs_s16) or for padded panels: 32 pairs
 * x 16 columns is 2 KB; over a whole 1024-pair panel that pass read L2 */
#define CLAMP_BLOCK_PAIRS 32

#define ABS_BLOCK 65536 /* int16 values per thread work item of dfp_absmax_s16 */

int32_t dfp_absmax_s16(const int16_t *v, int64_t n)
{
    int64_t nb = (n + ABS_BLOCK - 1) / ABS_BLOCK;
    int32_t m = 0;
#pragma omp parallel for schedule(static) reduction(max : m) num_threads(dfp_threads_for_work(nb))
    for (int64_t b = 0; b < nb; b++) {
        int64_t off = b * ABS_BLOCK, len = n - off < ABS_BLOCK ? n - off : ABS_BLOCK;
        int32_t bm = dfp_kernels()->integer.absmax_s16(v + off, len, 0);
        m = bm > m ? bm : m;
    }
    return m;
}

/* One run of n values along K (s16 sources: copied with -32768 clamped; FP32:
 * quantised) into dst; returns max(m, largest |value|). */
static inline int32_t load_run(const dfp_int_kernels *ik, const dfp_s16_source *src, int64_t offset,
                               int64_t index0, int64_t n, int16_t *dst, int32_t m, int64_t *sat)
{
    if (src->pack == dfp_pack_s16_from_s16)
        return ik->load_s16((const int16_t *)src->data + offset, n, dst, m, sat);
    dfp_quant_run run = src->quant;
    run.index0 = (uint64_t)index0;
    *sat += ik->quantize_s16((const float *)src->data + offset, n, &run, dst);
    return src->code_max_known ? m : ik->absmax_s16(dst, n, m);
}

static int32_t pack_panel(const dfp_s16_source *src, int64_t r0, int64_t rows, int w, int64_t kp,
                          int16_t *panel, int64_t *sat)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    int16_t buf[8][RUN];
    int32_t m = 0;
    if (src->pack == dfp_pack_s16_from_s16 && !src->k_contiguous && w == 32 && kp == (src->k + 1) / 2 &&
        ik->pack_kpairs_s16) /* (it writes every pair of the panel, zeros included) */
        return ik->pack_kpairs_s16((const int16_t *)src->data + r0, src->ld, src->k, rows, panel, 0, sat);
    if (rows < w || 2 * kp != src->k) /* zero padding rows, the odd last K, padding pairs */
        memset(panel, 0, (size_t)(kp * w * 2) * sizeof(int16_t));
    if (src->k_contiguous) {
        /* K segment outer, rows inner: the panel slice being written (RUN/2 pairs x w)
         * stays in L1; row-outer order wrote a whole long panel per row, missing the
         * cache on every pair once K reached a few thousand. Rows go 8 at a time
         * through one transpose kernel. */
        for (int64_t k0 = 0; k0 < src->k; k0 += RUN) {
            int64_t n = src->k - k0 < RUN ? src->k - k0 : RUN;
            int32_t *dst = (int32_t *)(void *)panel + (k0 >> 1) * w;
            for (int g = 0; g < rows; g += 8) {
                const int16_t *rp[8] = {NULL};
                for (int i = g; i < rows && i < g + 8; i++) {
                    int64_t r = r0 + i;
                    m = load_run(ik, src, r * src->ld + k0, r * src->k + k0, n, buf[i - g], m, sat);
                    rp[i - g] = buf[i - g];
                    if (n & 1) /* the odd last K of this run: its pair's other half stays 0 */
                        panel[((k0 + n - 1) >> 1) * w * 2 + i * 2] = buf[i - g][n - 1];
                }
                ik->pack_pairs8(rp, n >> 1, w, dst + g);
            }
        }
        return m;
    }
    if (src->pack == dfp_pack_s16_from_s16) {
        /* int16 rows across K: each pair's two runs of `rows` values interleaved
         * straight from the source, then one clamp-and-maximum pass over each
         * block of pairs in place (elementwise, so the same values, maximum and
         * saturation count; padding zeros change neither). Clamping each run
         * first cost two load_s16 calls per pair on 32 values: for a 1024 x 1024
         * B, 0.45 ms of an 8.2 ms GEMM. */
        const int16_t *s = src->data;
        for (int64_t p0 = 0; p0 < kp; p0 += CLAMP_BLOCK_PAIRS) { /* clamped while still in L1 */
            const int64_t p1 = p0 + CLAMP_BLOCK_PAIRS < kp ? p0 + CLAMP_BLOCK_PAIRS : kp;
            for (int64_t k = 2 * p0; k < src->k && k < 2 * p1; k += 2)
                ik->interleave_s16(s + k * src->ld + r0, k + 1 < src->k ? s + (k + 1) * src->ld + r0 : NULL,
                                   rows, panel + (k >> 1) * w * 2);
            m = ik->load_s16(panel + p0 * w * 2, (p1 - p0) * w * 2, panel + p0 * w * 2, m, sat);
        }
        return m;
    }
    for (int64_t k = 0; k < src->k; k += 2) {
        int has_odd = k + 1 < src->k;
        m = load_run(ik, src, k * src->ld + r0, k * src->rows + r0, rows, buf[0], m, sat);
        if (has_odd)
            m = load_run(ik, src, (k + 1) * src->ld + r0, (k + 1) * src->rows + r0, rows, buf[1], m, sat);
        ik->interleave_s16(buf[0], has_odd ? buf[1] : NULL, rows, panel + (k >> 1) * w * 2);
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
