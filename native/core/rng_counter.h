/* Counter-based random bits for stochastic rounding: the bits of element i of a
 * tensor depend only on (seed, stream, i), so results are the same for every
 * thread count and ISA. Two rounds of a 32-bit invertible mixer (lowbias32,
 * C. Wellons) keyed by a splitmix64 hash of (seed, stream); only 32-bit
 * multiplies and shifts, so SIMD versions compute the identical bits. */
#ifndef DFP_RNG_COUNTER_H
#define DFP_RNG_COUNTER_H

#include <stdint.h>

static inline uint32_t dfp_mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* Random 32 bits for element `index` under key (key_lo, key_hi). */
static inline uint32_t dfp_rng_bits(uint32_t key_lo, uint32_t key_hi, uint64_t index)
{
    uint32_t h = dfp_mix32((uint32_t)index ^ key_lo);
    return dfp_mix32(h + ((uint32_t)(index >> 32) ^ key_hi));
}

/* The 64-bit key of a (seed, stream) pair. */
uint64_t dfp_rng_key(uint64_t seed, uint64_t stream);

#endif
