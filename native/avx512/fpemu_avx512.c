/* AVX-512 float-emulation kernels: rounding to a narrow float grid, the 16x16
 * emulated-GEMM micro-kernels (16 lanes = 16 rows of C, 8 columns), and the
 * block floating point quantiser (row-major and k-major) and flush kernels.
 * Contracts: native/core/emu_kernels.h and float_round.h. Every step is the
 * scalar reference's integer step on 16 lanes (variable shifts give 0 for
 * counts >= 32, which is what the scalar code computes) or an FP step shown
 * exact where it is used, so results are bit-identical to
 * native/scalar/fpemu_scalar.c. */
#include <immintrin.h>

#include "emu_kernels.h"
#include "rng_avx512.h"
#include "transpose_avx512.h"

#define MR 16
#define NR 16  /* columns of the emulated-GEMM tile */
#define HALF 8

/* Halves of base + lane (lane = 0..15), with the carry into the high half. */
static inline void index_halves_avx512(uint64_t base, __m512i *lo, __m512i *hi)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    *lo = _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)base), iota);
    __mmask16 carry = _mm512_cmplt_epu32_mask(*lo, iota);
    *hi = _mm512_mask_add_epi32(_mm512_set1_epi32((int)(uint32_t)(base >> 32)), carry,
                                _mm512_set1_epi32((int)(uint32_t)(base >> 32)),
                                _mm512_set1_epi32(1));
}

/* float_round.h's dfp_round_bits_scalar on 16 lanes. */
static inline __m512 dfp_round_fp_ps_avx512(__m512 x, const dfp_fmt_consts *c, int stochastic,
                                            __m512i rnd)
{
    const __m512i u = _mm512_castps_si512(x);
    const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32((int)DFP_F32_ABS_MASK));
    const __m512i sign = _mm512_andnot_si512(_mm512_set1_epi32((int)DFP_F32_ABS_MASK), u);
    const __m512i eb = _mm512_srli_epi32(a, 23);
    __mmask16 normal = _mm512_test_epi32_mask(eb, eb);
    __m512i s = _mm512_mask_or_epi32(a, normal, _mm512_and_si512(a, _mm512_set1_epi32(0x7fffff)),
                                     _mm512_set1_epi32(0x800000));
    __m512i below = _mm512_sub_epi32(_mm512_set1_epi32(c->tb),
                                     _mm512_max_epi32(eb, _mm512_set1_epi32(1)));
    __m512i d = _mm512_add_epi32(_mm512_set1_epi32(23 - c->man_bits),
                                 _mm512_max_epi32(below, _mm512_setzero_si512()));
    d = _mm512_min_epi32(d, _mm512_set1_epi32(63));
    const __m512i c32 = _mm512_set1_epi32(32);
    __m512i frac = _mm512_or_si512(_mm512_sllv_epi32(s, _mm512_sub_epi32(c32, d)),
                                   _mm512_srlv_epi32(s, _mm512_sub_epi32(d, c32)));
    __mmask16 up;
    if (stochastic) {
        up = _mm512_cmplt_epu32_mask(rnd, frac);
    } else {
        const __m512i half = _mm512_set1_epi32((int)0x80000000u);
        __m512i kept = _mm512_srlv_epi32(s, d);
        __mmask16 odd = _mm512_test_epi32_mask(kept, _mm512_set1_epi32(1));
        up = _mm512_cmpgt_epu32_mask(frac, half) |
             (_mm512_cmpeq_epi32_mask(frac, half) & odd);
    }
    __m512i inc = _mm512_maskz_mov_epi32(up, _mm512_set1_epi32(1));
    __m512i out = _mm512_sllv_epi32(_mm512_add_epi32(_mm512_srlv_epi32(a, d), inc), d);
    __mmask16 tiny = _mm512_cmpgt_epi32_mask(d, _mm512_set1_epi32(23));
    out = _mm512_mask_mov_epi32(out, tiny, _mm512_maskz_mov_epi32(up, _mm512_set1_epi32((int)c->minsub_bits)));
    __mmask16 over = _mm512_cmpgt_epu32_mask(out, _mm512_set1_epi32((int)c->max_bits));
    out = _mm512_mask_mov_epi32(out, over, _mm512_set1_epi32((int)c->overflow_bits));
    /* inf stays inf; NaN becomes the quiet NaN of its sign */
    __mmask16 nonfinite = _mm512_cmpge_epu32_mask(a, _mm512_set1_epi32((int)DFP_F32_INF_BITS));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32((int)DFP_F32_INF_BITS));
    out = _mm512_mask_mov_epi32(out, nonfinite, a);
    out = _mm512_mask_mov_epi32(out, nan, _mm512_set1_epi32((int)DFP_F32_QNAN_BITS));
    return _mm512_castsi512_ps(_mm512_or_si512(sign, out));
}

