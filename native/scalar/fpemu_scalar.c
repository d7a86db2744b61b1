/* Scalar reference float-emulation kernels: rounding to a narrow float grid,
 * the 16x4 emulated-GEMM micro-kernel, and the block floating point quantiser
 * and flush kernels. Contracts: native/core/emu_kernels.h and float_round.h.
 * These define the results every ISA must reproduce. */
#include "emu_kernels.h"

#define DFP_FPEMU_SCALAR_MR 16
#define DFP_FPEMU_SCALAR_NR 4

static void dfp_round_fp_scalar(const dfp_fmt_consts *c, int stochastic, uint64_t key,
                                uint64_t index0, uint64_t stride, const float *x, float *y,
                                int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t rnd = stochastic ? dfp_fpemu_rng(key, index0 + (uint64_t)i * stride) : 0u;
        y[i] = dfp_round_f32_scalar(x[i], c, stochastic, rnd);
    }
}

static inline float acc_add(float s, float p, const dfp_fpemu_acc *acc, uint64_t key,
                            uint64_t elem)
{
    uint32_t rnd = acc->stochastic ? dfp_fpemu_rng(key, elem) : 0u;
    return dfp_round_f32_scalar(s + p, &acc->fmt, acc->stochastic, rnd);
}

/* One output element: a and b strided by MR and NR. */
static float fpemu_dot_scalar(int64_t k, const float *a, const float *b, uint64_t elem,
                              float total, const dfp_fpemu_acc *acc)
{
    for (int64_t c0 = 0, ci = 0; c0 < k; c0 += acc->chunk, ci++) {
        int64_t end = dfp_fpemu_chunk_end(c0, acc->chunk, k);
        float s = a[c0 * DFP_FPEMU_SCALAR_MR] * b[c0 * DFP_FPEMU_SCALAR_NR];
        for (int64_t t = c0 + 1; t < end; t++) {
            float p = a[t * DFP_FPEMU_SCALAR_MR] * b[t * DFP_FPEMU_SCALAR_NR];
            uint64_t key = acc->stochastic ? dfp_rng_key(acc->key_add, (uint64_t)t) : 0u;
            s = acc_add(s, p, acc, key, elem);
        }
        uint64_t key = acc->stochastic ? dfp_rng_key(acc->key_total, (uint64_t)ci) : 0u;
        total = acc_add(total, s, acc, key, elem);
    }
    return total;
}

static void dfp_gemm_fpemu_f32_scalar_16x4(int64_t k, const float *a_panel,
                                           const float *b_panel, float *c_tile, int64_t i0,
                                           int64_t j0, const dfp_fpemu_acc *acc)
{
    for (int j = 0; j < DFP_FPEMU_SCALAR_NR; j++)
        for (int i = 0; i < DFP_FPEMU_SCALAR_MR; i++) {
            uint64_t elem = (uint64_t)((j0 + j) * acc->m + i0 + i);
            float *c = c_tile + j * DFP_FPEMU_SCALAR_MR + i;
            *c = fpemu_dot_scalar(k, a_panel + i, b_panel + j, elem, acc->from_tile ? *c : 0.0f, acc);
        }
}

static uint32_t dfp_absmax_bits_scalar(const float *x, int64_t n)
{
    return dfp_absmax_bits_span(x, 0, n, 0u);
}

static void dfp_bfp_block_scalar(const dfp_bfp_block *b, const float *x, int64_t n, int16_t *mant,
                                 float *y)
{
    dfp_bfp_block_span(b, x, 0, n, mant, y);
}

static void dfp_absmax_kmajor_scalar(const float *x, int64_t ldx, const int64_t *toff, int rows,
                                     int64_t len, uint32_t *amax)
{
    dfp_absmax_kmajor_span(x, ldx, toff, rows, len, amax);
}

static void dfp_bfp_block_kmajor_scalar(const dfp_bfp_lanes *b, const float *x, int64_t ldx,
                                        const int64_t *toff, int64_t len, int32_t *pairs, int64_t ld)
{
    dfp_bfp_kmajor_span(b, x, ldx, toff, len, pairs, ld);
}

static void dfp_runs_to_lanes_scalar(const float *const *rowp, const int64_t *off, int rows,
                                     int64_t len, float *buf, uint32_t *amax)
{
    for (int r = 0; r < rows; r++)
        amax[r] = 0;
    dfp_runs_to_lanes_span(rowp, off, rows, 0, len, buf, amax);
}

/* Rows whose every 2^(ea + eb[j]) is a normal float take a branch-free loop
 * (the compiler vectorises it at the baseline ISA; AVX2 uses this kernel). */
static void dfp_bfp_scale_add_scalar(const float *blk, int64_t ldb, const int32_t *ea, int64_t lde,
                                     const int32_t *eb, int64_t rows, int64_t cols, float *tot,
                                     int64_t ldt, int first)
{
    int32_t eb_min = INT32_MAX, eb_max = INT32_MIN;
    for (int64_t j = 0; j < cols; j++) {
        eb_min = eb[j] < eb_min ? eb[j] : eb_min;
        eb_max = eb[j] > eb_max ? eb[j] : eb_max;
    }
    for (int64_t i = 0; i < rows; i++) {
        const float *b = blk + i * ldb;
        float *t = tot + i * ldt;
        const int32_t e = ea[i * lde];
        if (e + eb_min < -126 || e + eb_max > 127) {
            dfp_bfp_scale_add_span(b, e, eb, 0, cols, t, first);
            continue;
        }
        if (first)
            for (int64_t j = 0; j < cols; j++)
                t[j] = 0.0f + b[j] * dfp_bits_f32((uint32_t)(e + eb[j] + 127) << 23);
        else
            for (int64_t j = 0; j < cols; j++)
                t[j] += b[j] * dfp_bits_f32((uint32_t)(e + eb[j] + 127) << 23);
    }
}

void dfp_emu_kernels_init_scalar(dfp_emu_kernels *k)
{
    k->round = dfp_round_fp_scalar;
    k->gemm_ukernel = dfp_gemm_fpemu_f32_scalar_16x4;
    k->gemm_ukernel_nearest = dfp_gemm_fpemu_f32_scalar_16x4;
    k->absmax_bits = dfp_absmax_bits_scalar;
    k->bfp_block = dfp_bfp_block_scalar;
    k->absmax_kmajor = dfp_absmax_kmajor_scalar;
    k->bfp_block_kmajor = dfp_bfp_block_kmajor_scalar;
    k->runs_to_lanes = dfp_runs_to_lanes_scalar;
    k->bfp_scale_add = dfp_bfp_scale_add_scalar;
    k->mr = DFP_FPEMU_SCALAR_MR;
    k->nr = DFP_FPEMU_SCALAR_NR;
}
