/* Layout moves of 32-bit elements (layout32.h). */
#include "layout32.h"
#include "kernel_table.h"

void dfp_to_channel_last32(const void *src, int64_t stride, int64_t n, int64_t channels, void *dst)
{
    const int32_t *s = src;
    int32_t *d = dst;
    const dfp_to_channel_last32_fn blocks = dfp_kernels()->move.to_channel_last32;
    int64_t i = blocks ? blocks(s, stride, n, channels, d) : 0;
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