/* Index halves of base + lane * stride for 16 lanes. */
static inline void strided_halves_avx512(uint64_t base, uint64_t stride, __m512i *lo, __m512i *hi)
{
    if (stride == 1) {
        index_halves_avx512(base, lo, hi);
        return;
    }
    uint32_t l[MR], h[MR];
    dfp_fpemu_index_halves(base, stride, MR, l, h);
    *lo = _mm512_loadu_si512(l);
    *hi = _mm512_loadu_si512(h);
}

/* Nearest rounding of finite and non-finite x by (|x| + C) - C: C =
 * 2^(clamp(e_x, emin, emax) + 23 - man) has |x|'s grid step as its FP32 ulp
 * (the emin clamp gives the subnormal step, the emax clamp keeps C finite for
 * huge x, which then saturate); results above max saturate (an unsigned
 * integer min on the bits) or become inf; then x's sign. A vector holding inf
 * or NaN (rare) takes one more step: inf stays, NaN becomes the quiet NaN of
 * its sign. float_round.h's rules; needs emax + 24 - man <= 127 (see
 * round_fast_ok). */
static inline __m512 round_nearest_ps_avx512(__m512 x, const dfp_fmt_consts *c)
{
    const __m512i sign = _mm512_set1_epi32((int)DFP_F32_SIGN_MASK);
    const __m512i u = _mm512_castps_si512(x);
    const __m512i a = _mm512_andnot_si512(sign, u);
    __m512i e = _mm512_and_si512(a, _mm512_set1_epi32(0x7f800000));
    e = _mm512_max_epu32(e, _mm512_set1_epi32(c->tb << 23));
    e = _mm512_min_epu32(e, _mm512_set1_epi32((int)(c->max_bits & 0x7f800000u)));
    const __m512 cv = _mm512_castsi512_ps(_mm512_add_epi32(e, _mm512_set1_epi32((23 - c->man_bits) << 23)));
    const __m512 av = _mm512_castsi512_ps(a);
    __m512i out = _mm512_castps_si512(_mm512_sub_ps(_mm512_add_ps(av, cv), cv));
    if (c->overflow_bits == c->max_bits) {
        out = _mm512_min_epu32(out, _mm512_set1_epi32((int)c->max_bits));
    } else {
        __mmask16 over = _mm512_cmpgt_epu32_mask(out, _mm512_set1_epi32((int)c->max_bits));
        out = _mm512_mask_mov_epi32(out, over, _mm512_set1_epi32((int)c->overflow_bits));
    }
    __mmask16 nonfinite = _mm512_cmpge_epu32_mask(a, _mm512_set1_epi32((int)DFP_F32_INF_BITS));
    if (nonfinite) {
        __mmask16 nan = _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32((int)DFP_F32_INF_BITS));
        out = _mm512_mask_mov_epi32(out, nonfinite, a);
        out = _mm512_mask_mov_epi32(out, nan, _mm512_set1_epi32((int)DFP_F32_QNAN_BITS));
    }
    /* 0xF8: A | (B & C) */
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(out, u, sign, 0xF8));
}

static inline int round_fast_ok(const dfp_fmt_consts *c)
{
    return (int32_t)(c->max_bits >> 23) - 127 + 24 - c->man_bits <= 127;
}

static void dfp_round_fp_avx512(const dfp_fmt_consts *c, int stochastic, uint64_t key,
                                uint64_t index0, uint64_t stride, const float *x, float *y,
                                int64_t n)
{
    if (!stochastic && round_fast_ok(c)) {
        for (int64_t i = 0; i < n; i += MR) {
            __mmask16 m = n - i >= MR ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
            _mm512_mask_storeu_ps(y + i, m, round_nearest_ps_avx512(_mm512_maskz_loadu_ps(m, x + i), c));
        }
        return;
    }
    __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
    for (int64_t i = 0; i < n; i += MR) {
        __mmask16 m = n - i >= MR ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        if (stochastic)
            strided_halves_avx512(index0 + (uint64_t)i * stride, stride, &lo, &hi);
        __m512i rnd = stochastic ? rng_u32_avx512(key, lo, hi) : lo;
        _mm512_mask_storeu_ps(y + i, m, dfp_round_fp_ps_avx512(v, c, stochastic, rnd));
    }
}

