/* Integer kernel slots of the kernel table: the int16 GEMM micro-kernel and the
 * DFP16 run kernels (absmax, quantise, dequantise). Every slot is filled by the
 * scalar reference first; ISA overlays replace slots with bit-identical SIMD
 * versions (same integers, same floats, on every ISA). */
#ifndef DFP_INT_KERNELS_H
#define DFP_INT_KERNELS_H

#include <stdint.h>

/* Quantiser parameters for one contiguous run of a tensor.
 * q[i] = sat(round(x[i] * inv_scale)), inv_scale = 2^-e exactly (a power of two,
 * so the product is exact); index0 is the flat storage index of x[0], used with
 * (key_lo, key_hi) by the counter-based generator of stochastic rounding. */
typedef struct dfp_quant_run {
    float inv_scale;
    int rounding;          /* dfp_rounding */
    uint32_t key_lo, key_hi;
    uint64_t index0;
} dfp_quant_run;

/* Micro-kernel contract (all ISAs, see the top of each igemm_s16_*.c file):
 * a: kp pairs x MR x 2 int16 (VNNI pair-interleaved A panel),
 * b: kp pairs x NR x 2 int16 (VNNI pair-interleaved B panel),
 * c: MR x NR float tile, row stride ldc. The K range is cut into chunks of
 * `chunk` pairs (the last may be shorter); each chunk is summed exactly in
 * INT32 (the caller guarantees no overflow) and flushed c += (float)isum.
 * accumulate = 0 starts from c = 0, 1 from the current c. */
typedef void (*dfp_igemm_s16_fn)(int64_t kp, int64_t chunk, const int16_t *a,
                                 const int16_t *b, float *c, int64_t ldc, int accumulate);

/* The same micro-kernel with B read in place instead of from a packed panel
 * (NR = 16 or 32): pair p of the NR columns is NR / run runs of `run` int32
 * pairs (16 or 8), run r at runs[r] + off[p] (direct conv: runs of output pixels in
 * the channel-pair layout; WTGRAD: runs of taps in the channel-last layout).
 * Same sums, same flushes as igemm_s16 on the packed copy. NULL where an ISA
 * does not provide it (callers then pack). The wide variant has 48 columns,
 * three runs of 16 pairs (run must be 16). */
typedef void (*dfp_igemm_s16_inplace_fn)(int64_t kp, int64_t chunk, const int16_t *a,
                                         const int16_t *const *runs, int run, const int64_t *off,
                                         float *c, int64_t ldc, int accumulate);

/* The micro-kernel with A read in place instead of from a packed panel: row i's
 * pair p at arows[i] + 2p (MR rows; K-contiguous int16 with the pairs of a row
 * adjacent). Same sums, same flushes as igemm_s16 on the packed copy. NULL where
 * an ISA does not provide it (callers then pack). */
typedef void (*dfp_igemm_s16_arows_fn)(int64_t kp, int64_t chunk, const int16_t *const *arows,
                                       const int16_t *b, float *c, int64_t ldc, int accumulate);

/* Quantise n contiguous floats; returns the number of saturated elements. */
typedef int64_t (*dfp_quantize_s16_fn)(const float *x, int64_t n, const dfp_quant_run *run,
                                       int16_t *q);
/* x[i] = (float)q[i] * scale. */
typedef void (*dfp_dequantize_s16_fn)(const int16_t *q, int64_t n, float scale, float *x);
/* Largest |x[i]| as IEEE bits with the sign cleared (>= 0x7f800000: not finite). */
typedef uint32_t (*dfp_absmax_bits_fn)(const float *x, int64_t n);

/* Packing runs (pack_s16.c). Copy n int16 with -32768 clamped to -32767 (the
 * DFP16 range is symmetric), adding the clamped count to *sat; returns
 * max(m, largest |value| copied). dst == src is allowed (clamps in place). */
typedef int32_t (*dfp_load_s16_fn)(const int16_t *src, int64_t n, int16_t *dst, int32_t m,
                                   int64_t *sat);
