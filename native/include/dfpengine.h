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
 * - The only global state is the kernel table (selected ISA), the thread count and
 *   the caches of freed memory blocks (scratch, and dfp_block_* below).
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

/* Arithmetic ceiling of the selected ISA, measured by register-only chains of
 * the instruction the GEMMs use (FP32: FMA; int16: vpdpwssd on VNNI,
 * vpmaddwd+vpaddd on AVX2/AVX-512BW; plain C on the scalar level) on `threads`
 * threads at once (0: dfp_num_threads()). ops_per_s counts a multiply-add as 2
 * operations and sums over threads. Takes a few tenths of a second. */
typedef enum dfp_peak_kind {
    DFP_PEAK_FP32_FMA = 0,
    DFP_PEAK_INT16_MADD = 1
} dfp_peak_kind;
dfp_status dfp_measure_peak(dfp_peak_kind kind, int threads, double *ops_per_s);

/* ---- memory blocks for arrays ---------------------------------------- */
/* malloc-like blocks, 64-byte aligned, for callers that allocate the same
 * large arrays over and over (the Python engine's numpy arrays use them): a
 * freed block of 128 KiB or more is kept and handed out again for a request
 * of its size up to a quarter less, instead of being unmapped and its pages
 * faulted and zeroed on the next use. At most the limit's bytes are kept
 * (default 1 GiB; 0 keeps none); past it the least recently freed go first.
 * Thread-safe. Free a block with dfp_block_free only. */
void *dfp_block_alloc(size_t bytes);
void *dfp_block_calloc(size_t count, size_t size);
/* As realloc: the contents up to the smaller size move; NULL leaves block valid. */
void *dfp_block_realloc(void *block, size_t bytes);
void dfp_block_free(void *block);
void dfp_block_cache_set_limit(size_t bytes);
/* Frees every kept block. */
void dfp_block_cache_release(void);
typedef struct dfp_block_cache_stats {
    size_t cached_bytes;   /* kept now, free for reuse */
    size_t cached_blocks;
    size_t limit_bytes;
    uint64_t hits;         /* large requests served from kept blocks */
    uint64_t misses;       /* large requests that allocated */
} dfp_block_cache_stats;
void dfp_block_cache_get_stats(dfp_block_cache_stats *stats);

/* ---- FP32 compute ---------------------------------------------------- */
/* (section owned by the FP32 kernels: SGEMM, convolution, element-wise) */
/* All FP32 functions are thread-parallel (dfp_num_threads()) and borrow their
 * buffers for the duration of the call. Results of a call do not depend on the
 * ISA level beyond floating-point rounding (FMA vs separate multiply-add). */

/* C = alpha * op(A) * op(B) + beta * C, row-major; op(A) is m x k, op(B) k x n.
 * trans_a/trans_b nonzero: A is stored k x m / B is stored n x k. m, n, k may
 * be 0 (nothing to do, or C = beta * C for k == 0); lda/ldb/ldc must be at
 * least the stored row length (and >= 1). beta == 0: C is not read. */
dfp_status dfp_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* 2-D convolution (cross-correlation, no groups), NCHW activations, OIHW weights.
 * Output size per axis: (in + 2*pad - dilation*(kernel - 1) - 1) / stride + 1. */
typedef struct dfp_conv2d_shape {
    int64_t batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
} dfp_conv2d_shape;

/* Validate `shape` and give the output height and width (each >= 1). */
dfp_status dfp_conv2d_output_size(const dfp_conv2d_shape *shape, int64_t *out_h, int64_t *out_w);
/* y[N,O,OH,OW] = conv(x[N,C,H,W], w[O,C,KH,KW]) + bias[O] (bias may be NULL). */
dfp_status dfp_conv2d_forward_f32(const dfp_conv2d_shape *shape, const float *x, const float *w, const float *bias, float *y);
/* dfp_conv2d_forward_f32 that also gives batch norm's plane sums of y (N * O * 3
 * doubles, see dfp_batch_norm_stats_from_planes_f32), taken from each image's
 * output while it is still in cache where the conv's path allows. */
