/* Counter-based random bits for stochastic rounding: the bits of element i of a
 * tensor depend only on (seed, stream, i), so results are the same for every
 * thread count and ISA. One round of a 32-bit invertible mixer (lowbias32,
 * C. Wellons) of the index's low half XOR a lane key; the lane key mixes the
 * index's high half into the 64-bit key from a splitmix64 hash of (seed,
 * stream). The high half is the same for every element of a tensor below 2^32
 * elements, so SIMD loops compute the lane key once and spend two 32-bit
 * multiplies per draw (a second full round per draw was a tenth of an HBFP
 * training step). Distinct indices below 2^32 get distinct bits (the mixer is
 * a bijection); only 32-bit multiplies and shifts, so SIMD versions compute
 * the identical bits. */
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

/* The lane key of the indices whose high 32 bits are `hi`. */
static inline uint32_t dfp_rng_lane_key(uint32_t key_lo, uint32_t key_hi, uint32_t hi)
{
    return key_lo ^ dfp_mix32(hi ^ key_hi);
}

/* Random 32 bits for element `index` under key (key_lo, key_hi). */
static inline uint32_t dfp_rng_bits(uint32_t key_lo, uint32_t key_hi, uint64_t index)
{
    return dfp_mix32((uint32_t)index ^ dfp_rng_lane_key(key_lo, key_hi, (uint32_t)(index >> 32)));
}

/* The 64-bit key of a (seed, stream) pair. */
uint64_t dfp_rng_key(uint64_t seed, uint64_t stream);

#endif
