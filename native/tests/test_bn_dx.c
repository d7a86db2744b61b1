/* The batch-norm data-gradient kernel (fp32_kernels.h bn_dx) of every ISA equals
 * the scalar reference bit for bit: both mask sources (g given, or dy masked by
 * x * za + zb > 0), training and evaluation, lengths with every tail from 0 to
 * 16, NaN and signed zeros in the inputs, and dx written in place over g. */
#include "dfpengine.h"
#include "dfp_test.h"
#include "kernel_table.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define N 83

static uint32_t lcg(uint32_t *s) { return *s = *s * 1664525u + 1013904223u; }

static float value(uint32_t *s) { return ((float)(lcg(s) >> 8) / 16777216.0f - 0.5f) * 8.0f; }

static void run(dfp_isa isa, const float *g, const float *dy, const float *x, const dfp_bn_dx_coef *c,
                int training, int64_t n, int in_place, float *dx)
{
    CHECK(dfp_isa_select(isa) == DFP_OK);
    if (in_place) {
        memcpy(dx, g, sizeof(float) * (size_t)n);
        g = dx;
    }
    dfp_kernels()->fp32.bn_dx(g, dy, 0.75f, -0.25f, x, c, training, n, dx);
}

int main(void)
{
    float g[N], dy[N], x[N], want[N], got[N];
    uint32_t seed = 7;
    for (int i = 0; i < N; i++)
        g[i] = value(&seed), dy[i] = value(&seed), x[i] = value(&seed);
    x[3] = NAN, dy[5] = NAN, g[7] = NAN, dy[9] = -0.0f, g[11] = -0.0f, x[13] = 1.0f / 3.0f;
    const dfp_bn_dx_coef c = {0.125f, 1.3f, 4096.0f, 1.7f * 1.3f / 4096.0f, 1.7f * 1.3f, 3.1f, -0.7f};
    for (int isa = DFP_ISA_SCALAR + 1; isa <= (int)dfp_isa_supported(); isa++)
        for (int use_g = 0; use_g < 2; use_g++)
            for (int training = 0; training < 2; training++)
                for (int64_t n = 0; n <= N; n += (n < 17 ? 1 : 33)) {
                    const int in_place = use_g && n % 2;
                    run(DFP_ISA_SCALAR, use_g ? g : NULL, dy, x, &c, training, n, in_place, want);
                    run((dfp_isa)isa, use_g ? g : NULL, dy, x, &c, training, n, in_place, got);
                    CHECK(memcmp(want, got, sizeof(float) * (size_t)n) == 0);
                }
    return TEST_RESULT();
}