static inline __m512 acc_add_avx512(__m512 s, __m512 p, const dfp_fpemu_acc *acc, uint64_t key,
                                    __m512i lo, __m512i hi)
{
    __m512i rnd = acc->stochastic ? rng_u32_avx512(key, lo, hi) : lo;
    return dfp_round_fp_ps_avx512(_mm512_add_ps(s, p), &acc->fmt, acc->stochastic, rnd);
}

/* Columns [jh, jh + 8) of the 16 x NR tile (b_panel rows NR floats apart). */
static void fpemu_half_tile_avx512(int64_t k, const float *a_panel, const float *b_panel,
                                   float *c_tile, int64_t i0, int64_t j0, int jh,
                                   const dfp_fpemu_acc *acc)
{
    __m512i lo[HALF], hi[HALF];
    __m512 total[HALF], s[HALF];
    for (int j = 0; j < HALF; j++) {
        index_halves_avx512((uint64_t)((j0 + jh + j) * acc->m + i0), &lo[j], &hi[j]);
        total[j] = acc->from_tile ? _mm512_loadu_ps(c_tile + (jh + j) * MR) : _mm512_setzero_ps();
    }
    for (int64_t c0 = 0, ci = 0; c0 < k; c0 += acc->chunk, ci++) {
        int64_t end = dfp_fpemu_chunk_end(c0, acc->chunk, k);
        __m512 av = _mm512_loadu_ps(a_panel + c0 * MR);
        for (int j = 0; j < HALF; j++)
            s[j] = _mm512_mul_ps(av, _mm512_set1_ps(b_panel[c0 * NR + jh + j]));
        for (int64_t t = c0 + 1; t < end; t++) {
            uint64_t key = acc->stochastic ? dfp_rng_key(acc->key_add, (uint64_t)t) : 0u;
            av = _mm512_loadu_ps(a_panel + t * MR);
            for (int j = 0; j < HALF; j++) {
                __m512 p = _mm512_mul_ps(av, _mm512_set1_ps(b_panel[t * NR + jh + j]));
                s[j] = acc_add_avx512(s[j], p, acc, key, lo[j], hi[j]);
            }
        }
        uint64_t key = acc->stochastic ? dfp_rng_key(acc->key_total, (uint64_t)ci) : 0u;
        for (int j = 0; j < HALF; j++)
            total[j] = acc_add_avx512(total[j], s[j], acc, key, lo[j], hi[j]);
    }
    for (int j = 0; j < HALF; j++)
        _mm512_storeu_ps(c_tile + (jh + j) * MR, total[j]);
}

/* Any rounding: two halves of 8 columns (16 sums with their generator indices
 * would not fit the registers). */
static void dfp_gemm_fpemu_f32_avx512_16x16(int64_t k, const float *a_panel,
                                            const float *b_panel, float *c_tile, int64_t i0,
                                            int64_t j0, const dfp_fpemu_acc *acc)
{
    fpemu_half_tile_avx512(k, a_panel, b_panel, c_tile, i0, j0, 0, acc);
    fpemu_half_tile_avx512(k, a_panel, b_panel, c_tile, i0, j0, HALF, acc);
}

/* Nearest-even rounding onto the accumulator grid (contract of
 * gemm_ukernel_nearest in emu_kernels.h). With on_grid: Veltkamp's split,
 * g = sigma * v, hi = g + (v - g) with sigma = 2^(23 - man) + 1, rounds v to
 * man + 1 significant bits, ties to even (checked exhaustively against
 * float_round.h for every FP32 below the accumulator's max); three FP
 * operations instead of two integer and two FP ones. Sums below the smallest
 * normal are already on the grid and have at most man significant bits, so
 * they pass unchanged, and no zero's sign matters (emu_kernels.h); sigma * v
 * cannot overflow since |v| < max / 2 there. Otherwise (v + C) - C with C =
 * 2^(max(e_v, emin) + 23 - man) of v's sign, built from v's sign and exponent
 * bits; the final OR restores -0. */
