/* DFP16 quantise / dequantise API: exponent per group from the group's largest
 * magnitude, then the ISA's run kernel (bit-identical to the scalar reference).
 * Groups are the whole tensor, a row, or a block of a row (dfp_granularity). */
#include "igemm.h"
#include "kernel_table.h"
#include "rng_counter.h"

#include <math.h>
#include <string.h>

#define DFP16_EMIN (-126) /* keeps 2^e and 2^-e normal floats */

int32_t dfp_dfp16_exponent(uint32_t absmax_bits, int shift)
{
    if (absmax_bits == 0)
        return DFP16_EMIN;
    float m;
    memcpy(&m, &absmax_bits, 4);
    int e2;
    frexpf(m, &e2); /* m = f * 2^e2, f in [0.5, 1): floor(log2 m) = e2 - 1 */
    int32_t e = (e2 - 1) - 14 + shift;
    return e < DFP16_EMIN ? DFP16_EMIN : e;
}

dfp_quant_run dfp_dfp16_run(int32_t e, const dfp_dfp16_params *p, uint64_t index0)
{
    uint64_t key = dfp_rng_key(p->seed, p->stream);
    dfp_quant_run r = {.inv_scale = ldexpf(1.0f, -e), .rounding = (int)p->rounding,
                       .key_lo = (uint32_t)key, .key_hi = (uint32_t)(key >> 32), .index0 = index0};
    return r;
}

int64_t dfp_dfp16_num_exponents(int64_t rows, int64_t cols, dfp_granularity gran, int64_t block)
{
    if (gran == DFP_GRAN_ROW)
        return rows;
    if (gran == DFP_GRAN_BLOCK)
        return block > 0 ? rows * ((cols + block - 1) / block) : -1;
    return 1;
}

static dfp_status check_args(int64_t rows, int64_t cols, dfp_granularity gran, int64_t block)
{
    if (rows < 0 || cols < 0)
        return DFP_ERR_INVALID_SHAPE;
    if (gran < DFP_GRAN_TENSOR || gran > DFP_GRAN_BLOCK || (gran == DFP_GRAN_BLOCK && block < 1))
        return DFP_ERR_INVALID_ARGUMENT;
    return DFP_OK;
}

static dfp_status check_params(const dfp_dfp16_params *p)
{
    if (p->shift < 0 || p->shift > 3)
        return DFP_ERR_INVALID_ARGUMENT;
    if (p->rounding < DFP_ROUND_NEAREST || p->rounding > DFP_ROUND_BIASED)
        return DFP_ERR_INVALID_ARGUMENT;
    return DFP_OK;
}

/* Group g covers elements [g*len, g*len + len) of the flat tensor. */
static void group_layout(int64_t rows, int64_t cols, dfp_granularity gran, int64_t block,
                         int64_t *ngroups, int64_t *len)
{
    *len = gran == DFP_GRAN_TENSOR ? rows * cols : gran == DFP_GRAN_ROW ? cols : block;
    *ngroups = dfp_dfp16_num_exponents(rows, cols, gran, block);
}

/* Flat offset and length of group g (blocks do not cross rows). */
static inline void group_span(int64_t g, int64_t cols, dfp_granularity gran, int64_t len,
                              int64_t *off, int64_t *n)
{
    if (gran != DFP_GRAN_BLOCK) {
        *off = g * len;
        *n = len;
        return;
    }
    int64_t per_row = (cols + len - 1) / len, r = g / per_row, b = g % per_row;
    *off = r * cols + b * len;
    *n = cols - b * len < len ? cols - b * len : len;
}

/* One exponent for n floats, both passes split into fixed blocks over threads:
 * the max is order-free and every element keeps its flat index (stochastic
 * rounding), so q is bit-identical for every thread count. */
#define QBLOCK 16384
int32_t dfp_dfp16_tensor_exponent(const float *x, int64_t n, int shift, int *bad)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    int64_t nb = (n + QBLOCK - 1) / QBLOCK;
    uint32_t mb = 0;
#pragma omp parallel for schedule(static) reduction(max : mb) num_threads(dfp_threads_for_work(nb))
    for (int64_t b = 0; b < nb; b++) {
        int64_t off = b * QBLOCK, len = n - off < QBLOCK ? n - off : QBLOCK;
        uint32_t m = ik->absmax_bits(x + off, len);
        mb = m > mb ? m : mb;
    }
    *bad |= mb >= 0x7f800000U;
    return dfp_dfp16_exponent(mb >= 0x7f800000U ? 0 : mb, shift);
}

