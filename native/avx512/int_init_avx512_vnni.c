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

/* The 16 accumulators live in zmm16-31 for the whole kernel: local register
 * variables, used only as operands of the asm below (the use GCC guarantees).
 * Left to the allocator, GCC 12 copied them between registers inside the loop
 * (the intrinsic: through zmm0-15 every pair; the asm with A rows or B read in
 * place: 4 to 8 vmovdqa64 per 4 pairs), vector uops on the multiply-add ports.
 * zmm16-31, not 0-15: GCC takes zmm0-15 for the B loads of the inserti64x4
 * path and spilled a pinned accumulator around each. Each is zeroed by its own
 * idiom (no execution port): setzero is one zeroed register copied into the
 * other 15 with vmovdqa64 at every chunk. */
#define ZERO(acc) __asm__ volatile("vpxord %0, %0, %0" : "=v"(acc))
/* acc += pairwise products of b and the broadcast pair a. */
#define DPWSSD(acc, b, a) __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(b), "v"(a))

/* The block floating point flush (igemm_s16_bfp): c = (first ? +0 : c) +
 * (float)s * 2^(ea + eb), the power of two from its bits, per 16 columns. */
static inline void flush_scaled(float *c, __m512i s, __m512i e_row, __m512i eb, int first)
{
    __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e_row, eb), 23));
    __m512 base = first ? _mm512_setzero_ps() : _mm512_loadu_ps(c);
    _mm512_storeu_ps(c, _mm512_add_ps(base, _mm512_mul_ps(_mm512_cvtepi32_ps(s), scale)));
}

/* The K pair at offset u from the current position (A at ap or rows r0..r7, B
 * at bp or at the offsets op) into the 16 accumulators. Every pointer advances
 * once per trip and each pair is a constant offset from it: with a pair index
 * GCC kept four copies of the eight row pointers and ran out of registers. */
#define PAIR_STEP(u)                                                                               \
    do {                                                                                           \
        __m512i b0, b1, x;                                                                         \
        if (off && run8) {                                                                         \
            const int64_t o = op[u];                                                               \
            b0 = _mm512_inserti64x4(                                                               \
                _mm512_castsi256_si512(_mm256_loadu_si256((const void *)(runs[0] + o))),           \
                _mm256_loadu_si256((const void *)(runs[1] + o)), 1);                               \
            b1 = _mm512_inserti64x4(                                                               \
                _mm512_castsi256_si512(_mm256_loadu_si256((const void *)(runs[2] + o))),           \
                _mm256_loadu_si256((const void *)(runs[3] + o)), 1);                               \
        } else if (off) {                                                                          \
            b0 = _mm512_loadu_si512((const void *)(runs[0] + op[u]));                              \
            b1 = _mm512_loadu_si512((const void *)(runs[1] + op[u]));                              \
        } else {                                                                                   \
            b0 = _mm512_load_si512((const void *)(bp + (u) * NR * 2));                             \
            b1 = _mm512_load_si512((const void *)(bp + (u) * NR * 2 + 32));                        \
        }                                                                                          \
        x = bcast_pair(arows ? r0 + 2 * (u) : ap + (u) * MR * 2 + 0);                              \
        DPWSSD(s00, b0, x);                                                                        \
        DPWSSD(s01, b1, x);                                                                        \
        x = bcast_pair(arows ? r1 + 2 * (u) : ap + (u) * MR * 2 + 2);                              \
        DPWSSD(s10, b0, x);                                                                        \
        DPWSSD(s11, b1, x);                                                                        \
        x = bcast_pair(arows ? r2 + 2 * (u) : ap + (u) * MR * 2 + 4);                              \
        DPWSSD(s20, b0, x);                                                                        \
        DPWSSD(s21, b1, x);                                                                        \
        x = bcast_pair(arows ? r3 + 2 * (u) : ap + (u) * MR * 2 + 6);                              \
        DPWSSD(s30, b0, x);                                                                        \
        DPWSSD(s31, b1, x);                                                                        \
        x = bcast_pair(arows ? r4 + 2 * (u) : ap + (u) * MR * 2 + 8);                              \
        DPWSSD(s40, b0, x);                                                                        \
        DPWSSD(s41, b1, x);                                                                        \
        x = bcast_pair(arows ? r5 + 2 * (u) : ap + (u) * MR * 2 + 10);                             \
        DPWSSD(s50, b0, x);                                                                        \
        DPWSSD(s51, b1, x);                                                                        \
        x = bcast_pair(arows ? r6 + 2 * (u) : ap + (u) * MR * 2 + 12);                             \
        DPWSSD(s60, b0, x);                                                                        \
        DPWSSD(s61, b1, x);                                                                        \
        x = bcast_pair(arows ? r7 + 2 * (u) : ap + (u) * MR * 2 + 14);                             \
        DPWSSD(s70, b0, x);                                                                        \
        DPWSSD(s71, b1, x);                                                                        \
    } while (0)

