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

/* ---- float formats: FP8, FP16 (1,6,9), binary16, bfloat16 ------------ */
/* (section owned by the float emulation: rounding to narrow float formats and
 * the emulated low-precision GEMM with chunk-based accumulation)
 *
 * A format is (exponent bits, mantissa bits, bias) with IEEE-like rules:
 * subnormals, the all-ones exponent reserved for inf/NaN, so
 * max = (2 - 2^-man_bits) * 2^(2^exp_bits - 2 - bias). One kernel serves
 * every format. Rounding of FP32 input is exact (no double rounding).
 * Overflow of a finite value saturates to +-max when `saturate` is 1 (the
 * default of dfp_float_format_get), else gives +-inf (IEEE, as ml_dtypes).
 * Infinities stay infinite, NaN stays NaN (the quiet NaN of the sign). */

typedef enum dfp_float_format_id {
    DFP_FMT_FP8 = 0,         /* (1,5,2) bias 15: max 57344, identical to OCP E5M2 */
    DFP_FMT_FP16_169 = 1,    /* (1,6,9) bias 31: the FP8-training accumulator */
    DFP_FMT_BINARY16 = 2,    /* IEEE binary16 (1,5,10) bias 15 */
    DFP_FMT_BF16 = 3         /* bfloat16 (1,8,7) bias 127 */
} dfp_float_format_id;

typedef enum dfp_rounding {
    DFP_ROUND_NEAREST = 0,     /* round half to even */
    DFP_ROUND_STOCHASTIC = 1   /* up with probability = dropped fraction of an ulp (2^-32 resolution) */
} dfp_rounding;

typedef struct dfp_float_format {
    int exp_bits;   /* 2..8 */
    int man_bits;   /* stored mantissa bits, 1..10 (products of two values stay exact in FP32) */
    int bias;       /* exponent bias; normal range must lie inside FP32's */
    int saturate;   /* 1: finite overflow clamps to +-max; 0: overflow gives +-inf */
} dfp_float_format;

dfp_status dfp_float_format_get(dfp_float_format_id id, dfp_float_format *fmt);
/* Largest finite value of `fmt`. */
dfp_status dfp_float_format_max(const dfp_float_format *fmt, float *max_value);

/* Stochastic rounding draws from the counter-based generator keyed by
 * (seed, stream, element index): element i of x uses index index0 + i, so a
 * result never depends on ISA, threads or how a tensor is split into calls. */

/* Fake-quantise: y[i] = x[i] rounded onto the grid of `fmt` (y may alias x). */
dfp_status dfp_float_round(const dfp_float_format *fmt, dfp_rounding rounding, uint64_t seed, uint64_t stream, uint64_t index0, const float *x, float *y, int64_t n);
/* Encode: codes[i] = bit pattern of x[i] rounded to `fmt`; codes is uint8_t
 * when 1 + exp_bits + man_bits <= 8, else uint16_t. */
dfp_status dfp_float_encode(const dfp_float_format *fmt, dfp_rounding rounding, uint64_t seed, uint64_t stream, uint64_t index0, const float *x, void *codes, int64_t n);
/* Decode codes (uint8_t or uint16_t as above) to exact FP32 values. */
dfp_status dfp_float_decode(const dfp_float_format *fmt, const void *codes, float *y, int64_t n);

/* Emulated low-precision float GEMM (FP8 training, Wang et al. 2018):
 * C = op(A) op(B), op(A) m x k, op(B) k x n, row-major with leading dims.
 * Inputs are rounded to in_a / in_b (exp_bits 0: taken as they are); products
 * are exact in FP32; every add rounds to `acc`. The K loop is cut into chunks
 * of `chunk` products: s = p_1, s = acc(s + p_t) inside a chunk; then
 * total = acc(total + s) from total = 0. chunk = 1 is plain sequential
 * accumulation. Bit-identical across ISAs and thread counts. Streams used:
 * stream (A), stream + 1 (B), stream + 2 (adds inside chunks), stream + 3
 * (chunk totals). */
typedef struct dfp_fpemu_gemm_params {
    dfp_float_format in_a;
    dfp_float_format in_b;
    dfp_float_format acc;
    dfp_rounding in_rounding;
    dfp_rounding acc_rounding;
    int64_t chunk;
    uint64_t seed;
    uint64_t stream;
} dfp_fpemu_gemm_params;

dfp_status dfp_gemm_fpemu(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, const dfp_fpemu_gemm_params *params);

/* Block floating point (HBFP, MXINT): each block of `block` contiguous
 * elements along a row of x (rows x cols, leading dimension ldx) shares one
 * exponent; element value = k * 2^scale_exp, |k| <= 2^mag_bits - 1.
 * scale_exp = E - mag_bits with E = ceil(log2(max|x|)) over the block
 * (HBFP, floor_exponent = 0) or E = floor(log2(max|x|)) (MX, floor_exponent
 * = 1); k rounded nearest-even or stochastically, then clamped. An all-zero
 * block has scale_exp = 0 - mag_bits. Outputs (each may be NULL, not all):
 * mant rows x cols int16 (dense), scale_exp rows x ceil(cols/block) int32,
 * y rows x cols float (k * 2^scale_exp, dense). Stochastic index: r*cols + c.
 * DFP_ERR_NOT_FINITE on NaN/inf input. */
dfp_status dfp_bfp_quantize(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block, int mag_bits, int floor_exponent, dfp_rounding rounding, uint64_t seed, uint64_t stream, int16_t *mant, int32_t *scale_exp, float *y);

#ifdef __cplusplus
}
#endif

#endif /* DFPENGINE_H */
