/* Layout moves of 32-bit elements (layout32.h). */
#include "layout32.h"
#include "kernel_table.h"
#include "transpose_avx512.h"

#if defined(__GNUC__) && defined(__x86_64__)
/* Full blocks of 16 elements x 16 channels through one in-register transpose;
 * returns how many leading elements were done for every channel. */
__attribute__((target("avx512f"))) static int64_t
to_channel_last_avx512(const int32_t *s, int64_t stride, int64_t n, int64_t channels, int32_t *d)
{
    if (channels % 16)
        return 0;
    int64_t i0 = 0;
    for (; i0 + 16 <= n; i0 += 16)
        for (int64_t c0 = 0; c0 < channels; c0 += 16) {
            __m512i r[16];
            for (int j = 0; j < 16; j++)
                r[j] = _mm512_loadu_si512((const void *)(s + (c0 + j) * stride + i0));
            transpose16_epi32(r);
            for (int j = 0; j < 16; j++)
                _mm512_storeu_si512((void *)(d + (i0 + j) * channels + c0), r[j]);
        }
    return i0;
}
#endif

void dfp_to_channel_last32(const void *src, int64_t stride, int64_t n, int64_t channels, void *dst)
{
    const int32_t *s = src;
    int32_t *d = dst;
    int64_t i = 0;
#if defined(__GNUC__) && defined(__x86_64__)
    if (dfp_kernels()->isa >= DFP_ISA_AVX512)
        i = to_channel_last_avx512(s, stride, n, channels, d);
#endif
    for (; i < n; i++)
        for (int64_t c = 0; c < channels; c++)
            d[i * channels + c] = s[c * stride + i];
}

void dfp_split_columns32(const void *src, int64_t n, void *even, void *odd)
{
    const int32_t *restrict s = src;
    int32_t *restrict e = even, *restrict o = odd;
    for (int64_t i = 0; i < n / 2; i++) /* a loop the compiler vectorises */
        e[i] = s[2 * i], o[i] = s[2 * i + 1];
    if (n % 2)
        e[n / 2] = s[n - 1];
}
