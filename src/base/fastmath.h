/* fastmath.h - vectorizable exp, sigmoid and tanh for the element-wise kernels.
 * lm_expf: relative error below 2e-7 on [-87, 88]; results flush to 0 below -87. */
#ifndef LM_FASTMATH_H
#define LM_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float lm_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* Round to nearest by adding and subtracting 1.5 * 2^23 (vectorizes, unlike floorf). */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^n from the bits of t, whose low mantissa bits hold n: no float-to-int conversion, so
     * a NaN (a damaged model, a diverged run) gives a NaN result, not undefined behaviour. */
    union {
        uint32_t u;
        float f;
    } bits = {.f = t}, s;
    s.u = (bits.u - 0x4B400000u + 127u) << 23;
    return p * s.f;
}

static inline float lm_sigmoidf(float x)
{
    return 1.0f / (1.0f + lm_expf(-x));
}

static inline float lm_tanhf(float x)
{
    float a = x < 0 ? -x : x;
    float e = lm_expf(-2.0f * a);
    float t = (1.0f - e) / (1.0f + e);
    float x2 = x * x;
    /* Near zero the quotient cancels: use the series x - x^3/3 + 2x^5/15 - 17x^7/315. */
    float s = a * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
    float r = a < 0.0625f ? s : t;
    return x < 0 ? -r : r;
}

#endif