static inline __attribute__((always_inline)) __m512
round_nearest_fast_avx512(__m512 v, __m512i emin_bits, __m512i shift_bits, __m512 sigma,
                          const int on_grid)
{
    if (on_grid) {
        __m512 g = _mm512_mul_ps(v, sigma);
        return _mm512_add_ps(g, _mm512_sub_ps(v, g));
    }
    const __m512i u = _mm512_castps_si512(v);
    const __m512i sign = _mm512_set1_epi32((int)DFP_F32_SIGN_MASK);
    __m512i e = _mm512_max_epu32(_mm512_and_si512(u, _mm512_set1_epi32(0x7f800000)), emin_bits);
    /* 0xF8: A | (B & C) */
    __m512 c = _mm512_castsi512_ps(
        _mm512_ternarylogic_epi32(_mm512_add_epi32(e, shift_bits), u, sign, 0xF8));
    __m512 r = _mm512_sub_ps(_mm512_add_ps(v, c), c);
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(r), u, sign, 0xF8));
}

/* The 16 x NR tile: NR = 16 independent sums, each step a chain of four
 * dependent FP operations (fma, mul, sub, add: 16 cycles), so the two FP ports
 * (64 operations, 32 cycles) stay busy; with 8 sums the chain and the ports
 * took equally long and any stall showed (63% of the ports' rate on 1024^3). */
static inline __attribute__((always_inline)) void
fpemu_nearest_tile_avx512(int64_t k, const float *a_panel, const float *b_panel, float *c_tile,
                          const dfp_fpemu_acc *acc, const int on_grid)
{
    const __m512i emin_bits = _mm512_set1_epi32(acc->fmt.tb << 23);
    const __m512i shift_bits = _mm512_set1_epi32((23 - acc->fmt.man_bits) << 23);
    const __m512 sigma = _mm512_set1_ps((float)((1 << (23 - acc->fmt.man_bits)) + 1));
    __m512 total[NR], s[NR];
    for (int j = 0; j < NR; j++)
        total[j] = acc->from_tile ? _mm512_loadu_ps(c_tile + j * MR) : _mm512_setzero_ps();
    for (int64_t c0 = 0; c0 < k; c0 += acc->chunk) {
        int64_t end = dfp_fpemu_chunk_end(c0, acc->chunk, k);
        __m512 av = _mm512_loadu_ps(a_panel + c0 * MR);
        for (int j = 0; j < NR; j++)
            s[j] = _mm512_mul_ps(av, _mm512_set1_ps(b_panel[c0 * NR + j]));
        for (int64_t t = c0 + 1; t < end; t++) {
            av = _mm512_loadu_ps(a_panel + t * MR);
            for (int j = 0; j < NR; j++) {
                __m512 v = _mm512_fmadd_ps(av, _mm512_set1_ps(b_panel[t * NR + j]), s[j]);
                s[j] = round_nearest_fast_avx512(v, emin_bits, shift_bits, sigma, on_grid);
            }
        }
        for (int j = 0; j < NR; j++)
            total[j] = round_nearest_fast_avx512(_mm512_add_ps(total[j], s[j]), emin_bits,
                                                 shift_bits, sigma, on_grid);
    }
    for (int j = 0; j < NR; j++)
        _mm512_storeu_ps(c_tile + j * MR, total[j]);
}

static void dfp_gemm_fpemu_nearest_f32_avx512_16x16(int64_t k, const float *a_panel,
                                                   const float *b_panel, float *c_tile,
                                                   int64_t i0, int64_t j0,
                                                   const dfp_fpemu_acc *acc)
{
    if (acc->on_grid)
        fpemu_nearest_tile_avx512(k, a_panel, b_panel, c_tile, acc, 1);
    else
        fpemu_nearest_tile_avx512(k, a_panel, b_panel, c_tile, acc, 0);
}

static uint32_t dfp_absmax_bits_avx512(const float *x, int64_t n)
{
    __m512i mx = _mm512_setzero_si512();
    const __m512i abs = _mm512_set1_epi32((int)DFP_F32_ABS_MASK);
    int64_t i = 0;
    for (; i + MR <= n; i += MR)
        mx = _mm512_max_epu32(mx, _mm512_and_si512(_mm512_loadu_si512(x + i), abs));
    return dfp_absmax_bits_span(x, i, n, (uint32_t)_mm512_reduce_max_epu32(mx));
}