dfp_status dfp_conv2d_forward_f32_sums(const dfp_conv2d_shape *shape, const float *x, const float *w, const float *bias, float *y, double *y_sums);
/* dx[N,C,H,W] = gradient of the conv w.r.t. x, from dy[N,O,OH,OW] and w (dx is overwritten). */
dfp_status dfp_conv2d_backward_data_f32(const dfp_conv2d_shape *shape, const float *dy, const float *w, float *dx);
/* dw[O,C,KH,KW] = gradient of the conv w.r.t. w, from x and dy (dw is overwritten). */
dfp_status dfp_conv2d_backward_weight_f32(const dfp_conv2d_shape *shape, const float *x, const float *dy, float *dw);

/* Whole-batch column matrix for convs run as one GEMM per pass (the emulated
 * low-precision formats): cols (C*KH*KW x N*OH*OW, row-major) row (c, kh, kw),
 * column n*OH*OW + oh*OW + ow; padding taps are 0. col2im adds the columns back
 * into dx[N,C,H,W] (overwritten), overlapping taps summed in FP32. */
dfp_status dfp_conv2d_im2col_f32(const dfp_conv2d_shape *shape, const float *x, float *cols);
dfp_status dfp_conv2d_col2im_f32(const dfp_conv2d_shape *shape, const float *cols, float *dx);

/* ReLU over n elements: y = max(x, 0) (NaN propagates), mask = (x > 0). */
dfp_status dfp_relu_forward_f32(int64_t n, const float *x, float *y, uint8_t *mask);
/* out[i] = a[i] + b[i] (threaded; out may be a or b): gradient sums of tensors with two consumers. */
dfp_status dfp_add_f32(int64_t n, const float *a, const float *b, float *out);
/* ResNet's option-A shortcut: y (n x (before + c + after) x ceil(h/s) x ceil(w/s)) =
 * x[:, :, ::s, ::s] (x is n x c x h x w) with `before` zero channels in front and
 * `after` behind; and its gradient: dx = dy's middle channels at every s-th pixel,
 * zero elsewhere. Exact copies, threaded over planes. */
dfp_status dfp_subsample_pad_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride, int64_t before, int64_t after, const float *x, float *y);
dfp_status dfp_subsample_pad_backward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride, int64_t before, int64_t after, const float *dy, float *dx);
/* dx = mask ? dy : 0. */
dfp_status dfp_relu_backward_f32(int64_t n, const float *dy, const uint8_t *mask, float *dx);

/* Batch norm over x[n, c, hw] (hw = H*W, 1 for NC input); statistics per channel.
 * stats: mean and biased variance, summed in double (two passes). */
dfp_status dfp_batch_norm_stats_f32(int64_t n, int64_t c, int64_t hw, const float *x, float *mean, float *var);
/* The same statistics from each plane's sums: sums[3 (b c + ch) ..] = (s, sum of
 * (x - s), sum of (x - s)^2) over plane (b, ch), s its first value, in double,
 * as a conv forward's y_sums give them. Bit for bit what dfp_batch_norm_stats_f32
 * gives on the planes themselves (which it sums the same way). */
dfp_status dfp_batch_norm_stats_from_planes_f32(int64_t n, int64_t c, int64_t hw, const double *sums, float *mean, float *var);
/* y = x * scale[c] + shift[c], then max(y, 0) when relu is nonzero. */
dfp_status dfp_batch_norm_apply_f32(int64_t n, int64_t c, int64_t hw, const float *x, const float *scale, const float *shift, int relu, float *y);
/* Training-mode backward of y = gamma * (x - mean) * invstd + beta with batch statistics:
 * dbeta = sum dy, dgamma = sum dy * xhat, dx = gamma*invstd/M * (M*dy - dbeta - xhat*dgamma). */
dfp_status dfp_batch_norm_backward_f32(int64_t n, int64_t c, int64_t hw, const float *dy, const float *x, const float *mean, const float *invstd, const float *gamma, float *dx, float *dgamma, float *dbeta);
/* Batch norm fused with the residual add and ReLU, one pass over x:
 * y = max((x * scale[c] + shift[c]) + residual, 0), rounded as the unfused
 * apply, add and ReLU round (float, no FMA), so the result equals theirs bit
 * for bit; NaN propagates. residual (x's shape) may be NULL: no add. In
 * training, mean and variance come from dfp_batch_norm_stats_f32 first. */
