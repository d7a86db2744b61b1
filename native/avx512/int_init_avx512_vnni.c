/* AVX-512 VNNI integer GEMM micro-kernel: igemm_s16 8x32 with vpdpwssd.
 *
 * Contract (see int_kernels.h): a = kp pairs x 8 rows x 2 int16, b = kp pairs x
 * 32 cols x 2 int16 (64 bytes per pair: two zmm of 16 column pairs). For each
 * pair p and row i, the 32-bit pair (a[p][i][0], a[p][i][1]) is broadcast and
 * vpdpwssd adds a0*b0 + a1*b1 into each INT32 lane, exactly as the scalar
 * reference does (no saturation; the driver's chunk makes overflow impossible;
 * operands never hold -32768). After each chunk of `chunk` pairs the 16 INT32
 * accumulators are converted (round to nearest) and added into the FP32 tile c.
 * 8 rows (not 12): channel counts of CNNs (16, 32, 64, ...) are multiples of 8
 * and not of 12, where padded rows would waste up to a third of the work.
 * Only the quantisers differ from the AVX-512BW overlay, which this one extends. */
#include "int_kernels.h"

#include <immintrin.h>
#include <string.h>

#define MR 8
#define NR 32

/* Flush one INT32 chunk sum into the FP32 tile: c += (float)s, or c = (float)s
 * for the first chunk of a fresh tile (the same value as 0 + (float)s, whose
 * zero is never -0): no zeroing pass, no load. */
static inline void flush(float *c, __m512i s, int first)
{
    __m512 v = _mm512_cvtepi32_ps(s);
    _mm512_storeu_ps(c, first ? v : _mm512_add_ps(_mm512_loadu_ps(c), v));
}

/* The pair at p broadcast to all 16 lanes: a pure load uop. Each broadcast
 * serves two vpdpwssd (b0 and b1): with the embedded-broadcast memory form every
 * vpdpwssd was a load of its own, 18 loads per 16 multiply-adds, and the two load
 * ports, not the multiply-add ports, set the pace. */
static inline __m512i bcast_pair(const int16_t *p)
{
    __m512i v;
    __asm__("vpbroadcastd %1, %0" : "=v"(v) : "m"(*(const int32_t *)p));
    return v;
}

/* acc += pairwise products of b and the broadcast pair a. Inline asm because
 * GCC 12 moves every loop-carried accumulator of the intrinsic through zmm0-15. */
static inline __m512i dpwssd(__m512i acc, __m512i b, __m512i a)
{
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(b), "v"(a));
    return acc;
}

/* The body of all entry points: A from a packed panel (arows == NULL: pair p
 * at a + p * 16) or read in place (row i's pair p at arows[i] + 2p); B from a
 * packed panel (off == NULL: pair p at b + p * 64) or read in place (pair p: two
 * runs of 16 pairs at runs[0..1] + off[p], or with run8 four runs of 8 at
 * runs[0..3] + off[p]); always inlined, so each entry point is compiled for its
 * own case. */
/* The block floating point flush (igemm_s16_bfp): c = (first ? +0 : c) +
 * (float)s * 2^(ea + eb), the power of two from its bits, per 16 columns. */
static inline void flush_scaled(float *c, __m512i s, __m512i e_row, __m512i eb, int first)
{
    __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e_row, eb), 23));
    __m512 base = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c);
    _mm512_storeu_ps(c, _mm512_add_ps(base, _mm512_mul_ps(_mm512_cvtepi32_ps(s), scale)));
}

