/* AVX2 float-emulation kernels: rounding to a narrow float grid and the 8x4
 * emulated-GEMM micro-kernel (8 lanes = 8 rows of C, 4 columns). Contracts:
 * native/core/emu_kernels.h and float_round.h; the steps of the scalar
 * reference on 8 lanes (vpsllvd/vpsrlvd give 0 for counts >= 32, unsigned
 * compares by flipping the sign bit), so results are bit-identical. */
#include <immintrin.h>

#include "emu_kernels.h"
#include "rng_avx2.h"

#define MR 8
#define NR 4

static inline __m256i set1_u32(uint32_t v) { return _mm256_set1_epi32((int)v); }

static inline __m256i cmpgt_u32(__m256i a, __m256i b)
{
    const __m256i flip = set1_u32(0x80000000u);
    return _mm256_cmpgt_epi32(_mm256_xor_si256(a, flip), _mm256_xor_si256(b, flip));
}

static inline __m256i select_u32(__m256i mask, __m256i yes, __m256i no)
{
    return _mm256_blendv_epi8(no, yes, mask);
}

static inline void index_halves_avx2(uint64_t base, __m256i *lo, __m256i *hi)
{
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    *lo = _mm256_add_epi32(set1_u32((uint32_t)base), iota);
    __m256i carry = cmpgt_u32(iota, *lo); /* all-ones lanes = -1 */
    *hi = _mm256_sub_epi32(set1_u32((uint32_t)(base >> 32)), carry);
}

static inline __m256 dfp_round_fp_ps_avx2(__m256 x, const dfp_fmt_consts *c, int stochastic,
                                          __m256i rnd)
{
    const __m256i u = _mm256_castps_si256(x), one = _mm256_set1_epi32(1);
    const __m256i a = _mm256_and_si256(u, set1_u32(DFP_F32_ABS_MASK));
    const __m256i sign = _mm256_andnot_si256(set1_u32(DFP_F32_ABS_MASK), u);
    const __m256i eb = _mm256_srli_epi32(a, 23);
    __m256i subnormal = _mm256_cmpeq_epi32(eb, _mm256_setzero_si256());
    __m256i s = select_u32(subnormal, a,
                           _mm256_or_si256(_mm256_and_si256(a, set1_u32(0x7fffffu)), set1_u32(0x800000u)));
    __m256i below = _mm256_sub_epi32(_mm256_set1_epi32(c->tb), _mm256_max_epi32(eb, one));
    __m256i d = _mm256_add_epi32(_mm256_set1_epi32(23 - c->man_bits),
                                 _mm256_max_epi32(below, _mm256_setzero_si256()));
    d = _mm256_min_epi32(d, _mm256_set1_epi32(63));
    const __m256i c32 = _mm256_set1_epi32(32);
    __m256i frac = _mm256_or_si256(_mm256_sllv_epi32(s, _mm256_sub_epi32(c32, d)),
                                   _mm256_srlv_epi32(s, _mm256_sub_epi32(d, c32)));
    __m256i up;
    if (stochastic) {
        up = cmpgt_u32(frac, rnd);
    } else {
        const __m256i half = set1_u32(0x80000000u);
        __m256i odd = _mm256_and_si256(_mm256_srlv_epi32(s, d), one);
        __m256i tie = _mm256_and_si256(_mm256_cmpeq_epi32(frac, half), _mm256_cmpeq_epi32(odd, one));
        up = _mm256_or_si256(cmpgt_u32(frac, half), tie);
    }
    __m256i out = _mm256_sllv_epi32(_mm256_sub_epi32(_mm256_srlv_epi32(a, d), up), d);
    __m256i tiny = _mm256_cmpgt_epi32(d, _mm256_set1_epi32(23));
    out = select_u32(tiny, _mm256_and_si256(up, set1_u32(c->minsub_bits)), out);
    out = select_u32(cmpgt_u32(out, set1_u32(c->max_bits)), set1_u32(c->overflow_bits), out);
    __m256i inf = set1_u32(DFP_F32_INF_BITS);
    out = select_u32(_mm256_cmpeq_epi32(a, inf), a, out);
    out = select_u32(cmpgt_u32(a, inf), set1_u32(DFP_F32_QNAN_BITS), out);
    return _mm256_castsi256_ps(_mm256_or_si256(sign, out));
}

/* Index halves of base + lane * stride for 8 lanes. */
static inline void strided_halves_avx2(uint64_t base, uint64_t stride, __m256i *lo, __m256i *hi)
{
    if (stride == 1) {
        index_halves_avx2(base, lo, hi);
        return;
    }
    uint32_t l[MR], h[MR];
    dfp_fpemu_index_halves(base, stride, MR, l, h);
    *lo = _mm256_loadu_si256((const __m256i *)l);
    *hi = _mm256_loadu_si256((const __m256i *)h);
}

static void dfp_round_fp_avx2(const dfp_fmt_consts *c, int stochastic, uint64_t key,
                              uint64_t index0, uint64_t stride, const float *x, float *y,
                              int64_t n)
{
    __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
    for (int64_t i = 0; i < n; i += MR) {
        int len = n - i >= MR ? MR : (int)(n - i);
        float in[MR] = {0}, out[MR];
        for (int l = 0; l < len; l++)
            in[l] = x[i + l];
        if (stochastic)
            strided_halves_avx2(index0 + (uint64_t)i * stride, stride, &lo, &hi);
        __m256i rnd = stochastic ? rng_u32_avx2(key, lo, hi) : lo;
        _mm256_storeu_ps(out, dfp_round_fp_ps_avx2(_mm256_loadu_ps(in), c, stochastic, rnd));
        for (int l = 0; l < len; l++)
            y[i + l] = out[l];
    }
}