/* max(m, largest |v[i]|) over n int16 values (|-32768| = 32768). */
typedef int32_t (*dfp_absmax_s16_fn)(const int16_t *v, int64_t n, int32_t m);
/* Sums of |value| over groups of 16 int16 (8 K pairs): out[j] += sum over t < 16
 * of |v[16 j + t]| for j < ngroups. The integer GEMM's chunk rule (igemm_chunk.c)
 * adds row sums with it; values are never -32768. */
typedef void (*dfp_l1_groups_s16_fn)(const int16_t *v, int64_t ngroups, int32_t *out);
/* The same sums per row of a pair panel of width w (kp pairs x w rows x 2 int16,
 * w <= DFP_IGEMM_MAX_W): sums[g * w + i] = sum over the pairs q of group g (8
 * pairs; the last group may be shorter) of |pan[q][i][0]| + |pan[q][i][1]|,
 * overwritten, for every g < ceil(kp / 8) and i < w. */
typedef void (*dfp_l1_groups_panel_s16_fn)(const int16_t *pan, int w, int64_t kp, int32_t *sums);
/* Pairs [0, np) of 8 K-contiguous rows into 8 consecutive rows of a pair panel
 * of width w: dst[p * w + i] = pair p of rows[i] (int32 = two int16), rows[i] ==
 * NULL writes nothing for row i. */
typedef void (*dfp_pack_pairs8_fn)(const int16_t *const rows[8], int64_t np, int w, int32_t *dst);
/* dst[2i] = even[i], dst[2i + 1] = odd ? odd[i] : 0 for i < n. */
typedef void (*dfp_interleave_s16_fn)(const int16_t *even, const int16_t *odd, int64_t n,
                                      int16_t *dst);

/* Batch norm's apply and ReLU on a plane, as the values to quantise:
 * relu(x * scale + shift (+ residual[i])), rounded as
 * dfp_batch_norm_relu_forward_f32 rounds (the product, then each sum; the ReLU
 * keeps NaN and turns -0 into +0); written to out[i] too where out is set. */
typedef struct dfp_plane_bn_relu {
    float scale, shift;
    const float *residual; /* nullable: the plane's residual */
    float *out;            /* nullable: the plane's output */
} dfp_plane_bn_relu;

/* The DFP16 conv quantiser's plane pair (conv_s16_quant.c): planes a and b of
 * h x w floats (b NULL: codes 0) quantised with runs ra and rb (rb unused when
 * b is NULL; each run's index0 is its plane's flat index, and [index0, index0 +
 * h * w] shares its high 32 bits: the caller checks) and stored as pairs,
 * d[r * ld + 2c + t] = code of plane t at (r, c); bn (nullable): the planes'
 * values are bn[t] applied to them. Returns the saturations; raises *qmax to
 * the largest |code| and *xmax (nullable) to the largest |value| as IEEE bits,
 * sign cleared. The same codes as quantize_s16 on each plane (of values). NULL
 * where an ISA does not provide it (the caller then quantises plane by plane). */
typedef int64_t (*dfp_quantize_plane_pair_fn)(const float *a, const float *b, int64_t h, int64_t w,
                                              const dfp_quant_run *ra, const dfp_quant_run *rb,
                                              const dfp_plane_bn_relu *bn, int16_t *d, int64_t ld,
                                              int32_t *qmax, uint32_t *xmax);
/* Four planes of h x w floats, x[2t + u] of image t and channel u (t, u in {0,
 * 1}), quantised with runs r[2t + u] (index0 as quantize_plane_pair's, the same
 * high-half condition on each) and stored in both pair layouts in one pass:
 * channel pairs of image t at dc[t] (rows ldc int16 apart; pixel (row, col) at
 * 2 col: codes of (t, 0), (t, 1)) and image pairs of channel u at di[u] (rows ldi
 * apart: codes of (0, u), (1, u)). Returns the saturations; *qmax and *xmax
 * (nullable) as quantize_plane_pair's. NULL where an ISA does not provide it. */