/* The codes of dfp_bfp_code for 16 lanes of v = x * 2^-scale_exp, clamped to
 * [kmin, kmax]: stochastic floor(v + rnd * 2^-16) (the FMA rounds the sum once,
 * as the scalar v + u with its exact product does), or nearest-even. */
static inline __attribute__((always_inline)) __m512i
bfp_round_avx512(__m512 v, __m512i kmax, __m512i kmin, const int stochastic, __m512i rnd)
{
    __m512i k;
    if (stochastic)
        k = _mm512_cvt_roundps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(rnd), _mm512_set1_ps(0x1p-16f), v),
                                     _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    else
        k = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_max_epi32(_mm512_min_epi32(k, kmax), kmin);
}

/* The generator's bits of indices index + 2 * lane under lane key lk: the
 * draws (dfp_bfp_draw16) of 32 consecutive elements from an even offset. */
static inline __m512i bfp_pair_bits_avx512(__m512i lk, uint64_t index)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return rng_bits_avx512(lk, _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)index), even));
}

static inline __attribute__((always_inline)) void
bfp_store16_avx512(__m512i k, __m512 vup, int16_t *mant, float *y)
{
    if (mant)
        _mm256_storeu_si256((__m256i *)mant, _mm512_cvtsepi32_epi16(k));
    if (y)
        _mm512_storeu_ps(y, _mm512_mul_ps(_mm512_cvtepi32_ps(k), vup));
}

/* dfp_bfp_block_span on 16 lanes, 32 elements per generator call: word w of
 * the bits is element w's draw, so the zero-extended halves are the draws of
 * the two 16-element vectors. A block whose indices cross a multiple of 2^32
 * (never below 4G-element tensors) or whose scale is not a normal power of
 * two takes the scalar steps. */
static void dfp_bfp_block_avx512(const dfp_bfp_block *b, const float *x, int64_t n, int16_t *mant,
                                 float *y)
{
    const float down = dfp_pow2_or_zero(-b->scale_exp), up = dfp_pow2_or_zero(b->scale_exp);
    const int carry_free = b->index0 >> 32 == (b->index0 + (uint64_t)n) >> 32;
    int64_t i = 0;
    if (down != 0.0f && up != 0.0f && (carry_free || !b->stochastic)) {
        const __m512 vdown = _mm512_set1_ps(down), vup = _mm512_set1_ps(up);
        const __m512i kmax = _mm512_set1_epi32((int)b->kmax), kmin = _mm512_set1_epi32(-(int)b->kmax);
        const __m512i lk = _mm512_set1_epi32((int)dfp_rng_lane_key((uint32_t)b->key, (uint32_t)(b->key >> 32),
                                                                   (uint32_t)(b->index0 >> 32)));
        for (; i + 2 * MR <= n; i += 2 * MR) {
            __m512i bits = b->stochastic ? bfp_pair_bits_avx512(lk, b->index0 + (uint64_t)i)
                                         : _mm512_setzero_si512();
            __m512i r0 = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(bits));
            __m512i r1 = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(bits, 1));
            bfp_store16_avx512(bfp_round_avx512(_mm512_mul_ps(_mm512_loadu_ps(x + i), vdown), kmax, kmin,
                                                b->stochastic, r0),
                               vup, mant ? mant + i : NULL, y ? y + i : NULL);
            bfp_store16_avx512(bfp_round_avx512(_mm512_mul_ps(_mm512_loadu_ps(x + i + MR), vdown), kmax,
                                                kmin, b->stochastic, r1),
                               vup, mant ? mant + i + MR : NULL, y ? y + i + MR : NULL);
        }
    }
    dfp_bfp_block_span(b, x, i, n, mant, y);
}

static void dfp_absmax_kmajor_avx512(const float *x, int64_t ldx, const int64_t *toff, int rows,
                                     int64_t len, uint32_t *amax)
{
    const __mmask16 m = (__mmask16)((1u << rows) - 1u);
    const __m512i abs = _mm512_set1_epi32((int)DFP_F32_ABS_MASK);
    __m512i mx = _mm512_setzero_si512();
    for (int64_t t = 0; t < len; t++)
        mx = _mm512_max_epu32(mx, _mm512_and_si512(_mm512_maskz_loadu_epi32(m, dfp_kmajor_row(x, ldx, toff, t)), abs));
    _mm512_mask_storeu_epi32(amax, m, mx);
}