static inline __m256 acc_add_avx2(__m256 s, __m256 p, const dfp_fpemu_acc *acc, uint64_t key,
                                  __m256i lo, __m256i hi)
{
    __m256i rnd = acc->stochastic ? rng_u32_avx2(key, lo, hi) : lo;
    return dfp_round_fp_ps_avx2(_mm256_add_ps(s, p), &acc->fmt, acc->stochastic, rnd);
}

static void dfp_gemm_fpemu_f32_avx2_8x4(int64_t k, const float *a_panel, const float *b_panel,
                                        float *c_tile, int64_t i0, int64_t j0,
                                        const dfp_fpemu_acc *acc)
{
    __m256i lo[NR], hi[NR];
    __m256 total[NR], s[NR];
    for (int j = 0; j < NR; j++) {
        index_halves_avx2((uint64_t)((j0 + j) * acc->m + i0), &lo[j], &hi[j]);
        total[j] = acc->from_tile ? _mm256_loadu_ps(c_tile + j * MR) : _mm256_setzero_ps();
    }
    for (int64_t c0 = 0, ci = 0; c0 < k; c0 += acc->chunk, ci++) {
        int64_t end = dfp_fpemu_chunk_end(c0, acc->chunk, k);
        __m256 av = _mm256_loadu_ps(a_panel + c0 * MR);
        for (int j = 0; j < NR; j++)
            s[j] = _mm256_mul_ps(av, _mm256_set1_ps(b_panel[c0 * NR + j]));
        for (int64_t t = c0 + 1; t < end; t++) {
            uint64_t key = acc->stochastic ? dfp_rng_key(acc->key_add, (uint64_t)t) : 0u;
            av = _mm256_loadu_ps(a_panel + t * MR);
            for (int j = 0; j < NR; j++) {
                __m256 p = _mm256_mul_ps(av, _mm256_set1_ps(b_panel[t * NR + j]));
                s[j] = acc_add_avx2(s[j], p, acc, key, lo[j], hi[j]);
            }
        }
        uint64_t key = acc->stochastic ? dfp_rng_key(acc->key_total, (uint64_t)ci) : 0u;
        for (int j = 0; j < NR; j++)
            total[j] = acc_add_avx2(total[j], s[j], acc, key, lo[j], hi[j]);
    }
    for (int j = 0; j < NR; j++)
        _mm256_storeu_ps(c_tile + j * MR, total[j]);
}

/* Nearest-even rounding onto the accumulator grid by (v + C) - C (contract of
 * gemm_ukernel_nearest in emu_kernels.h); the final OR restores -0. */
static inline __m256 round_nearest_fast_avx2(__m256 v, __m256i emin_bits, __m256i shift_bits)
{
    const __m256i u = _mm256_castps_si256(v);
    const __m256i sign = _mm256_and_si256(u, set1_u32(DFP_F32_SIGN_MASK));
    __m256i e = _mm256_max_epu32(_mm256_and_si256(u, set1_u32(0x7f800000u)), emin_bits);
    __m256 c = _mm256_castsi256_ps(_mm256_or_si256(_mm256_add_epi32(e, shift_bits), sign));
    __m256 r = _mm256_sub_ps(_mm256_add_ps(v, c), c);
    return _mm256_castsi256_ps(_mm256_or_si256(_mm256_castps_si256(r), sign));
}

static void dfp_gemm_fpemu_nearest_f32_avx2_8x4(int64_t k, const float *a_panel,
                                                const float *b_panel, float *c_tile, int64_t i0,
                                                int64_t j0, const dfp_fpemu_acc *acc)
{
    const __m256i emin_bits = _mm256_set1_epi32(acc->fmt.tb << 23);
    const __m256i shift_bits = _mm256_set1_epi32((23 - acc->fmt.man_bits) << 23);
    __m256 total[NR], s[NR];
    for (int j = 0; j < NR; j++)
        total[j] = acc->from_tile ? _mm256_loadu_ps(c_tile + j * MR) : _mm256_setzero_ps();
    for (int64_t c0 = 0; c0 < k; c0 += acc->chunk) {
        int64_t end = dfp_fpemu_chunk_end(c0, acc->chunk, k);
        __m256 av = _mm256_loadu_ps(a_panel + c0 * MR);
        for (int j = 0; j < NR; j++)
            s[j] = _mm256_mul_ps(av, _mm256_set1_ps(b_panel[c0 * NR + j]));
        for (int64_t t = c0 + 1; t < end; t++) {
            av = _mm256_loadu_ps(a_panel + t * MR);
            for (int j = 0; j < NR; j++) {
                __m256 v = _mm256_fmadd_ps(av, _mm256_set1_ps(b_panel[t * NR + j]), s[j]);
                s[j] = round_nearest_fast_avx2(v, emin_bits, shift_bits);
            }
        }
        for (int j = 0; j < NR; j++)
            total[j] = round_nearest_fast_avx2(_mm256_add_ps(total[j], s[j]), emin_bits, shift_bits);
    }
    for (int j = 0; j < NR; j++)
        _mm256_storeu_ps(c_tile + j * MR, total[j]);
}

void dfp_emu_kernels_init_avx2(dfp_emu_kernels *k)
{
    k->round = dfp_round_fp_avx2;
    k->gemm_ukernel = dfp_gemm_fpemu_f32_avx2_8x4;
    k->gemm_ukernel_nearest = dfp_gemm_fpemu_nearest_f32_avx2_8x4;
    k->mr = MR;
    k->nr = NR;
}
