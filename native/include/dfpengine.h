/*
 * dfpengine public C API.
 *
 * Conventions
 * - Every function that can fail returns dfp_status (0 ok, negative error);
 *   dfp_status_string() gives a message. Input is validated here, at the API
 *   boundary; kernels behind it assume valid arguments.
 * - Buffers are caller-owned and borrowed for the duration of the call; the
 *   library keeps no pointer after returning. Arrays are dense row-major
 *   (activations NCHW, conv weights OIHW) unless a leading dimension is given.
 * - The only global state is the kernel table (selected ISA) and the thread count.
 *
 * This header is parsed by cffi (dfpengine.capi): keep declarations plain C,
 * one per line group, no macros inside declarations.
 */
#ifndef DFPENGINE_H
#define DFPENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ---------------------------------------------------------- */

typedef enum dfp_status {
    DFP_OK = 0,
    DFP_ERR_NULL_POINTER = -1,     /* a required buffer is NULL */
    DFP_ERR_INVALID_SHAPE = -2,    /* a dimension is negative, zero where not allowed, or inconsistent */
    DFP_ERR_INVALID_ARGUMENT = -3, /* a non-shape parameter is out of range */
    DFP_ERR_UNSUPPORTED_ISA = -4,  /* the requested ISA level is not compiled in or not supported by this CPU */
    DFP_ERR_OUT_OF_MEMORY = -5,
    DFP_ERR_NOT_FINITE = -6        /* input holds NaN or infinity where a finite value is required */
} dfp_status;

const char *dfp_status_string(dfp_status status);

/* ---- version, dispatch and threads ----------------------------------- */

typedef enum dfp_isa {
    DFP_ISA_SCALAR = 0,
    DFP_ISA_AVX2 = 1,          /* AVX2 + FMA */
    DFP_ISA_AVX512 = 2,        /* AVX-512 F, BW, VL, DQ */
    DFP_ISA_AVX512_VNNI = 3    /* AVX-512 plus VNNI (vpdpwssd, vpdpbusd) */
} dfp_isa;

const char *dfp_version(void);
const char *dfp_isa_name(dfp_isa isa);
dfp_status dfp_isa_from_name(const char *name, dfp_isa *isa);
dfp_isa dfp_isa_compiled(void);   /* highest level built into this library */
dfp_isa dfp_isa_supported(void);  /* highest level this CPU and OS can run (cpuid + XGETBV) */
dfp_isa dfp_isa_selected(void);   /* level of the active kernel table */
/* Refill the kernel table up to `isa`; DFP_ERR_UNSUPPORTED_ISA if the CPU lacks it. */
dfp_status dfp_isa_select(dfp_isa isa);

int dfp_num_threads(void);
dfp_status dfp_set_num_threads(int num_threads);

/* ---- FP32 compute ---------------------------------------------------- */
/* (section owned by the FP32 kernels: SGEMM, convolution, element-wise) */

/* ---- integer compute and formats ------------------------------------- */
/* (section owned by the integer kernels: DFP16 quantisers, integer GEMM) */

#ifdef __cplusplus
}
#endif

#endif /* DFPENGINE_H */
