/* Rounding FP32 to an IEEE-like (exp_bits, man_bits, bias) format, on the
 * FP32 bit pattern, exactly (one rounding, no double rounding).
 *
 * For |x| with FP32 biased exponent eb (1 for FP32 subnormals) and integer
 * significand s (value s * 2^(eb - 150)), the target grid spacing in that
 * binade is 2^q with q = max(eb - 127, emin) - man_bits, so d = q - eb + 150
 * low bits of s are dropped:  d = 23 - man_bits + max(0, tb - eb), where
 * tb = emin + 127. frac = the dropped bits scaled to 32 bits
 * (((s << 32) >> d) mod 2^32, exact for d <= 32; for d > 32 truncated,
 * which never matters for nearest and is below 2^-32 ulp for stochastic).
 * Nearest: up if frac > 1/2, or = 1/2 and the kept part is odd.
 * Stochastic: up if rand32 < frac. For d <= 23, ((a >> d) + up) << d on the
 * magnitude bits a is the result (a carry moves into the exponent correctly);
 * for d > 23 the result is 0 or the smallest subnormal. Results above the
 * largest finite value saturate (or become inf). The SIMD kernels implement
 * these same integer steps, lane by lane, so they match bit for bit. */
#ifndef DFP_FLOAT_ROUND_H
#define DFP_FLOAT_ROUND_H

#include "dfpengine.h"

#include <stdint.h>
#include <string.h>

#define DFP_F32_ABS_MASK 0x7fffffffu
#define DFP_F32_SIGN_MASK 0x80000000u
#define DFP_F32_INF_BITS 0x7f800000u
#define DFP_F32_QNAN_BITS 0x7fc00000u

/* Everything the rounding kernels need, derived once from a dfp_float_format. */
typedef struct dfp_fmt_consts {
    int32_t man_bits;
    int32_t tb;              /* FP32 biased exponent of the format's smallest normal */
    uint32_t max_bits;       /* FP32 bits of the largest finite value */
    uint32_t minsub_bits;    /* FP32 bits of the smallest subnormal */
    uint32_t overflow_bits;  /* max_bits when saturating, else infinity */
} dfp_fmt_consts;

static inline uint32_t dfp_f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float dfp_bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline int32_t dfp_fmt_emin(const dfp_float_format *f) { return 1 - f->bias; }

static inline int32_t dfp_fmt_emax(const dfp_float_format *f)
{
    return (1 << f->exp_bits) - 2 - f->bias;
}

static inline dfp_fmt_consts dfp_fmt_consts_make(const dfp_float_format *f)
{
    dfp_fmt_consts c;
    int32_t emin = dfp_fmt_emin(f), emax = dfp_fmt_emax(f);
    uint32_t man_ones = ((1u << f->man_bits) - 1u) << (23 - f->man_bits);
    int32_t minsub_exp = emin - f->man_bits;
    c.man_bits = f->man_bits;
    c.tb = emin + 127;
    c.max_bits = ((uint32_t)(emax + 127) << 23) | man_ones;
    c.minsub_bits = minsub_exp >= -126 ? (uint32_t)(minsub_exp + 127) << 23
                                       : 1u << (minsub_exp + 149);
    c.overflow_bits = f->saturate ? c.max_bits : DFP_F32_INF_BITS;
    return c;
}

/* Round one FP32 bit pattern; `rnd` is used only when `stochastic`. */
static inline uint32_t dfp_round_bits_scalar(uint32_t u, const dfp_fmt_consts *c,
                                             int stochastic, uint32_t rnd)
{
    uint32_t sign = u & DFP_F32_SIGN_MASK, a = u & DFP_F32_ABS_MASK;
    if (a >= DFP_F32_INF_BITS)
        return a == DFP_F32_INF_BITS ? u : sign | DFP_F32_QNAN_BITS;
    int32_t eb = (int32_t)(a >> 23);
    uint32_t s = eb ? (a & 0x7fffffu) | 0x800000u : a;
    int32_t ebn = eb ? eb : 1;
    int32_t d = 23 - c->man_bits + (c->tb > ebn ? c->tb - ebn : 0);
    if (d > 63)
        d = 63;
    uint32_t frac = (uint32_t)(((uint64_t)s << 32) >> d);
    uint32_t kept = d < 32 ? s >> d : 0;
    uint32_t up = stochastic ? rnd < frac
                             : frac > 0x80000000u || (frac == 0x80000000u && (kept & 1u));
    uint32_t out = d <= 23 ? ((a >> d) + up) << d : (up ? c->minsub_bits : 0u);
    if (out > c->max_bits)
        out = c->overflow_bits;
    return sign | out;
}

static inline float dfp_round_f32_scalar(float x, const dfp_fmt_consts *c, int stochastic,
                                         uint32_t rnd)
{
    return dfp_bits_f32(dfp_round_bits_scalar(dfp_f32_bits(x), c, stochastic, rnd));
}

#endif
