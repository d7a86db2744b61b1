/* Block floating point GEMM (HBFP, MXINT), portable: C = A @ B^T from the
 * quantiser's mantissas and per-(row, block) scale exponents of both operands
 * (blocks along K). Per output element and block, the integer dot product is
 * exact (INT32 when the mantissa bounds allow, else INT64); each block sum is
 * converted to FP32, scaled by 2^(sa + sb) and added into an FP32 total in
 * block order: the arithmetic of formats.hbfp.gemm_reference, bit for bit.
 * Contract: dfpengine.h, dfp_gemm_bfp. */
#include "kernel_table.h"

#include <math.h>
#include <stdlib.h>

static int32_t absmax16(const int16_t *v, int64_t count)
{
    int32_t mx = 0;
    for (int64_t i = 0; i < count; i++) {
        int32_t a = v[i] < 0 ? -(int32_t)v[i] : v[i];
        mx = a > mx ? a : mx;
    }
    return mx;
}

/* INT32 dot; `omp simd` asks for the int16 x int16 -> int32 vector sums
 * (pmaddwd) that -O2 alone does not always emit. Integer sums are exact, so the
 * order the vector lanes add in does not matter. */
static int32_t dot32(const int16_t *a, const int16_t *b, int64_t len)
{
    int32_t s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t t = 0; t < len; t++)
        s += (int32_t)a[t] * (int32_t)b[t];
    return s;
}

static int64_t dot64(const int16_t *a, const int16_t *b, int64_t len)
{
    int64_t s = 0;
    for (int64_t t = 0; t < len; t++)
        s += (int64_t)a[t] * (int64_t)b[t];
    return s;
}

/* v * 2^e, correctly rounded: an exact power-of-two multiply when 2^e is a
 * normal float (built from its bits: a libm call per block sum was the cost),
 * ldexpf otherwise. */
static float scale_pow2(float v, int32_t e)
{
    if (e < -126 || e > 127)
        return ldexpf(v, (int)e);
    union { uint32_t u; float f; } p = {(uint32_t)(e + 127) << 23};
    return v * p.f;
}

dfp_status dfp_gemm_bfp(int64_t m, int64_t n, int64_t k, int block, const int16_t *ka,
                        const int32_t *sa, const int16_t *kb, const int32_t *sb, float *c,
                        int64_t ldc)
{
    if (m < 0 || n < 0 || k < 0 || block < 1 || ldc < (n > 1 ? n : 1))
        return DFP_ERR_INVALID_SHAPE;
    if (m * n > 0 && (!c || (k > 0 && (!ka || !sa || !kb || !sb))))
        return DFP_ERR_NULL_POINTER;
    const int64_t nb = (k + block - 1) / block;
    /* INT32 is exact when block * max|ka| * max|kb| < 2^31 (HBFP8, blocks of 64: < 2^20) */
    const int wide = (double)block * absmax16(ka, m * k) * absmax16(kb, n * k) > 2147483647.0;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(m * n * k / 65536))
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int64_t t0 = b * block, len = k - t0 < block ? k - t0 : block;
                const int16_t *pa = ka + i * k + t0, *pb = kb + j * k + t0;
                float sum = wide ? (float)dot64(pa, pb, len) : (float)dot32(pa, pb, len);
                acc += scale_pow2(sum, sa[i * nb + b] + sb[j * nb + b]);
            }
            c[i * ldc + j] = acc;
        }
    return DFP_OK;
}
