/* Key derivation of the counter-based generator (see rng_counter.h). */
#include "rng_counter.h"

static inline uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t dfp_rng_key(uint64_t seed, uint64_t stream)
{
    return splitmix64(seed ^ splitmix64(stream ^ 0x6466703136ULL));
}