static inline __attribute__((always_inline)) void
igemm_body(int64_t kp, int64_t chunk, const int16_t *a, const int16_t *const *arows,
           const int16_t *b, const int16_t *const *runs, const int run8, const int64_t *off,
           float *c, int64_t ldc, int accumulate, const int32_t *ea, const int32_t *eb)
{
    for (int64_t p0 = 0; p0 < kp; p0 += chunk) {
        const int first = p0 == 0 && !accumulate;
        const int16_t *ap = arows ? NULL : a + p0 * MR * 2, *bp = off ? NULL : b + p0 * NR * 2;
        const int16_t *r0 = NULL, *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL, *r5 = NULL,
                      *r6 = NULL, *r7 = NULL;
        if (arows) {
            r0 = arows[0] + 2 * p0, r1 = arows[1] + 2 * p0, r2 = arows[2] + 2 * p0, r3 = arows[3] + 2 * p0;
            r4 = arows[4] + 2 * p0, r5 = arows[5] + 2 * p0, r6 = arows[6] + 2 * p0, r7 = arows[7] + 2 * p0;
        }
        int64_t n = p0 + chunk < kp ? chunk : kp - p0;
        __m512i s00 = _mm512_setzero_si512(), s01 = _mm512_setzero_si512(), s10 = _mm512_setzero_si512(),
                s11 = _mm512_setzero_si512(), s20 = _mm512_setzero_si512(), s21 = _mm512_setzero_si512(),
                s30 = _mm512_setzero_si512(), s31 = _mm512_setzero_si512(), s40 = _mm512_setzero_si512(),
                s41 = _mm512_setzero_si512(), s50 = _mm512_setzero_si512(), s51 = _mm512_setzero_si512(),
                s60 = _mm512_setzero_si512(), s61 = _mm512_setzero_si512(), s70 = _mm512_setzero_si512(),
                s71 = _mm512_setzero_si512();
        for (int64_t p = 0; p < n; p++, ap += arows ? 0 : MR * 2) {
            __m512i b0, b1, a0, a1, a2, a3, a4, a5, a6, a7;
            if (off && run8) {
                const int64_t o = off[p0 + p];
                b0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const void *)(runs[0] + o))),
                                        _mm256_loadu_si256((const void *)(runs[1] + o)), 1);
                b1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const void *)(runs[2] + o))),
                                        _mm256_loadu_si256((const void *)(runs[3] + o)), 1);
            } else if (off) {
                b0 = _mm512_loadu_si512((const void *)(runs[0] + off[p0 + p]));
                b1 = _mm512_loadu_si512((const void *)(runs[1] + off[p0 + p]));
            } else {
                b0 = _mm512_load_si512((const void *)bp);
                b1 = _mm512_load_si512((const void *)(bp + 32));
                bp += NR * 2;
            }
            a0 = bcast_pair(arows ? r0 + 2 * p : ap + 0);
            s00 = dpwssd(s00, b0, a0);
            s01 = dpwssd(s01, b1, a0);
            a1 = bcast_pair(arows ? r1 + 2 * p : ap + 2);
            s10 = dpwssd(s10, b0, a1);
            s11 = dpwssd(s11, b1, a1);
            a2 = bcast_pair(arows ? r2 + 2 * p : ap + 4);
            s20 = dpwssd(s20, b0, a2);
            s21 = dpwssd(s21, b1, a2);
            a3 = bcast_pair(arows ? r3 + 2 * p : ap + 6);
            s30 = dpwssd(s30, b0, a3);
            s31 = dpwssd(s31, b1, a3);
            a4 = bcast_pair(arows ? r4 + 2 * p : ap + 8);
            s40 = dpwssd(s40, b0, a4);
            s41 = dpwssd(s41, b1, a4);
            a5 = bcast_pair(arows ? r5 + 2 * p : ap + 10);
            s50 = dpwssd(s50, b0, a5);
            s51 = dpwssd(s51, b1, a5);
            a6 = bcast_pair(arows ? r6 + 2 * p : ap + 12);
            s60 = dpwssd(s60, b0, a6);
            s61 = dpwssd(s61, b1, a6);
            a7 = bcast_pair(arows ? r7 + 2 * p : ap + 14);
            s70 = dpwssd(s70, b0, a7);
            s71 = dpwssd(s71, b1, a7);
        }
        if (ea) { /* one chunk, the block: scaled flush */
            const __m512i eb0 = _mm512_loadu_si512(eb), eb1 = _mm512_loadu_si512(eb + 16);
            const __m512i s[MR][2] = {{s00, s01}, {s10, s11}, {s20, s21}, {s30, s31},
                                      {s40, s41}, {s50, s51}, {s60, s61}, {s70, s71}};
            for (int i = 0; i < MR; i++) {
                const __m512i e_row = _mm512_set1_epi32(ea[i] + 127);
                flush_scaled(c + i * ldc + 0, s[i][0], e_row, eb0, !accumulate);
                flush_scaled(c + i * ldc + 16, s[i][1], e_row, eb1, !accumulate);
            }
            continue;
        }
        flush(c + 0 * ldc + 0, s00, first);
        flush(c + 0 * ldc + 16, s01, first);
        flush(c + 1 * ldc + 0, s10, first);
        flush(c + 1 * ldc + 16, s11, first);
        flush(c + 2 * ldc + 0, s20, first);
        flush(c + 2 * ldc + 16, s21, first);
        flush(c + 3 * ldc + 0, s30, first);
        flush(c + 3 * ldc + 16, s31, first);
        flush(c + 4 * ldc + 0, s40, first);
        flush(c + 4 * ldc + 16, s41, first);
        flush(c + 5 * ldc + 0, s50, first);
        flush(c + 5 * ldc + 16, s51, first);
        flush(c + 6 * ldc + 0, s60, first);
        flush(c + 6 * ldc + 16, s61, first);
        flush(c + 7 * ldc + 0, s70, first);
        flush(c + 7 * ldc + 16, s71, first);
    }
}

