/* rng.c - xorshift64* (Vigna 2014), the state is the struct. */
#include "base/base.h"

void lm_rng_seed(lm_rng *rng, uint64_t seed)
{
    /* splitmix64 scrambles the seed so that small seeds give unrelated streams. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    rng->s = z ? z : 0x2545F4914F6CDD1Dull;
}

uint64_t lm_rng_next(lm_rng *rng)
{
    uint64_t x = rng->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

double lm_rng_uniform(lm_rng *rng)
{
    return (double)(lm_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}