dfp_status dfp_batch_norm_relu_forward_f32(int64_t n, int64_t c, int64_t hw, const float *x, const float *scale, const float *shift, const float *residual, float *y);
/* Backward of dfp_batch_norm_relu_forward_f32 from dy and its saved output y
 * (relu'(z) = y > 0, so no mask is kept), in two passes per channel:
 * g = (y > 0) ? dy : 0, dbeta = sum g, dgamma = sum g * xhat (sums in double,
 * as dfp_batch_norm_backward_f32), xhat = (x - mean) * invstd; then
 * training nonzero (mean, invstd are the batch statistics): dx = gamma*invstd/M * (M*g - dbeta - xhat*dgamma);
 * training zero (running statistics, constants): dx = g * gamma * invstd.
 * Without a residual, y may be NULL and the forward's scale and shift given
 * instead: z = x * scale[c] + shift[c] is recomputed as the forward rounded it,
 * so z > 0 is the same mask, and neither y nor g is read or stored (a third
 * less memory traffic); otherwise scale and shift may be NULL.
 * dresidual, if not NULL, receives g (the residual's gradient); if NULL, dx
 * holds g between the passes. dx and dresidual must not overlap dy, y or x. */
dfp_status dfp_batch_norm_relu_backward_f32(int64_t n, int64_t c, int64_t hw, const float *dy, const float *y, const float *x, const float *scale, const float *shift, const float *mean, const float *invstd, const float *gamma, int training, float *dx, float *dresidual, float *dgamma, float *dbeta);

/* 2-D pooling over NCHW planes; padding at most half the kernel. Output size
 * per axis: (in + 2*pad - kernel) / stride + 1 (floor), at least 1. */
typedef struct dfp_pool2d_shape {
    int64_t batch, channels, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
} dfp_pool2d_shape;

dfp_status dfp_pool2d_output_size(const dfp_pool2d_shape *shape, int64_t *out_h, int64_t *out_w);
/* Max pool, padding is -inf; argmax = ih*W + iw of the first maximum (NaN wins). */
dfp_status dfp_max_pool2d_forward_f32(const dfp_pool2d_shape *shape, const float *x, float *y, int32_t *argmax);
/* Over `planes` (N*C) planes: dx (planes x in_plane, overwritten) gets each dy (planes x out_plane)
 * added at its argmax; DFP_ERR_INVALID_ARGUMENT for an index outside [0, in_plane). */
dfp_status dfp_max_pool2d_backward_f32(int64_t planes, int64_t in_plane, int64_t out_plane, const float *dy, const int32_t *argmax, float *dx);
/* Average pool with zero padding counted in the divisor (count_include_pad). */
dfp_status dfp_avg_pool2d_forward_f32(const dfp_pool2d_shape *shape, const float *x, float *y);
dfp_status dfp_avg_pool2d_backward_f32(const dfp_pool2d_shape *shape, const float *dy, float *dx);

/* ---- integer compute and formats ------------------------------------- */
/* (section owned by the integer kernels: DFP16 quantisers, integer GEMM) */

/* DFP16 (dynamic fixed point, Das et al. 2018): value = q * 2^e with q an int16
 * in the symmetric range [-32767, 32767] (saturating; -32768 is never produced)
 * and e shared per tensor, per row (channel) or per block of the row.
 * e = floor(log2(max|x|)) - 14 + shift, clamped to >= -126 (an all-zero group gets
 * e = -126); max|q| then lies in [2^(14-shift), 2^(15-shift)]. */
typedef enum dfp_rounding {
    DFP_ROUND_NEAREST = 0,     /* ties to even */
    DFP_ROUND_STOCHASTIC = 1,  /* up with probability = dropped fraction; counter-based bits */
    DFP_ROUND_BIASED = 2       /* magnitude up when the dropped part >= 1/4 ulp (sign-symmetric) */
} dfp_rounding;