/* Code t of 16 rows, with the lanes' draws rnd. */
static inline __attribute__((always_inline)) __m512i
bfp_code_at_avx512(const float *x, int64_t ldx, const int64_t *toff, int64_t t, __mmask16 m,
                   __m512 vdown, __m512i kmax, __m512i kmin, const int stochastic, __m512i rnd)
{
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dfp_kmajor_row(x, ldx, toff, t)), vdown);
    return bfp_round_avx512(v, kmax, kmin, stochastic, rnd);
}

/* The block's codes t, t + 1 as one pair word per lane (low half first, as the
 * int16 layout on x86; an odd len's last upper half 0). Codes t and t + 1 (t
 * even) of a lane take the halves of one generator call on index0 + t
 * (dfp_bfp_draw16). Compiled once per rounding. */
static inline __attribute__((always_inline)) void
bfp_kmajor_pairs_avx512(const dfp_bfp_lanes *b, const float *x, int64_t ldx, const int64_t *toff,
                        int64_t len, int32_t *pairs, int64_t ld, __mmask16 m, __m512 vdown,
                        __m512i i0, __m512i lk, const int stochastic)
{
    const __m512i kmax = _mm512_set1_epi32((int)b->kmax), kmin = _mm512_set1_epi32(-(int)b->kmax);
    const __m512i low = _mm512_set1_epi32(0xffff);
    int64_t t = 0;
    for (; t < len; t += 2) {
        __m512i bits = stochastic ? rng_bits_avx512(lk, _mm512_add_epi32(i0, _mm512_set1_epi32((int)t)))
                                  : _mm512_setzero_si512();
        __m512i c0 = bfp_code_at_avx512(x, ldx, toff, t, m, vdown, kmax, kmin, stochastic,
                                        _mm512_and_si512(bits, low));
        if (t + 1 == len) { /* odd len: the last pair's upper half is 0 */
            _mm512_mask_storeu_epi32(pairs + (t / 2) * ld, m, _mm512_and_si512(c0, low));
            break;
        }
        __m512i c1 = bfp_code_at_avx512(x, ldx, toff, t + 1, m, vdown, kmax, kmin, stochastic,
                                        rng_srl16_avx512(bits));
        _mm512_mask_storeu_epi32(pairs + (t / 2) * ld, m,
                                 _mm512_or_si512(_mm512_and_si512(c0, low), _mm512_slli_epi32(c1, 16)));
    }
}

/* dfp_bfp_block_kmajor_fn: lane r = row r, per-lane scales and indices. Rows
 * whose scale is not a normal power of two, or (stochastic) whose indices
 * cross a multiple of 2^32, send the call to the scalar steps. */
static void dfp_bfp_block_kmajor_avx512(const dfp_bfp_lanes *b, const float *x, int64_t ldx,
                                        const int64_t *toff, int64_t len, int32_t *pairs, int64_t ld)
{
    const __mmask16 m = (__mmask16)((1u << b->rows) - 1u);
    for (int r = 0; r < b->rows; r++) {
        if (b->scale_exp[r] < -127 || b->scale_exp[r] > 126 ||
            (b->stochastic && b->index0[r] >> 32 != (b->index0[r] + (uint64_t)len) >> 32)) {
            dfp_bfp_kmajor_span(b, x, ldx, toff, len, pairs, ld);
            return;
        }
    }
    const __m512i se = _mm512_maskz_loadu_epi32(m, b->scale_exp);
    const __m512 vdown = _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(127), se), 23));
    const __m512i i0 = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm512_cvtepi64_epi32(_mm512_loadu_si512(b->index0))),
        _mm512_cvtepi64_epi32(_mm512_loadu_si512(b->index0 + 8)), 1);
    const __m512i h0 = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm512_cvtepi64_epi32(_mm512_srli_epi64(_mm512_loadu_si512(b->index0), 32))),
        _mm512_cvtepi64_epi32(_mm512_srli_epi64(_mm512_loadu_si512(b->index0 + 8), 32)), 1);
    if (b->stochastic)
        bfp_kmajor_pairs_avx512(b, x, ldx, toff, len, pairs, ld, m, vdown, i0, rng_lane_key_avx512(b->key, h0), 1);
    else
        bfp_kmajor_pairs_avx512(b, x, ldx, toff, len, pairs, ld, m, vdown, i0, h0, 0);
}