typedef int64_t (*dfp_quantize_plane_quad_fn)(const float *const x[4], int64_t h, int64_t w,
                                              const dfp_quant_run r[4], int16_t *const dc[2], int64_t ldc,
                                              int16_t *const di[2], int64_t ldi, int32_t *qmax, uint32_t *xmax);

/* A 32-wide packed panel from int16 stored across K (row k of the stored matrix
 * holds K index k of every panel row): pair p of the panel = (s[2p ld + i],
 * s[(2p+1) ld + i]) for i < rows (<= 32), 0 past rows and for the odd last K's
 * missing half; -32768 clamped to -32767 and counted in *clamped. Returns
 * max(m, largest |value|). The same panel, maximum and count as interleaving
 * each pair, then load_s16 over the panel. NULL where an ISA does not provide it. */
typedef int32_t (*dfp_pack_kpairs_s16_fn)(const int16_t *s, int64_t ld, int64_t k, int64_t rows,
                                          int16_t *panel, int32_t m, int64_t *clamped);

/* GEMM epilogue row: c[j] = sums[j] * sa * sb (accumulate: c[j] += ...), the two
 * products rounded in that order, no FMA. */
typedef void (*dfp_scale_row_fn)(const float *sums, int64_t n, float sa, float sb, float *c,
                                 int accumulate);

/* One K block of the block floating point GEMM (bfp_gemm.c) with the block's
 * scaling in the flush: the kp pairs of a and b summed exactly in INT32, then
 * c[i][j] = (first ? +0 : c[i][j]) + (float)sum * 2^(ea[i] + eb[j]) over the
 * whole MR x NR tile, 2^e built from its bits: every ea[i] + eb[j] must lie in
 * [-126, 127]. Equal to igemm_s16 into a buffer then the emulation table's
 * bfp_scale_add. NULL where an ISA does not provide it. */
typedef void (*dfp_igemm_s16_bfp_fn)(int64_t kp, const int16_t *a, const int16_t *b,
                                     const int32_t *ea, const int32_t *eb, float *c, int64_t ldc,
                                     int first);

typedef struct dfp_int_kernels {
    int mr, nr;                    /* register block of igemm_s16 */
    dfp_igemm_s16_fn igemm_s16;
    dfp_igemm_s16_inplace_fn igemm_s16_inplace;
    dfp_igemm_s16_inplace_fn igemm_s16_inplace_wide; /* 48 columns, three runs of 16 (optional) */
    dfp_igemm_s16_arows_fn igemm_s16_arows;
    dfp_igemm_s16_bfp_fn igemm_s16_bfp;
    dfp_quantize_s16_fn quantize_s16;
    dfp_dequantize_s16_fn dequantize_s16;
    dfp_absmax_bits_fn absmax_bits;
    dfp_load_s16_fn load_s16;
    dfp_absmax_s16_fn absmax_s16;
    dfp_l1_groups_s16_fn l1_groups_s16;
    dfp_l1_groups_panel_s16_fn l1_groups_panel_s16;
    dfp_pack_pairs8_fn pack_pairs8;
    dfp_interleave_s16_fn interleave_s16;
    dfp_pack_kpairs_s16_fn pack_kpairs_s16;         /* optional */
    dfp_quantize_plane_pair_fn quantize_plane_pair; /* optional */
    dfp_quantize_plane_quad_fn quantize_plane_quad; /* optional */
    dfp_scale_row_fn scale_row;
} dfp_int_kernels;

void dfp_int_kernels_init_scalar(dfp_int_kernels *k);
void dfp_int_kernels_init_avx2(dfp_int_kernels *k);
void dfp_int_kernels_init_avx512(dfp_int_kernels *k);
void dfp_int_kernels_init_avx512_vnni(dfp_int_kernels *k);
void dfp_pack_s16_kernels_init_avx2(dfp_int_kernels *k);
void dfp_pack_s16_kernels_init_avx512(dfp_int_kernels *k);
void dfp_quantize_pairs_kernels_init_avx512(dfp_int_kernels *k);

#endif