typedef enum dfp_granularity {
    DFP_GRAN_TENSOR = 0,       /* one exponent */
    DFP_GRAN_ROW = 1,          /* one per row (output channel: OIHW weights, (out,in) linear) */
    DFP_GRAN_BLOCK = 2         /* one per block of `block` consecutive elements of a row */
} dfp_granularity;

/* How to quantise an FP32 operand. seed and stream key stochastic rounding:
 * element i (flat row-major storage index) gets the same random bits on every
 * ISA and thread count. */
typedef struct dfp_dfp16_params {
    int shift;                 /* headroom s, 0..3 (default 2) */
    dfp_rounding rounding;
    uint64_t seed;
    uint64_t stream;           /* tensor id */
    /* Optional, DFP16 convolutions' activations and gradients: the exponent the tensor is
     * expected to get (the same layer's at the previous step, say). With
     * use_expected_exponent set, the tensor is quantised with it in the same pass that takes
     * its maximum, and quantised again only when the maximum gives another exponent: the
     * codes are the same either way; a right guess saves one read of the FP32 tensor. */
    int32_t expected_exponent;
    int32_t use_expected_exponent;
} dfp_dfp16_params;

/* Counters of one integer GEMM or convolution (added to, not reset). */
typedef struct dfp_gemm_stats {
    int64_t flushes;           /* INT32 -> FP32 flushes, summed over output elements */
    int64_t chunk_len;         /* K elements per INT32 chunk of the last GEMM */
    int64_t saturations;       /* operand elements clamped to +-32767 while quantising */
    int64_t quantize_ns;       /* DFP16 convolutions: time in their FP32 -> INT16 passes and
                                  the re-layouts of kept codes, added up (nanoseconds) */
    int64_t quantized;         /* ... and the FP32 elements those passes quantised */
} dfp_gemm_stats;

/* Number of exponents for a (rows x cols) tensor under a granularity. */
int64_t dfp_dfp16_num_exponents(int64_t rows, int64_t cols, dfp_granularity gran, int64_t block);

/* Quantise x (rows x cols, dense) to q with exponents exps[dfp_dfp16_num_exponents()].
 * block is used only with DFP_GRAN_BLOCK. *saturations (nullable) gets the clamp count.
 * DFP_ERR_NOT_FINITE if x holds NaN or infinity. Buffers borrowed. */
dfp_status dfp_dfp16_quantize(const float *x, int64_t rows, int64_t cols, dfp_granularity gran,
                              int64_t block, const dfp_dfp16_params *params, int16_t *q,
                              int32_t *exps, int64_t *saturations);
/* x = q * 2^e with the same layout of exponents. */
dfp_status dfp_dfp16_dequantize(const int16_t *q, const int32_t *exps, int64_t rows, int64_t cols,
                                dfp_granularity gran, int64_t block, float *x);

/* C = op(A) @ op(B) (+ C if accumulate), M x N, K inner; A, B FP32, quantised to
 * DFP16 per tensor while packing (params pa, pb). op(X) = X^T when trans_x.
 * INT32 partial sums over K-chunks whose length comes from the packed operands'
 * maximum magnitudes (no overflow possible), flushed into FP32. stats nullable. */
dfp_status dfp_gemm_dfp16(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          const float *a, int64_t lda, const float *b, int64_t ldb,
                          float *c, int64_t ldc, int accumulate, const dfp_dfp16_params *pa,
                          const dfp_dfp16_params *pb, dfp_gemm_stats *stats);

/* The same on already-quantised int16 operands with per-tensor exponents ea, eb:
 * C = 2^(ea+eb) * op(A) @ op(B). An int16 -32768 is clamped to -32767 (counted). */
dfp_status dfp_gemm_s16(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                        const int16_t *a, int64_t lda, int32_t ea, const int16_t *b, int64_t ldb,
                        int32_t eb, float *c, int64_t ldc, int accumulate, dfp_gemm_stats *stats);

/* DFP16 convolution (shape as dfp_conv2d_shape; layouts as the FP32 versions):
 * each FP32 operand is quantised per tensor with its params, then blocked im2col
 * over tiles of output pixels runs on the INT16 data through the integer GEMM.
 * Outputs are FP32 and overwritten. stats (nullable) is added to. */