int64_t dfp_dfp16_quantize_tensor_par(const float *x, int64_t n, const dfp_dfp16_params *params,
                                      int16_t *q, int32_t *e, int *bad, int32_t *qmax)
{
    int32_t qm = 0;
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    int64_t nb = (n + QBLOCK - 1) / QBLOCK, sat = 0;
    *e = dfp_dfp16_tensor_exponent(x, n, params->shift, bad);
    const int32_t ee = *e;
#pragma omp parallel for schedule(static) reduction(+ : sat) reduction(max : qm) \
    num_threads(dfp_threads_for_work(nb))
    for (int64_t b = 0; b < nb; b++) {
        int64_t off = b * QBLOCK, len = n - off < QBLOCK ? n - off : QBLOCK;
        dfp_quant_run run = dfp_dfp16_run(ee, params, (uint64_t)off);
        sat += ik->quantize_s16(x + off, len, &run, q + off);
        if (qmax) { /* while the block is in cache */
            int32_t bm = dfp_kernels()->integer.absmax_s16(q + off, len, 0);
            qm = bm > qm ? bm : qm;
        }
    }
    if (qmax)
        *qmax = qm;
    return sat;
}

dfp_status dfp_dfp16_quantize(const float *x, int64_t rows, int64_t cols, dfp_granularity gran,
                              int64_t block, const dfp_dfp16_params *params, int16_t *q,
                              int32_t *exps, int64_t *saturations)
{
    if (!params || ((!x || !q || !exps) && rows * cols > 0))
        return DFP_ERR_NULL_POINTER;
    dfp_status st = check_args(rows, cols, gran, block);
    if (st == DFP_OK)
        st = check_params(params);
    if (st != DFP_OK)
        return st;
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    int64_t ngroups, len, sat = 0;
    int bad = 0;
    group_layout(rows, cols, gran, block, &ngroups, &len);
    if (rows * cols == 0) {
        for (int64_t g = 0; g < ngroups; g++)
            exps[g] = DFP16_EMIN;
        return DFP_OK;
    }
    if (gran == DFP_GRAN_TENSOR) {
        int32_t e;
        sat = dfp_dfp16_quantize_tensor_par(x, rows * cols, params, q, &e, &bad, NULL);
        exps[0] = e;
    } else {
#pragma omp parallel for schedule(static) reduction(+ : sat) reduction(| : bad) \
    num_threads(dfp_threads_for_work(ngroups))
        for (int64_t g = 0; g < ngroups; g++) {
            int64_t off, n;
            group_span(g, cols, gran, len, &off, &n);
            uint32_t mb = ik->absmax_bits(x + off, n);
            bad |= mb >= 0x7f800000U;
            exps[g] = dfp_dfp16_exponent(mb >= 0x7f800000U ? 0 : mb, params->shift);
            dfp_quant_run run = dfp_dfp16_run(exps[g], params, (uint64_t)off);
            sat += ik->quantize_s16(x + off, n, &run, q + off);
        }
    }
    if (saturations)
        *saturations = sat;
    return bad ? DFP_ERR_NOT_FINITE : DFP_OK;
}

dfp_status dfp_dfp16_dequantize(const int16_t *q, const int32_t *exps, int64_t rows, int64_t cols,
                                dfp_granularity gran, int64_t block, float *x)
{
    if ((!x || !q || !exps) && rows * cols > 0)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = check_args(rows, cols, gran, block);
    if (st != DFP_OK || rows * cols == 0)
        return st;
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    int64_t ngroups, len;
    group_layout(rows, cols, gran, block, &ngroups, &len);
    for (int64_t g = 0; g < ngroups; g++)
        if (exps[g] < DFP16_EMIN || exps[g] > 127)
            return DFP_ERR_INVALID_ARGUMENT;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(ngroups))
    for (int64_t g = 0; g < ngroups; g++) {
        int64_t off, n;
        group_span(g, cols, gran, len, &off, &n);
        ik->dequantize_s16(q + off, n, ldexpf(1.0f, exps[g]), x + off);
    }
    return DFP_OK;
}