/* Moves every operand pointer on by t pairs. */
#define ADVANCE(t)                                                                                 \
    do {                                                                                           \
        if (arows)                                                                                 \
            r0 += 2 * (t), r1 += 2 * (t), r2 += 2 * (t), r3 += 2 * (t), r4 += 2 * (t),             \
                r5 += 2 * (t), r6 += 2 * (t), r7 += 2 * (t);                                       \
        else                                                                                       \
            ap += (t) * MR * 2;                                                                    \
        if (off)                                                                                   \
            op += (t);                                                                             \
        else                                                                                       \
            bp += (t) * NR * 2;                                                                    \
    } while (0)

/* The body of all entry points: A from a packed panel (arows == NULL: pair p
 * at a + p * 16) or read in place (row i's pair p at arows[i] + 2p); B from a
 * packed panel (off == NULL: pair p at b + p * 64) or read in place (pair p: two
 * runs of 16 pairs at runs[0..1] + off[p], or with run8 four runs of 8 at
 * runs[0..3] + off[p]); always inlined, so each entry point is compiled for its
 * own case. */
static inline __attribute__((always_inline)) void
igemm_body(int64_t kp, int64_t chunk, const int16_t *a, const int16_t *const *arows,
           const int16_t *b, const int16_t *const *runs, const int run8, const int64_t *off,
           float *c, int64_t ldc, int accumulate, const int32_t *ea, const int32_t *eb)
{
    for (int64_t p0 = 0; p0 < kp; p0 += chunk) {
        const int first = p0 == 0 && !accumulate;
        const int16_t *ap = arows ? NULL : a + p0 * MR * 2, *bp = off ? NULL : b + p0 * NR * 2;
        const int64_t *op = off ? off + p0 : NULL;
        const int16_t *r0 = NULL, *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL, *r5 = NULL,
                      *r6 = NULL, *r7 = NULL;
        if (arows) {
            r0 = arows[0] + 2 * p0, r1 = arows[1] + 2 * p0, r2 = arows[2] + 2 * p0, r3 = arows[3] + 2 * p0;
            r4 = arows[4] + 2 * p0, r5 = arows[5] + 2 * p0, r6 = arows[6] + 2 * p0, r7 = arows[7] + 2 * p0;
        }
        int64_t n = p0 + chunk < kp ? chunk : kp - p0;
        register __m512i s00 __asm__("zmm16"), s01 __asm__("zmm17"), s10 __asm__("zmm18"),
            s11 __asm__("zmm19"), s20 __asm__("zmm20"), s21 __asm__("zmm21"), s30 __asm__("zmm22"),
            s31 __asm__("zmm23"), s40 __asm__("zmm24"), s41 __asm__("zmm25"), s50 __asm__("zmm26"),
            s51 __asm__("zmm27"), s60 __asm__("zmm28"), s61 __asm__("zmm29"), s70 __asm__("zmm30"),
            s71 __asm__("zmm31");
        ZERO(s00); ZERO(s01); ZERO(s10); ZERO(s11); ZERO(s20); ZERO(s21); ZERO(s30); ZERO(s31);
        ZERO(s40); ZERO(s41); ZERO(s50); ZERO(s51); ZERO(s60); ZERO(s61); ZERO(s70); ZERO(s71);
        int64_t p = 0;
        /* four pairs per trip: at chunk 16 (operands in L1) the one-pair loop
         * ran at 293 GOP/s against 320 for this one, at chunk 24 322 vs 329
         * (differences between builds of the same code reach ~3% there, from
         * memory layout). Same products in the same order. */
        for (; p + 4 <= n; p += 4) {
            PAIR_STEP(0);
            PAIR_STEP(1);
            PAIR_STEP(2);
            PAIR_STEP(3);
            ADVANCE(4);
        }
        for (; p < n; p++) {
            PAIR_STEP(0);
            ADVANCE(1);
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

/* The in-place kernel 48 columns wide: B is three runs of 16 pairs (runs of 8
 * are not served), A a packed panel, 24 accumulators pinned to zmm8-31 (B and the
 * broadcast take zmm0-3). Against 8 x 32: 24 multiply-adds per 12 loads instead
 * of 16 per 10, and for WTGRAD's kernel rows of 48 taps (16 channels x 3) three
 * calls instead of two and a half (one run computed twice): 356 against 347 GOP/s
 * per call in L1 (chunk 24). Each column's sums and flushes are the 8 x 32
 * kernel's. */
#define PAIR_STEP48(u)                                                                             \
    do {                                                                                           \
        const int64_t o = op[u];                                                                   \
        __m512i b0 = _mm512_loadu_si512((const void *)(runs[0] + o));                              \
        __m512i b1 = _mm512_loadu_si512((const void *)(runs[1] + o));                              \
        __m512i b2 = _mm512_loadu_si512((const void *)(runs[2] + o));                              \
        __m512i x;                                                                                 \
        x = bcast_pair(ap + (u) * MR * 2 + 0);                                                     \
        DPWSSD(t00, b0, x); DPWSSD(t01, b1, x); DPWSSD(t02, b2, x);                                \
        x = bcast_pair(ap + (u) * MR * 2 + 2);                                                     \
        DPWSSD(t10, b0, x); DPWSSD(t11, b1, x); DPWSSD(t12, b2, x);                                \
        x = bcast_pair(ap + (u) * MR * 2 + 4);                                                     \
        DPWSSD(t20, b0, x); DPWSSD(t21, b1, x); DPWSSD(t22, b2, x);                                \
        x = bcast_pair(ap + (u) * MR * 2 + 6);                                                     \
        DPWSSD(t30, b0, x); DPWSSD(t31, b1, x); DPWSSD(t32, b2, x);                                \
        x = bcast_pair(ap + (u) * MR * 2 + 8);                                                     \
        DPWSSD(t40, b0, x); DPWSSD(t41, b1, x); DPWSSD(t42, b2, x);                                \
        x = bcast_pair(ap + (u) * MR * 2 + 10);                                                    \
        DPWSSD(t50, b0, x); DPWSSD(t51, b1, x); DPWSSD(t52, b2, x);                                \
        x = bcast_pair(ap + (u) * MR * 2 + 12);                                                    \
        DPWSSD(t60, b0, x); DPWSSD(t61, b1, x); DPWSSD(t62, b2, x);                                \
        x = bcast_pair(ap + (u) * MR * 2 + 14);                                                    \
        DPWSSD(t70, b0, x); DPWSSD(t71, b1, x); DPWSSD(t72, b2, x);                                \
    } while (0)

static void igemm_s16_inplace_avx512_vnni_8x48(int64_t kp, int64_t chunk, const int16_t *a,
                                               const int16_t *const *runs, int run,
                                               const int64_t *off, float *c, int64_t ldc,
                                               int accumulate)
{
    (void)run;
    for (int64_t p0 = 0; p0 < kp; p0 += chunk) {
        const int first = p0 == 0 && !accumulate;
        const int16_t *ap = a + p0 * MR * 2;
        const int64_t *op = off + p0;
        const int64_t n = p0 + chunk < kp ? chunk : kp - p0;
        register __m512i t00 __asm__("zmm8"), t01 __asm__("zmm9"), t02 __asm__("zmm10"),
            t10 __asm__("zmm11"), t11 __asm__("zmm12"), t12 __asm__("zmm13"),
            t20 __asm__("zmm14"), t21 __asm__("zmm15"), t22 __asm__("zmm16"),
            t30 __asm__("zmm17"), t31 __asm__("zmm18"), t32 __asm__("zmm19"),
            t40 __asm__("zmm20"), t41 __asm__("zmm21"), t42 __asm__("zmm22"),
            t50 __asm__("zmm23"), t51 __asm__("zmm24"), t52 __asm__("zmm25"),
            t60 __asm__("zmm26"), t61 __asm__("zmm27"), t62 __asm__("zmm28"),
            t70 __asm__("zmm29"), t71 __asm__("zmm30"), t72 __asm__("zmm31");
        ZERO(t00); ZERO(t01); ZERO(t02); ZERO(t10); ZERO(t11); ZERO(t12);
        ZERO(t20); ZERO(t21); ZERO(t22); ZERO(t30); ZERO(t31); ZERO(t32);
        ZERO(t40); ZERO(t41); ZERO(t42); ZERO(t50); ZERO(t51); ZERO(t52);
        ZERO(t60); ZERO(t61); ZERO(t62); ZERO(t70); ZERO(t71); ZERO(t72);
        int64_t p = 0;
        for (; p + 4 <= n; p += 4) {
            PAIR_STEP48(0);
            PAIR_STEP48(1);
            PAIR_STEP48(2);
            PAIR_STEP48(3);
            ap += 4 * MR * 2, op += 4;
        }
        for (; p < n; p++) {
            PAIR_STEP48(0);
            ap += MR * 2, op += 1;
        }
        flush(c + 0 * ldc + 0, t00, first); flush(c + 0 * ldc + 16, t01, first); flush(c + 0 * ldc + 32, t02, first);
        flush(c + 1 * ldc + 0, t10, first); flush(c + 1 * ldc + 16, t11, first); flush(c + 1 * ldc + 32, t12, first);
        flush(c + 2 * ldc + 0, t20, first); flush(c + 2 * ldc + 16, t21, first); flush(c + 2 * ldc + 32, t22, first);
        flush(c + 3 * ldc + 0, t30, first); flush(c + 3 * ldc + 16, t31, first); flush(c + 3 * ldc + 32, t32, first);
        flush(c + 4 * ldc + 0, t40, first); flush(c + 4 * ldc + 16, t41, first); flush(c + 4 * ldc + 32, t42, first);
        flush(c + 5 * ldc + 0, t50, first); flush(c + 5 * ldc + 16, t51, first); flush(c + 5 * ldc + 32, t52, first);
        flush(c + 6 * ldc + 0, t60, first); flush(c + 6 * ldc + 16, t61, first); flush(c + 6 * ldc + 32, t62, first);
        flush(c + 7 * ldc + 0, t70, first); flush(c + 7 * ldc + 16, t71, first); flush(c + 7 * ldc + 32, t72, first);
    }
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
    k->igemm_s16_inplace_wide = igemm_s16_inplace_avx512_vnni_8x48;
    k->igemm_s16_arows = igemm_s16_arows_avx512_vnni_8x32;
    k->igemm_s16_bfp = igemm_s16_bfp_avx512_vnni_8x32;
}
