/* Counter-based random bits for stochastic rounding, keyed by
 * (seed, stream, element index): no state, so any ISA, thread count or call
 * split gives the same bits for the same element.
 *
 * Temporary home: the integer engineer's shared generator replaces this once
 * it lands in native/core (one generator in the codebase).
 *
 * dfp_rng_key folds seed and stream into a 64-bit key (splitmix64 finaliser);
 * dfp_rng_u32 hashes the 64-bit index under the key with two rounds of the
 * 32-bit "lowbias32" mixer (a bijection of 32-bit words), so it maps well to
 * 32-bit SIMD lanes: per lane only xor, shifts and 32-bit multiplies. */
#ifndef DFP_FPEMU_RNG_H
#define DFP_FPEMU_RNG_H

#include <stdint.h>

#define DFP_RNG_MIX_M1 0x7feb352du
#define DFP_RNG_MIX_M2 0x846ca68bu

static inline uint64_t dfp_rng_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t dfp_rng_key(uint64_t seed, uint64_t stream)
{
    return dfp_rng_splitmix64(seed ^ dfp_rng_splitmix64(stream));
}

static inline uint32_t dfp_rng_mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= DFP_RNG_MIX_M1;
    x ^= x >> 15;
    x *= DFP_RNG_MIX_M2;
    x ^= x >> 16;
    return x;
}

static inline uint32_t dfp_rng_u32(uint64_t key, uint64_t index)
{
    uint32_t x = dfp_rng_mix32((uint32_t)index ^ (uint32_t)key);
    return dfp_rng_mix32(x ^ ((uint32_t)(index >> 32) + (uint32_t)(key >> 32)));
}

#endif
