/* AVX2 packing runs and the epilogue row of the integer GEMM (contracts in
 * int_kernels.h): the AVX-512BW scheme on 256-bit vectors, tails through the
 * scalar spans of s16_runs.h. Pure data movement, exact integer sums and
 * maxima, and the epilogue's two products in the scalar order: identical to the
 * scalar reference. */
#include "int_kernels.h"
#include "lanes_avx2.h"
#include "s16_runs.h"

#include <immintrin.h>

/* Largest unsigned 16-bit lane: minpos of the complement finds it. */
static inline int32_t max_epu16(__m256i v)
{
    __m128i q = _mm_max_epu16(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return 0xffff - _mm_extract_epi16(_mm_minpos_epu16(_mm_xor_si128(q, _mm_set1_epi16(-1))), 0);
}

static int32_t load_s16_avx2(const int16_t *src, int64_t n, int16_t *dst, int32_t m, int64_t *sat)
{
    const __m256i floor = _mm256_set1_epi16(-32767), most_negative = _mm256_set1_epi16(INT16_MIN);
    __m256i mx = _mm256_setzero_si256();
    int64_t clamped = 0, i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(src + i));
        const unsigned eq = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi16(v, most_negative));
        clamped += __builtin_popcount(eq) / 2; /* two mask bits a lane */
        v = _mm256_max_epi16(v, floor);
        mx = _mm256_max_epu16(mx, _mm256_abs_epi16(v));
        _mm256_storeu_si256((__m256i *)(dst + i), v);
    }
    int32_t vm = max_epu16(mx);
    m = dfp_load_s16_span(src, i, n, dst, vm > m ? vm : m, &clamped);
    *sat += clamped;
    return m;
}

static int32_t absmax_s16_avx2(const int16_t *v, int64_t n, int32_t m)
{
    __m256i mx = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        mx = _mm256_max_epu16(mx, _mm256_abs_epi16(_mm256_loadu_si256((const __m256i *)(v + i))));
    int32_t vm = max_epu16(mx);
    return dfp_absmax_s16_span(v, i, n, vm > m ? vm : m);
}

/* One group per ymm: |v| summed in pairs by vpmaddwd (exact: |v| <= 32767),
 * then the 8 lanes reduced. */
static void l1_groups_s16_avx2(const int16_t *v, int64_t ngroups, int32_t *out)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t j = 0; j < ngroups; j++) {
        __m256i a = _mm256_abs_epi16(_mm256_loadu_si256((const __m256i *)(v + 16 * j)));
        __m256i s = _mm256_madd_epi16(a, ones);
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
        out[j] += _mm_cvtsi128_si32(h);
    }
}

/* Panel group sums: a pair's 2w int16 lie side by side, so |v| summed in pairs
 * by vpmaddwd gives one row's sum per INT32 lane, 8 rows a ymm (masked past w);
 * 8 pairs added per group. */
static void l1_groups_panel_s16_avx2(const int16_t *pan, int w, int64_t kp, int32_t *sums)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t g = 0; g * 8 < kp; g++) {
        const int64_t q1 = g * 8 + 8 < kp ? g * 8 + 8 : kp;
        for (int i0 = 0; i0 < w; i0 += 8) {
            const __m256i m = first_lanes_avx2(w - i0);
            __m256i s = _mm256_setzero_si256();
            for (int64_t q = g * 8; q < q1; q++) {
                __m256i v = _mm256_maskload_epi32((const int *)(pan + (q * w + i0) * 2), m);
                s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_abs_epi16(v), ones));
            }
            _mm256_maskstore_epi32(sums + g * w + i0, m, s);
        }
    }
}

static void interleave_s16_avx2(const int16_t *even, const int16_t *odd, int64_t n, int16_t *dst)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i e = _mm256_loadu_si256((const __m256i *)(even + i));
        __m256i o = odd ? _mm256_loadu_si256((const __m256i *)(odd + i)) : _mm256_setzero_si256();
        __m256i lo = _mm256_unpacklo_epi16(e, o), hi = _mm256_unpackhi_epi16(e, o); /* 0-3|8-11, 4-7|12-15 */
        _mm256_storeu_si256((__m256i *)(dst + 2 * i), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + 2 * i + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
    }
    for (; i < n; i++) {
        dst[2 * i] = even[i];
        dst[2 * i + 1] = odd ? odd[i] : 0;
    }
}

static void scale_row_avx2(const float *sums, int64_t n, float sa, float sb, float *c, int accumulate)
{
    const __m256 va = _mm256_set1_ps(sa), vb = _mm256_set1_ps(sb);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(sums + j), va), vb);
        _mm256_storeu_ps(c + j, accumulate ? _mm256_add_ps(_mm256_loadu_ps(c + j), t) : t);
    }
    for (; j < n; j++)
        c[j] = accumulate ? c[j] + sums[j] * sa * sb : sums[j] * sa * sb;
}

void dfp_pack_s16_kernels_init_avx2(dfp_int_kernels *k)
{
    k->load_s16 = load_s16_avx2;
    k->absmax_s16 = absmax_s16_avx2;
    k->l1_groups_s16 = l1_groups_s16_avx2;
    k->l1_groups_panel_s16 = l1_groups_panel_s16_avx2;
    k->interleave_s16 = interleave_s16_avx2;
    k->scale_row = scale_row_avx2;
}