dfp_status dfp_conv2d_forward_dfp16(const dfp_conv2d_shape *shape, const float *x, const float *w, const float *bias, float *y, const dfp_dfp16_params *px, const dfp_dfp16_params *pw, dfp_gemm_stats *stats);
dfp_status dfp_conv2d_backward_data_dfp16(const dfp_conv2d_shape *shape, const float *dy, const float *w, float *dx, const dfp_dfp16_params *pdy, const dfp_dfp16_params *pw, dfp_gemm_stats *stats);
dfp_status dfp_conv2d_backward_weight_dfp16(const dfp_conv2d_shape *shape, const float *x, const float *dy, float *dw, const dfp_dfp16_params *px, const dfp_dfp16_params *pdy, dfp_gemm_stats *stats);

/* A conv input quantised once and kept from FPROP to WTGRAD of the same layer:
 * x (per tensor, exponent `exponent`, largest |code| `max_abs`) in the
 * channel-pair layout of the direct conv, in a caller-owned buffer of
 * dfp_conv2d_dfp16_input_size(shape) int16. WTGRAD reads it instead of
 * re-quantising x; with a deterministic rounding (nearest, biased) the codes
 * are the ones WTGRAD would compute, so the results are bit-identical. */
typedef struct dfp_dfp16_input {
    int16_t *pairs;
    int32_t exponent, max_abs;
} dfp_dfp16_input;

int64_t dfp_conv2d_dfp16_input_size(const dfp_conv2d_shape *shape);
/* dfp_conv2d_forward_dfp16 that also leaves x's codes in *kept (pairs set by the
 * caller; kept nullable) and, with y_sums (nullable, N * O * 3 doubles), batch
 * norm's plane sums of y, as dfp_conv2d_forward_f32_sums gives them. */
dfp_status dfp_conv2d_forward_dfp16_keep(const dfp_conv2d_shape *shape, const float *x, const float *w, const float *bias, float *y, const dfp_dfp16_params *px, const dfp_dfp16_params *pw, dfp_gemm_stats *stats, dfp_dfp16_input *kept, double *y_sums);
/* Batch norm's output as a conv's input: relu(x * scale[c] + shift[c]), or
 * relu(x * scale[c] + shift[c] + residual) with a residual (NCHW like x),
 * rounded as dfp_batch_norm_relu_forward_f32; with out (nullable, NCHW) those
 * values are also written there, for batch norm's other readers. */
typedef struct dfp_bn_relu_input {
    const float *scale, *shift;
    const float *residual;
    float *out;
} dfp_bn_relu_input;

/* dfp_conv2d_forward_dfp16_keep of batch norm's output (bn applied to x), computed
 * inside the quantiser: without bn->out that tensor is never written as FP32, with
 * it, written in the same pass. kept and y_sums nullable. */
dfp_status dfp_conv2d_forward_dfp16_bn_relu(const dfp_conv2d_shape *shape, const float *x, const dfp_bn_relu_input *bn, const float *w, const float *bias, float *y, const dfp_dfp16_params *px, const dfp_dfp16_params *pw, dfp_gemm_stats *stats, dfp_dfp16_input *kept, double *y_sums);
/* dfp_conv2d_backward_weight_dfp16 on the kept input of the FPROP of the same shape. */
dfp_status dfp_conv2d_backward_weight_dfp16_kept(const dfp_conv2d_shape *shape, const dfp_dfp16_input *kept, const float *dy, float *dw, const dfp_dfp16_params *pdy, dfp_gemm_stats *stats);

/* The output gradient dy quantised once, in BPROP, and kept for WTGRAD of the
 * same layer (dfp_conv2d_dfp16_grad_size(shape) int16): WTGRAD then multiplies
 * the same codes BPROP did, as Das et al. quantise each tensor once. */
