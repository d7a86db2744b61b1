/* In-register 16 x 16 transpose of 32-bit elements for the AVX-512 kernels
 * (layout_avx512.c, fpemu_avx512.c). */
#ifndef DFP_TRANSPOSE_AVX512_H
#define DFP_TRANSPOSE_AVX512_H

#include <immintrin.h>

/* In-register transpose of a 16 x 16 block of 32-bit elements (rows r[0..15]):
 * 32-bit and 64-bit unpacks within 128-bit lanes, then two 128-bit lane shuffles. */
static inline void transpose16_epi32(__m512i r[16])
{
    __m512i t[16], s[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        s[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
        s[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
        s[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        s[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            u[8 * i + j] = _mm512_shuffle_i32x4(s[8 * i + j], s[8 * i + 4 + j], 0x88);
            u[8 * i + 4 + j] = _mm512_shuffle_i32x4(s[8 * i + j], s[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_i32x4(u[j], u[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_i32x4(u[j], u[8 + j], 0xdd);
    }
}

#endif
