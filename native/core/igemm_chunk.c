/* The integer GEMM's chunk rule: how many K pairs may be summed in INT32 before
 * the partial sums are flushed into FP32.
 *
 * Two bounds, both making overflow impossible for every partial sum:
 *  - the maxima:  chunk * 2 * max|a| * max|b| <= 2^31 - 1 (any data);
 *  - the row sums: for every row i of one operand and every chunk window W,
 *    sum_{k in W} |a_ik| * max|b| <= 2^31 - 1, since every partial sum of
 *    a_ik * b_kj over a prefix of W is bounded by that. Quantised activations
 *    and gradients are mostly far below their tensor's maximum, so this allows
 *    chunks several times longer and flushes that many times fewer.
 * Row sums are taken over fixed groups of 8 K pairs; a row-sum chunk is a whole
 * number of groups dividing the K block (192 pairs), so chunk windows never
 * cross blocks. Everything depends on the integers only: the same chunk on
 * every ISA and thread count. */
#include "igemm.h"
#include "kernel_table.h"

#include <stdlib.h>

#define KC_MAX_PAIRS 192 /* K pairs per block: the B micro-panel stays in L1 */

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int64_t dfp_igemm_safe_chunk_pairs(int32_t max_a, int32_t max_b)
{
    int64_t per_pair = 2 * (int64_t)max_a * (int64_t)max_b;
    if (per_pair == 0)
        return INT64_MAX;
    return (int64_t)INT32_MAX / per_pair; /* >= 1: |values| <= 32767 */
}

void dfp_igemm_chunking(int32_t max_a, int32_t max_b, int64_t *chunk, int64_t *kc)
{
    int64_t safe = dfp_igemm_safe_chunk_pairs(max_a, max_b);
    *chunk = min64(safe, KC_MAX_PAIRS);
    *kc = *chunk * (KC_MAX_PAIRS / *chunk);
}

int64_t dfp_igemm_flushes_per_element(int64_t kp, int64_t kc, int64_t chunk)
{
    if (kp == 0)
        return 0;
    int64_t full = kp / kc, rest = kp % kc;
    return full * ((kc + chunk - 1) / chunk) + (rest + chunk - 1) / chunk;
}

dfp_status dfp_l1_groups_init(dfp_l1_groups *g, int64_t rows, int64_t ngroups, int64_t seg)
{
    g->rows = rows;
    g->ngroups = ngroups;
    g->seg = seg > 0 ? seg : (ngroups > 0 ? ngroups : 1);
    g->sum = calloc((size_t)(rows * ngroups > 0 ? rows * ngroups : 1), sizeof(int32_t));
    return g->sum ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
}

void dfp_l1_groups_free(dfp_l1_groups *g)
{
    free(g->sum);
    g->sum = NULL;
}

static inline int32_t abs16(int16_t v) { return v < 0 ? -(int32_t)v : v; }

void dfp_l1_groups_add_run(const int16_t *v, int64_t np, int64_t q0, int32_t *row)
{
    int64_t q = 0;
    for (; q < np && (q0 + q) % DFP_L1_GROUP; q++)
        row[(q0 + q) / DFP_L1_GROUP] += abs16(v[2 * q]) + abs16(v[2 * q + 1]);
    const int64_t full = (np - q) / DFP_L1_GROUP;
    if (full > 0)
        dfp_kernels()->integer.l1_groups_s16(v + 2 * q, full, row + (q0 + q) / DFP_L1_GROUP);
    q += full * DFP_L1_GROUP;
    for (; q < np; q++)
        row[(q0 + q) / DFP_L1_GROUP] += abs16(v[2 * q]) + abs16(v[2 * q + 1]);
}

/* Groups per kernel call: the sums of a strip of them fit on the stack. */
#define PANEL_STRIP_GROUPS 64

void dfp_l1_groups_from_panels(const int16_t *panels, int w, int64_t kp, dfp_l1_groups *g)
{
    const dfp_l1_groups_panel_s16_fn sums_of = dfp_kernels()->integer.l1_groups_panel_s16;
    const int64_t npanels = (g->rows + w - 1) / w, strip = PANEL_STRIP_GROUPS * DFP_L1_GROUP;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(npanels * kp / 16384))
    for (int64_t p = 0; p < npanels; p++) {
        const int16_t *pan = panels + p * kp * w * 2;
        const int rows = g->rows - p * w < w ? (int)(g->rows - p * w) : w;
        int32_t sums[PANEL_STRIP_GROUPS * DFP_IGEMM_MAX_W]; /* group-major */
        for (int64_t q0 = 0; q0 < kp; q0 += strip) {
            const int64_t pairs = kp - q0 < strip ? kp - q0 : strip, g0 = q0 / DFP_L1_GROUP;
            sums_of(pan + q0 * w * 2, w, pairs, sums);
            for (int i = 0; i < rows; i++)
                for (int64_t q = 0; q * DFP_L1_GROUP < pairs; q++)
                    g->sum[(p * w + i) * g->ngroups + g0 + q] = sums[q * w + i];
        }
    }
}

/* Every window of `per` groups, starting at each segment's first group and
 * every `per` groups after it, sums to at most limit in every row. */
static int windows_fit(const dfp_l1_groups *g, int64_t per, int64_t limit)
{
    for (int64_t r = 0; r < g->rows; r++) {
        const int32_t *row = g->sum + r * g->ngroups;
        for (int64_t s0 = 0; s0 < g->ngroups; s0 += g->seg) {
            const int64_t s1 = min64(s0 + g->seg, g->ngroups);
            for (int64_t w0 = s0; w0 < s1; w0 += per) {
                int64_t sum = 0;
                for (int64_t j = w0; j < min64(w0 + per, s1); j++)
                    sum += row[j];
                if (sum > limit)
                    return 0;
            }
        }
    }
    return 1;
}

void dfp_igemm_chunking_l1(const dfp_l1_groups *g, int32_t max_other, int32_t max_a, int32_t max_b,
                           int64_t *chunk, int64_t *kc)
{
    dfp_igemm_chunking(max_a, max_b, chunk, kc);
    if (max_other == 0 || !g->sum)
        return;
    /* groups per chunk: the divisors of KC_MAX_PAIRS / DFP_L1_GROUP, longest first */
    static const int64_t per_chunk[] = {24, 12, 8, 6, 4, 3, 2, 1};
    const int64_t limit = (int64_t)INT32_MAX / max_other;
    for (size_t c = 0; c < sizeof per_chunk / sizeof per_chunk[0]; c++) {
        const int64_t pairs = per_chunk[c] * DFP_L1_GROUP;
        if (pairs <= *chunk)
            return; /* no longer than the maxima already allow */
        if (windows_fit(g, per_chunk[c], limit)) {
            *chunk = pairs;
            *kc = KC_MAX_PAIRS;
            return;
        }
    }
}
