/* AVX-512BW packing runs and the epilogue row of the integer GEMM (contracts in int_kernels.h): the
 * scalar versions moved one int16 or one pair per store, which made packing as
 * costly as the products for operands used by few columns (M=16384, N=64).
 * Pure data movement and exact integer max: identical to the scalar reference. */
#include "int_kernels.h"
#include "s16_runs.h"

#include <immintrin.h>

/* Largest unsigned 16-bit lane: minpos of the complement finds it. */
static inline int32_t max_epu16(__m512i v)
{
    __m256i h = _mm256_max_epu16(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i q = _mm_max_epu16(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    return 0xffff - _mm_extract_epi16(_mm_minpos_epu16(_mm_xor_si128(q, _mm_set1_epi16(-1))), 0);
}

static int32_t load_s16_avx512(const int16_t *src, int64_t n, int16_t *dst, int32_t m, int64_t *sat)
{
    const __m512i floor = _mm512_set1_epi16(-32767), most_negative = _mm512_set1_epi16(INT16_MIN);
    __m512i mx = _mm512_setzero_si512();
    int64_t clamped = 0, i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512i v = _mm512_loadu_si512((const void *)(src + i));
        clamped += __builtin_popcount(_mm512_cmpeq_epi16_mask(v, most_negative));
        v = _mm512_max_epi16(v, floor);
        mx = _mm512_max_epu16(mx, _mm512_abs_epi16(v));
        _mm512_storeu_si512((void *)(dst + i), v);
    }
    int32_t vm = max_epu16(mx);
    m = dfp_load_s16_span(src, i, n, dst, vm > m ? vm : m, &clamped);
    *sat += clamped;
    return m;
}

static int32_t absmax_s16_avx512(const int16_t *v, int64_t n, int32_t m)
{
    __m512i mx = _mm512_setzero_si512();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        mx = _mm512_max_epu16(mx, _mm512_abs_epi16(_mm512_loadu_si512((const void *)(v + i))));
    int32_t vm = max_epu16(mx);
    return dfp_absmax_s16_span(v, i, n, vm > m ? vm : m);
}

/* Two groups per zmm: |v| summed in pairs by vpmaddwd (exact: |v| <= 32767),
 * then each 256-bit half reduced: within 128-bit lanes by two shuffles, across
 * the two lanes of each half by a 128-bit lane swap. */
static void l1_groups_s16_avx512(const int16_t *v, int64_t ngroups, int32_t *out)
{
    const __m512i ones = _mm512_set1_epi16(1);
    int64_t j = 0;
    for (; j + 2 <= ngroups; j += 2) {
        __m512i s = _mm512_madd_epi16(_mm512_abs_epi16(_mm512_loadu_si512((const void *)(v + 16 * j))), ones);
        s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_BADC));
        s = _mm512_add_epi32(s, _mm512_shuffle_epi32(s, _MM_PERM_CDAB));
        s = _mm512_add_epi32(s, _mm512_shuffle_i32x4(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
        out[j] += _mm_cvtsi128_si32(_mm512_castsi512_si128(s));
        out[j + 1] += _mm_cvtsi128_si32(_mm512_extracti32x4_epi32(s, 2));
    }
    dfp_l1_groups_s16_span(v, j, ngroups, out);
}

/* Panel group sums: a pair's 2w int16 lie side by side, so |v| summed in pairs
 * by vpmaddwd gives one row's sum per INT32 lane, 16 rows a zmm (masked past w);
 * 8 pairs added per group. */
static void l1_groups_panel_s16_avx512(const int16_t *pan, int w, int64_t kp, int32_t *sums)
{
    const __m512i ones = _mm512_set1_epi16(1);
    for (int64_t g = 0; g * 8 < kp; g++) {
        const int64_t q1 = g * 8 + 8 < kp ? g * 8 + 8 : kp;
        for (int i0 = 0; i0 < w; i0 += 16) {
            const int rows = w - i0 < 16 ? w - i0 : 16;
            const __mmask32 m = rows == 16 ? 0xffffffffu : (__mmask32)((1u << (2 * rows)) - 1);
            __m512i s = _mm512_setzero_si512();
            for (int64_t q = g * 8; q < q1; q++) {
                __m512i v = _mm512_maskz_loadu_epi16(m, pan + (q * w + i0) * 2);
                s = _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_abs_epi16(v), ones));
            }
            _mm512_mask_storeu_epi32(sums + g * w + i0, (__mmask16)((1u << rows) - 1), s);
        }
    }
}