int64_t dfp_conv2d_dfp16_grad_size(const dfp_conv2d_shape *shape);
/* dfp_conv2d_backward_data_dfp16 that also leaves dy's codes in *kept_dy (pairs set by the caller). */
dfp_status dfp_conv2d_backward_data_dfp16_keep(const dfp_conv2d_shape *shape, const float *dy, const float *w, float *dx, const dfp_dfp16_params *pdy, const dfp_dfp16_params *pw, dfp_gemm_stats *stats, dfp_dfp16_input *kept_dy);
/* dfp_conv2d_backward_data_dfp16_keep adding into dx (dx += the data gradient, each
 * element rounded once, as a separate add would: a tensor's gradient from two
 * consumers, as at a ResNet block's input, without another pass). kept_dy nullable. */
dfp_status dfp_conv2d_backward_data_dfp16_add(const dfp_conv2d_shape *shape, const float *dy, const float *w, float *dx, const dfp_dfp16_params *pdy, const dfp_dfp16_params *pw, dfp_gemm_stats *stats, dfp_dfp16_input *kept_dy);
/* WTGRAD on x kept by FPROP and dy kept by BPROP of the same shape: no quantisation. */
dfp_status dfp_conv2d_backward_weight_dfp16_codes(const dfp_conv2d_shape *shape, const dfp_dfp16_input *kept_x, const dfp_dfp16_input *kept_dy, float *dw, dfp_gemm_stats *stats);

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

/* dfp_rounding: see the integer section (DFP_ROUND_BIASED is not offered for floats). */

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
 * HBFP (floor_exponent = 0): scale_exp = E - mag_bits, E = ceil(log2(max|x|))
 * over the block. MX (floor_exponent = 1): scale_exp = E - (mag_bits - 1),
 * E = floor(log2(max|x|)), so the block maximum keeps |k| in [2^(mag_bits-1),
 * 2^mag_bits) (MXINT8: mag_bits 7, k * 2^(E-6), |k| <= 127). k rounded
 * nearest-even or stochastically, then clamped. An all-zero block has E = 0. Outputs (each may be NULL, not all):
 * mant rows x cols int16 (dense), scale_exp rows x ceil(cols/block) int32,
 * y rows x cols float (k * 2^scale_exp, dense). Stochastic index: r*cols + c.
 * DFP_ERR_NOT_FINITE on NaN/inf input (outputs then undefined). */
dfp_status dfp_bfp_quantize(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block, int mag_bits, int floor_exponent, dfp_rounding rounding, uint64_t seed, uint64_t stream, int16_t *mant, int32_t *scale_exp, float *y);

/* dfp_bfp_quantize of the transpose: the logical matrix X (rows x cols, blocks
 * along cols) is stored as x (cols x rows, row stride ldx >= rows), X[r][c] =
 * x[c * ldx + r]. Outputs and stochastic indices are those of dfp_bfp_quantize on
 * a contiguous copy of X (bit-identical), without writing that copy. */
dfp_status dfp_bfp_quantize_transposed(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block, int mag_bits, int floor_exponent, dfp_rounding rounding, uint64_t seed, uint64_t stream, int16_t *mant, int32_t *scale_exp, float *y);

/* Block floating point GEMM: c (m x n, ldc) = A @ B^T for A (m x k) and B
 * (n x k) given as dfp_bfp_quantize codes with blocks along k: mantissas ka
 * (m x k), kb (n x k) dense int16, scale exponents sa (m x nb), sb (n x nb),
 * nb = ceil(k / block). Each block's integer dot product is exact; it is
 * converted to float, scaled by 2^(sa + sb) and added in FP32 in block order.
 * Results do not depend on ISA or thread count. */
dfp_status dfp_gemm_bfp(int64_t m, int64_t n, int64_t k, int block, const int16_t *ka, const int32_t *sa, const int16_t *kb, const int32_t *sb, float *c, int64_t ldc);

/* One FP32 operand of dfp_gemm_bfp_f32: the logical rows x k matrix
 * X[r][t] = x[r * row_stride + t * k_stride] (k_stride == 1, or row_stride == 1
 * for a transposed store), quantised along k exactly as dfp_bfp_quantize would
 * quantise a contiguous copy of X with these parameters. */
typedef struct dfp_bfp_operand {
    const float *x;
    int64_t row_stride, k_stride;
    int block, mag_bits, floor_exponent;
    dfp_rounding rounding;
    uint64_t seed, stream;
} dfp_bfp_operand;

