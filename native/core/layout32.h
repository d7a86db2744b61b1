/* Layout moves of 32-bit elements shared by the FP32 and DFP16 convolutions
 * (a float, or a pair of int16 codes, moves as one 32-bit word). */
#ifndef DFP_LAYOUT32_H
#define DFP_LAYOUT32_H

#include <stdint.h>

/* Channel-last from channel-major: dst[i * channels + c] = src[c * stride + i]
 * for i < n, c < channels (AVX-512 16 x 16 transposes where the ISA has them). */
void dfp_to_channel_last32(const void *src, int64_t stride, int64_t n, int64_t channels, void *dst);

/* Every other element apart: even[i] = src[2i], odd[i] = src[2i + 1] for the
 * indices below n (the column phases of a stride-2 convolution's input copy). */
void dfp_split_columns32(const void *src, int64_t n, void *even, void *odd);

#endif
