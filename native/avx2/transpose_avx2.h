/* In-register 8 x 8 transpose of 32-bit elements for the AVX2 kernels. */
#ifndef DFP_TRANSPOSE_AVX2_H
#define DFP_TRANSPOSE_AVX2_H

#include <immintrin.h>

/* Rows r[0..7] become columns: 32-bit and 64-bit unpacks within 128-bit
 * lanes, then one 128-bit lane exchange per pair of outputs. */
static inline void transpose8_epi32(__m256i r[8])
{
    __m256i t[8], s[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        s[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
        s[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
        s[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        s[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2x128_si256(s[j], s[4 + j], 0x20);
        r[4 + j] = _mm256_permute2x128_si256(s[j], s[4 + j], 0x31);
    }
}

#endif