static void igemm_s16_avx512_vnni_8x32(int64_t kp, int64_t chunk, const int16_t *a,
                                       const int16_t *b, float *c, int64_t ldc, int accumulate)
{
    igemm_body(kp, chunk, a, NULL, b, NULL, 0, NULL, c, ldc, accumulate, NULL, NULL);
}

static void igemm_s16_arows_avx512_vnni_8x32(int64_t kp, int64_t chunk, const int16_t *const *arows,
                                             const int16_t *b, float *c, int64_t ldc, int accumulate)
{
    igemm_body(kp, chunk, NULL, arows, b, NULL, 0, NULL, c, ldc, accumulate, NULL, NULL);
}

static void igemm_s16_inplace_avx512_vnni_8x32(int64_t kp, int64_t chunk, const int16_t *a,
                                               const int16_t *const *runs, int run,
                                               const int64_t *off, float *c, int64_t ldc,
                                               int accumulate)
{
    if (run == 8)
        igemm_body(kp, chunk, a, NULL, NULL, runs, 1, off, c, ldc, accumulate, NULL, NULL);
    else
        igemm_body(kp, chunk, a, NULL, NULL, runs, 0, off, c, ldc, accumulate, NULL, NULL);
}

static void igemm_s16_bfp_avx512_vnni_8x32(int64_t kp, const int16_t *a, const int16_t *b,
                                           const int32_t *ea, const int32_t *eb, float *c,
                                           int64_t ldc, int first)
{
    igemm_body(kp, kp, a, NULL, b, NULL, 0, NULL, c, ldc, !first, ea, eb);
}

void dfp_int_kernels_init_avx512_vnni(dfp_int_kernels *k)
{
    k->mr = MR;
    k->nr = NR;
    k->igemm_s16 = igemm_s16_avx512_vnni_8x32;
    k->igemm_s16_inplace = igemm_s16_inplace_avx512_vnni_8x32;
    k->igemm_s16_arows = igemm_s16_arows_avx512_vnni_8x32;
    k->igemm_s16_bfp = igemm_s16_bfp_avx512_vnni_8x32;
}
