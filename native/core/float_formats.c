/* Float formats API: format table, validation, fake-quantise (through the
 * kernel table), encode to codes and decode. Rounding rules: float_round.h. */
#include "kernel_table.h"
#include "emu_kernels.h"
#include "float_round.h"

/* Elements per parallel block of dfp_float_round: large enough to amortise a
 * thread, small enough to balance. Indices make results split-independent. */
#define DFP_FLOAT_ROUND_BLOCK 65536

static const dfp_float_format g_formats[] = {
    [DFP_FMT_FP8] = {5, 2, 15, 1},
    [DFP_FMT_FP16_169] = {6, 9, 31, 1},
    [DFP_FMT_BINARY16] = {5, 10, 15, 1},
    [DFP_FMT_BF16] = {8, 7, 127, 1},
};

dfp_status dfp_float_format_get(dfp_float_format_id id, dfp_float_format *fmt)
{
    if (!fmt)
        return DFP_ERR_NULL_POINTER;
    if ((int)id < 0 || (int)id > (int)DFP_FMT_BF16)
        return DFP_ERR_INVALID_ARGUMENT;
    *fmt = g_formats[id];
    return DFP_OK;
}

/* Shared with the emulated GEMM (declared there). */
dfp_status dfp_float_format_check(const dfp_float_format *f)
{
    if (!f)
        return DFP_ERR_NULL_POINTER;
    if (f->exp_bits < 2 || f->exp_bits > 8 || f->man_bits < 1 || f->man_bits > 10)
        return DFP_ERR_INVALID_ARGUMENT;
    if (f->saturate != 0 && f->saturate != 1)
        return DFP_ERR_INVALID_ARGUMENT;
    int32_t emin = dfp_fmt_emin(f), emax = dfp_fmt_emax(f);
    if (emin < -126 || emax > 127 || emax < emin)
        return DFP_ERR_INVALID_ARGUMENT;
    return DFP_OK;
}

dfp_status dfp_float_format_max(const dfp_float_format *fmt, float *max_value)
{
    dfp_status st = dfp_float_format_check(fmt);
    if (st != DFP_OK)
        return st;
    if (!max_value)
        return DFP_ERR_NULL_POINTER;
    *max_value = dfp_bits_f32(dfp_fmt_consts_make(fmt).max_bits);
    return DFP_OK;
}

static dfp_status check_round_args(const dfp_float_format *fmt, dfp_rounding rounding,
                                   const void *x, const void *y, int64_t n)
{
    dfp_status st = dfp_float_format_check(fmt);
    if (st != DFP_OK)
        return st;
    if (rounding != DFP_ROUND_NEAREST && rounding != DFP_ROUND_STOCHASTIC)
        return DFP_ERR_INVALID_ARGUMENT;
    if (n < 0)
        return DFP_ERR_INVALID_SHAPE;
    if (n > 0 && (!x || !y))
        return DFP_ERR_NULL_POINTER;
    return DFP_OK;
}

dfp_status dfp_float_round(const dfp_float_format *fmt, dfp_rounding rounding, uint64_t seed,
                           uint64_t stream, uint64_t index0, const float *x, float *y, int64_t n)
{
    dfp_status st = check_round_args(fmt, rounding, x, y, n);
    if (st != DFP_OK)
        return st;
    const dfp_fmt_consts c = dfp_fmt_consts_make(fmt);
    const dfp_fpemu_round_fn round = dfp_kernels()->emu.round;
    const uint64_t key = dfp_rng_key(seed, stream);
    const int stochastic = rounding == DFP_ROUND_STOCHASTIC;
    const int64_t blocks = (n + DFP_FLOAT_ROUND_BLOCK - 1) / DFP_FLOAT_ROUND_BLOCK;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(blocks))
    for (int64_t bi = 0; bi < blocks; bi++) {
        int64_t i = bi * DFP_FLOAT_ROUND_BLOCK;
        int64_t len = n - i < DFP_FLOAT_ROUND_BLOCK ? n - i : DFP_FLOAT_ROUND_BLOCK;
        round(&c, stochastic, key, index0 + (uint64_t)i, 1, x + i, y + i, len);
    }
    return DFP_OK;
}