/* dfp_runs_to_lanes_fn: each run of 16 is a 16 x 16 block transposed in
 * registers (rows past `rows` read as zeros), and every transposed vector,
 * one element of all rows, feeds the rows' running maxima. */
static void dfp_runs_to_lanes_avx512(const float *const *rowp, const int64_t *off, int rows,
                                     int64_t len, float *buf, uint32_t *amax)
{
    const __m512i abs = _mm512_set1_epi32((int)DFP_F32_ABS_MASK);
    __m512i mx = _mm512_setzero_si512();
    int64_t t = 0;
    for (; t + DFP_BFP_RUN <= len; t += DFP_BFP_RUN) {
        const int64_t o = off[t / DFP_BFP_RUN];
        __m512i r[DFP_BFP_LANES];
        for (int i = 0; i < DFP_BFP_LANES; i++)
            r[i] = i < rows ? _mm512_loadu_si512(rowp[i] + o) : _mm512_setzero_si512();
        transpose16_epi32(r);
        for (int j = 0; j < DFP_BFP_RUN; j++) {
            _mm512_storeu_si512(buf + (t + j) * DFP_BFP_LANES, r[j]);
            mx = _mm512_max_epu32(mx, _mm512_and_si512(r[j], abs));
        }
    }
    _mm512_mask_storeu_epi32(amax, (__mmask16)((1u << rows) - 1u), mx);
    dfp_runs_to_lanes_span(rowp, off, rows, t, len, buf, amax);
}

/* dfp_bfp_scale_add_fn, 16 columns at a time: 2^(ea + eb) built from its bits
 * for the lanes where it is a normal float; a vector with any other lane
 * (never seen in practice) goes through the scalar steps. */
static void dfp_bfp_scale_add_avx512(const float *blk, int64_t ldb, const int32_t *ea, int64_t lde,
                                     const int32_t *eb, int64_t rows, int64_t cols, float *tot,
                                     int64_t ldt, int first)
{
    const int64_t vec = cols / MR * MR;
    for (int64_t i = 0; i < rows; i++) {
        const float *b = blk + i * ldb;
        float *t = tot + i * ldt;
        const __m512i e_row = _mm512_set1_epi32(ea[i * lde] + 127);
        int64_t j = 0;
        for (; j < vec; j += MR) {
            __m512i e = _mm512_add_epi32(e_row, _mm512_loadu_si512(eb + j)); /* biased */
            __mmask16 normal = _mm512_cmpgt_epi32_mask(e, _mm512_setzero_si512()) &
                               _mm512_cmplt_epi32_mask(e, _mm512_set1_epi32(255));
            if (normal != 0xffff) {
                dfp_bfp_scale_add_span(b, ea[i * lde], eb, j, j + MR, t, first);
                continue;
            }
            __m512 s = _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
            __m512 base = first ? _mm512_setzero_ps() : _mm512_loadu_ps(t + j);
            _mm512_storeu_ps(t + j, _mm512_add_ps(base, _mm512_mul_ps(_mm512_loadu_ps(b + j), s)));
        }
        dfp_bfp_scale_add_span(b, ea[i * lde], eb, j, cols, t, first);
    }
}

void dfp_emu_kernels_init_avx512(dfp_emu_kernels *k)
{
    k->round = dfp_round_fp_avx512;
    k->gemm_ukernel = dfp_gemm_fpemu_f32_avx512_16x16;
    k->gemm_ukernel_nearest = dfp_gemm_fpemu_nearest_f32_avx512_16x16;
    k->absmax_bits = dfp_absmax_bits_avx512;
    k->bfp_block = dfp_bfp_block_avx512;
    k->absmax_kmajor = dfp_absmax_kmajor_avx512;
    k->bfp_block_kmajor = dfp_bfp_block_kmajor_avx512;
    k->runs_to_lanes = dfp_runs_to_lanes_avx512;
    k->bfp_scale_add = dfp_bfp_scale_add_avx512;
    k->mr = MR;
    k->nr = NR;
}