/* 8 rows x 16 pairs (one zmm of 32-bit pairs per row) transposed into 16 pairs x
 * 8 rows: 32-bit then 64-bit unpacks give, per 128-bit lane, 4 rows of one pair;
 * vpermt2q joins the two row halves into whole 256-bit pair rows. Pairs at or
 * past np (the tail block) are loaded as zero and not stored. */
static inline void pack_block16(const int16_t *const rows[8], int64_t p0, int64_t np, int w,
                                int32_t *dst)
{
    int64_t left = np - p0;
    __mmask16 lm = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
    __m512i r[8];
    for (int i = 0; i < 8; i++)
        r[i] = rows[i] ? _mm512_maskz_loadu_epi32(lm, rows[i] + 2 * p0) : _mm512_setzero_si512();
    __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]), t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]), t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    __m512i t4 = _mm512_unpacklo_epi32(r[4], r[5]), t5 = _mm512_unpackhi_epi32(r[4], r[5]);
    __m512i t6 = _mm512_unpacklo_epi32(r[6], r[7]), t7 = _mm512_unpackhi_epi32(r[6], r[7]);
    __m512i lo[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2),
                     _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
    __m512i hi[4] = {_mm512_unpacklo_epi64(t4, t6), _mm512_unpackhi_epi64(t4, t6),
                     _mm512_unpacklo_epi64(t5, t7), _mm512_unpackhi_epi64(t5, t7)};
    const __m512i lanes01 = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i lanes23 = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    /* lo[j] lane L holds rows 0-3 of pair 4L + j, hi[j] rows 4-7 */
    int all_rows = 1;
    for (int i = 0; i < 8; i++)
        all_rows &= rows[i] != NULL;
    for (int j = 0; j < 4; j++) {
        __m512i x = _mm512_permutex2var_epi64(lo[j], lanes01, hi[j]);
        __m512i y = _mm512_permutex2var_epi64(lo[j], lanes23, hi[j]);
        __m256i q[4] = {_mm512_castsi512_si256(x), _mm512_extracti64x4_epi64(x, 1),
                        _mm512_castsi512_si256(y), _mm512_extracti64x4_epi64(y, 1)};
        for (int l = 0; l < 4; l++) {
            int64_t p = 4 * l + j;
            if (p >= left)
                continue;
            if (all_rows) {
                _mm256_storeu_si256((__m256i *)(dst + (p0 + p) * w), q[l]);
            } else {
                __mmask8 present = 0;
                for (int i = 0; i < 8; i++)
                    present |= (__mmask8)((rows[i] != NULL) << i);
                _mm256_mask_storeu_epi32(dst + (p0 + p) * w, present, q[l]);
            }
        }
    }
}

static void pack_pairs8_avx512(const int16_t *const rows[8], int64_t np, int w, int32_t *dst)
{
    for (int64_t p0 = 0; p0 < np; p0 += 16)
        pack_block16(rows, p0, np, w, dst);
}

/* word k of the low interleave: even[k/2] or odd[k/2] (index + 32 selects the
 * odd source); constant tables, not built per call */
