/* cpuid says what the CPU implements; XCR0 (read with XGETBV) says which
 * register state the OS saves on context switch. AVX needs XMM+YMM state,
 * AVX-512 additionally opmask + both ZMM halves: without OS support the
 * instructions fault even if cpuid lists them. */
#include "cpu_features.h"

#include <cpuid.h>
#include <stdint.h>

#define XCR0_SSE_AVX   0x06u  /* bits 1-2: XMM and YMM state */
#define XCR0_AVX512    0xE0u  /* bits 5-7: opmask, ZMM_Hi256, Hi16_ZMM */

static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    /* xgetbv encoded as bytes so this file needs no -mxsave flag */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

dfp_isa dfp_cpu_detect_isa(void)
{
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return DFP_ISA_SCALAR;
    const int has_fma = (ecx >> 12) & 1, has_osxsave = (ecx >> 27) & 1, has_avx = (ecx >> 28) & 1;
    if (!has_osxsave || !has_avx || !has_fma)
        return DFP_ISA_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & XCR0_SSE_AVX) != XCR0_SSE_AVX)
        return DFP_ISA_SCALAR;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return DFP_ISA_SCALAR;
    if (!((ebx >> 5) & 1))                        /* AVX2 */
        return DFP_ISA_SCALAR;
    const int avx512 = ((ebx >> 16) & 1) && ((ebx >> 17) & 1)   /* F, DQ */
                    && ((ebx >> 30) & 1) && ((ebx >> 31) & 1);   /* BW, VL */
    if (!avx512 || (xcr0 & XCR0_AVX512) != XCR0_AVX512)
        return DFP_ISA_AVX2;
    if (!((ecx >> 11) & 1))                       /* AVX512_VNNI */
        return DFP_ISA_AVX512;
    return DFP_ISA_AVX512_VNNI;
}