/* c (m x n, ldc) = A @ B^T for FP32 A (m x k) and B (n x k), both quantised to
 * block floating point along k while they are packed into the integer GEMM's
 * panels (no separate pass over the data, no mantissa matrices). Bit-identical
 * to dfp_bfp_quantize on each operand followed by dfp_gemm_bfp. The two blocks
 * must be equal. DFP_ERR_NOT_FINITE on NaN/inf input (c then undefined). */
dfp_status dfp_gemm_bfp_f32(int64_t m, int64_t n, int64_t k, const dfp_bfp_operand *a, const dfp_bfp_operand *b, float *c, int64_t ldc);

/* The block floating point format of one convolution operand (the fields of
 * dfp_bfp_operand that are not about storage). */
typedef struct dfp_bfp_format {
    int block, mag_bits, floor_exponent;
    dfp_rounding rounding;
    uint64_t seed, stream;
} dfp_bfp_format;

/* Convolution passes in block floating point, each equal bit for bit to one
 * dfp_gemm_bfp_f32 on the batch's im2col matrix cols (dfp_conv2d_im2col_f32:
 * taps (c,kh,kw) x pixels (n,oh,ow)), computed image by image without that
 * matrix. Stochastic indices are those of the GEMM operands named here:
 *   forward:         y = cols^T (pixels x taps, format fx) @ W^T (W: O x taps, fw), in NCHW
 *   backward_data:   dx = col2im(W^T (taps x O, fw) @ dY (dY^T: pixels x O, fdy)),
 *                    col2im as dfp_conv2d_col2im_f32
 *   backward_weight: dw = dY (O x pixels, fdy) @ cols^T (cols: taps x pixels, fx)
 * Blocks lie along the GEMM's K (taps, O and pixels). The two formats must
 * share the block, which must be even, and a block's products must fit INT32
 * (block * (2^mag_a - 1) * (2^mag_b - 1) < 2^31); else
 * DFP_ERR_INVALID_ARGUMENT. DFP_ERR_NOT_FINITE on NaN/inf. */
dfp_status dfp_conv2d_bfp_forward(const dfp_conv2d_shape *shape, const float *x, const dfp_bfp_format *fx, const float *w, const dfp_bfp_format *fw, float *y);
dfp_status dfp_conv2d_bfp_backward_data(const dfp_conv2d_shape *shape, const float *dy, const dfp_bfp_format *fdy, const float *w, const dfp_bfp_format *fw, float *dx);
dfp_status dfp_conv2d_bfp_backward_weight(const dfp_conv2d_shape *shape, const float *x, const dfp_bfp_format *fx, const float *dy, const dfp_bfp_format *fdy, float *dw);

/* Convolution passes in an emulated float format, each equal bit for bit to
 * one dfp_gemm_fpemu on the batch's im2col matrix (see dfp_conv2d_bfp_*),
 * computed a few images at a time without that matrix:
 *   forward:       y = cols^T @ W^T (in NCHW); p->in_a is x's format, p->in_b w's
 *   backward_data: dx = col2im(W^T @ dY) (col2im as dfp_conv2d_col2im_f32);
 *                  p->in_a is dy's format, p->in_b w's
 * Accumulator, chunk: p->acc, p->chunk. Nearest rounding only (inputs and
 * sums; else DFP_ERR_INVALID_ARGUMENT): stochastic draws are indexed by the
 * elements' places in the whole matrices. */
dfp_status dfp_conv2d_fpemu_forward(const dfp_conv2d_shape *shape, const float *x, const float *w, const dfp_fpemu_gemm_params *p, float *y);
dfp_status dfp_conv2d_fpemu_backward_data(const dfp_conv2d_shape *shape, const float *dy, const float *w, const dfp_fpemu_gemm_params *p, float *dx);
/* dw = dY (O x pixels, format p->in_a) @ cols^T (cols: taps x pixels, format p->in_b). */
dfp_status dfp_conv2d_fpemu_backward_weight(const dfp_conv2d_shape *shape, const float *x, const float *dy, const dfp_fpemu_gemm_params *p, float *dw);

#ifdef __cplusplus
}
#endif

#endif /* DFPENGINE_H */