static const int16_t interleave_lo[32] = {0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
                                          8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
static const int16_t interleave_hi[32] = {16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
                                          24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};

static void interleave_s16_avx512(const int16_t *even, const int16_t *odd, int64_t n, int16_t *dst)
{
    const __m512i idx_lo = _mm512_loadu_si512((const void *)interleave_lo);
    const __m512i idx_hi = _mm512_loadu_si512((const void *)interleave_hi);
    for (int64_t i = 0; i < n; i += 32) {
        /* the last block masked: loads past n read nothing, stores write 2(n - i) values */
        int64_t left = n - i < 32 ? n - i : 32;
        __mmask32 in = (__mmask32)(left == 32 ? 0xffffffffu : (1u << left) - 1);
        __mmask32 out_lo = (__mmask32)(left >= 16 ? 0xffffffffu : (1u << (2 * left)) - 1);
        __mmask32 out_hi = (__mmask32)(left == 32 ? 0xffffffffu : left <= 16 ? 0 : (1u << (2 * (left - 16))) - 1);
        __m512i e = _mm512_maskz_loadu_epi16(in, even + i);
        __m512i o = odd ? _mm512_maskz_loadu_epi16(in, odd + i) : _mm512_setzero_si512();
        _mm512_mask_storeu_epi16(dst + 2 * i, out_lo, _mm512_permutex2var_epi16(e, idx_lo, o));
        _mm512_mask_storeu_epi16(dst + 2 * i + 32, out_hi, _mm512_permutex2var_epi16(e, idx_hi, o));
    }
}

/* One K pair a step: both stored rows loaded (masked to `rows` lanes, the rest
 * 0), clamped, counted and measured, interleaved and stored; a call per pair
 * (interleave, then a clamp pass) was 5% of a 1024^3 GEMM. */
static int32_t pack_kpairs_s16_avx512(const int16_t *s, int64_t ld, int64_t k, int64_t rows, int16_t *panel,
                                      int32_t m, int64_t *clamped)
{
    const __m512i idx_lo = _mm512_loadu_si512((const void *)interleave_lo);
    const __m512i idx_hi = _mm512_loadu_si512((const void *)interleave_hi);
    const __m512i floor = _mm512_set1_epi16(-32767), most_negative = _mm512_set1_epi16(INT16_MIN);
    const __mmask32 in = (__mmask32)(rows >= 32 ? 0xffffffffu : (1u << rows) - 1);
    __m512i mx = _mm512_setzero_si512();
    int64_t n = 0;
    for (int64_t p = 0; 2 * p < k; p++) {
        __m512i e = _mm512_maskz_loadu_epi16(in, s + 2 * p * ld);
        __m512i o = 2 * p + 1 < k ? _mm512_maskz_loadu_epi16(in, s + (2 * p + 1) * ld) : _mm512_setzero_si512();
        n += __builtin_popcount(_mm512_cmpeq_epi16_mask(e, most_negative)) +
             __builtin_popcount(_mm512_cmpeq_epi16_mask(o, most_negative));
        e = _mm512_max_epi16(e, floor);
        o = _mm512_max_epi16(o, floor);
        mx = _mm512_max_epu16(mx, _mm512_max_epu16(_mm512_abs_epi16(e), _mm512_abs_epi16(o)));
        _mm512_storeu_si512((void *)(panel + p * 64), _mm512_permutex2var_epi16(e, idx_lo, o));
        _mm512_storeu_si512((void *)(panel + p * 64 + 32), _mm512_permutex2var_epi16(e, idx_hi, o));
    }
    *clamped += n;
    int32_t vm = max_epu16(mx);
    return vm > m ? vm : m;
}

static void scale_row_avx512(const float *sums, int64_t n, float sa, float sb, float *c, int accumulate)
{
    const __m512 va = _mm512_set1_ps(sa), vb = _mm512_set1_ps(sb);
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(sums + j), va), vb);
        _mm512_storeu_ps(c + j, accumulate ? _mm512_add_ps(_mm512_loadu_ps(c + j), t) : t);
    }
    if (j < n) {
        __mmask16 mk = (__mmask16)((1u << (n - j)) - 1);
        __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, sums + j), va), vb);
        _mm512_mask_storeu_ps(c + j, mk, accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(mk, c + j), t) : t);
    }
}

void dfp_pack_s16_kernels_init_avx512(dfp_int_kernels *k)
{
    k->load_s16 = load_s16_avx512;
    k->absmax_s16 = absmax_s16_avx512;
    k->l1_groups_s16 = l1_groups_s16_avx512;
    k->l1_groups_panel_s16 = l1_groups_panel_s16_avx512;
    k->pack_pairs8 = pack_pairs8_avx512;
    k->interleave_s16 = interleave_s16_avx512;
    k->pack_kpairs_s16 = pack_kpairs_s16_avx512;
    k->scale_row = scale_row_avx512;
}