static int fmt_code_bytes(const dfp_float_format *f) { return 1 + f->exp_bits + f->man_bits <= 8 ? 1 : 2; }

/* Code of a value already on the grid of f (FP32 bits r). */
static uint32_t code_from_bits(uint32_t r, const dfp_float_format *f, const dfp_fmt_consts *c)
{
    const uint32_t emask = (1u << f->exp_bits) - 1u, M = (uint32_t)f->man_bits;
    uint32_t a = r & DFP_F32_ABS_MASK, mag;
    if (a > DFP_F32_INF_BITS) {
        mag = (emask << M) | (1u << (M - 1));
    } else if (a == DFP_F32_INF_BITS) {
        mag = emask << M;
    } else {
        int32_t eb = (int32_t)(a >> 23);
        if (eb >= c->tb) {
            mag = ((uint32_t)(eb - 127 + f->bias) << M) | ((a >> (23 - M)) & ((1u << M) - 1u));
        } else {
            uint32_t s = eb ? (a & 0x7fffffu) | 0x800000u : a;
            int32_t shift = 23 - (int32_t)M + c->tb - (eb ? eb : 1);
            mag = shift >= 32 ? 0u : s >> shift;
        }
    }
    return ((r >> 31) << (f->exp_bits + M)) | mag;
}

dfp_status dfp_float_encode(const dfp_float_format *fmt, dfp_rounding rounding, uint64_t seed,
                            uint64_t stream, uint64_t index0, const float *x, void *codes,
                            int64_t n)
{
    dfp_status st = check_round_args(fmt, rounding, x, codes, n);
    if (st != DFP_OK)
        return st;
    const dfp_fmt_consts c = dfp_fmt_consts_make(fmt);
    const uint64_t key = dfp_rng_key(seed, stream);
    const int stochastic = rounding == DFP_ROUND_STOCHASTIC, bytes = fmt_code_bytes(fmt);
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(n / DFP_FLOAT_ROUND_BLOCK))
    for (int64_t i = 0; i < n; i++) {
        uint32_t rnd = stochastic ? dfp_fpemu_rng(key, index0 + (uint64_t)i) : 0u;
        uint32_t code = code_from_bits(dfp_round_bits_scalar(dfp_f32_bits(x[i]), &c, stochastic, rnd), fmt, &c);
        if (bytes == 1)
            ((uint8_t *)codes)[i] = (uint8_t)code;
        else
            ((uint16_t *)codes)[i] = (uint16_t)code;
    }
    return DFP_OK;
}

static float value_from_code(uint32_t code, const dfp_float_format *f, const dfp_fmt_consts *c)
{
    const uint32_t emask = (1u << f->exp_bits) - 1u, M = (uint32_t)f->man_bits;
    uint32_t sign = ((code >> (f->exp_bits + M)) & 1u) << 31;
    uint32_t e = (code >> M) & emask, m = code & ((1u << M) - 1u);
    if (e == emask)
        return dfp_bits_f32(sign | (m ? DFP_F32_QNAN_BITS : DFP_F32_INF_BITS));
    if (e == 0) {
        float v = (float)m * dfp_bits_f32(c->minsub_bits); /* exact: on the FP32 grid */
        return dfp_bits_f32(sign | dfp_f32_bits(v));
    }
    return dfp_bits_f32(sign | ((e - (uint32_t)f->bias + 127u) << 23) | (m << (23 - M)));
}

dfp_status dfp_float_decode(const dfp_float_format *fmt, const void *codes, float *y, int64_t n)
{
    dfp_status st = check_round_args(fmt, DFP_ROUND_NEAREST, codes, y, n);
    if (st != DFP_OK)
        return st;
    const dfp_fmt_consts c = dfp_fmt_consts_make(fmt);
    const int bytes = fmt_code_bytes(fmt);
    for (int64_t i = 0; i < n; i++) {
        uint32_t code = bytes == 1 ? ((const uint8_t *)codes)[i] : ((const uint16_t *)codes)[i];
        y[i] = value_from_code(code, fmt, &c);
    }
    return DFP_OK;
}
