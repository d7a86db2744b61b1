/* Internal integer GEMM driver: C = scale * P_a @ P_b^T where P_a (m x k) and
 * P_b (n x k) are int16 operands produced panel by panel by a packer (from FP32
 * with quantisation, from int16 matrices, or from images by implicit im2col). */
#ifndef DFP_IGEMM_H
#define DFP_IGEMM_H

#include "dfpengine.h"
#include "int_kernels.h"

#include <string.h>

typedef struct dfp_s16_source dfp_s16_source;

/* Write one VNNI pair-interleaved panel: logical rows [r0, r0 + rows) of the
 * operand (rows <= w), all kp pairs of K: panel[p][i][t] = P[r0 + i][2p + t],
 * zero where i >= rows or 2p + t >= k. Returns max |value| in the panel and adds
 * the number of saturated elements to *sat. */
typedef int32_t (*dfp_s16_pack_fn)(const dfp_s16_source *src, int64_t r0, int64_t rows, int w,
                                   int64_t kp, int16_t *panel, int64_t *sat);

struct dfp_s16_source {
    dfp_s16_pack_fn pack;
    const void *data;     /* float or int16 matrix, or a conv context */
    int64_t ld;           /* leading dimension of the stored matrix */
    int k_contiguous;     /* P[r][k] = data[r*ld + k]; else data[k*ld + r] */
    int64_t rows, k;      /* logical size of P */
    dfp_quant_run quant;  /* FP32 sources: quantiser (inv_scale, rounding, key) */
    int code_max_known;   /* FP32 sources: the largest |code| is code_max (no pass over the codes) */
    int32_t code_max;
};

/* Row i of a panel of width w from a run along K starting at an even k0 (n elements):
 * one 32-bit pair per K pair, at stride w pairs. */
static inline void dfp_scatter_k_run(const int16_t *run, int64_t n, int64_t k0, int i, int w,
                                 int16_t *panel)
{
    int32_t *dst = (int32_t *)(void *)panel + (k0 >> 1) * w + i;
    int64_t np = n >> 1;
    for (int64_t p = 0; p < np; p++) {
        int32_t v;
        memcpy(&v, run + 2 * p, 4);
        dst[p * w] = v;
    }
    if (n & 1)
        panel[((k0 + n - 1) >> 1) * w * 2 + i * 2] = run[n - 1];
}

/* Largest |v| over n int16 values (threaded over fixed blocks; order-free). */
int32_t dfp_absmax_s16(const int16_t *v, int64_t n);

/* Packers of dense matrices (pack_s16.c). */
int32_t dfp_pack_s16_from_f32(const dfp_s16_source *src, int64_t r0, int64_t rows, int w,
                              int64_t kp, int16_t *panel, int64_t *sat);
int32_t dfp_pack_s16_from_s16(const dfp_s16_source *src, int64_t r0, int64_t rows, int w,
                              int64_t kp, int16_t *panel, int64_t *sat);

/* Longest chunk (in K pairs) whose INT32 partial sums cannot overflow when
 * every |a| <= max_a and |b| <= max_b: chunk * 2 * max_a * max_b <= 2^31 - 1. */
int64_t dfp_igemm_safe_chunk_pairs(int32_t max_a, int32_t max_b);

/* A whole operand packed: npanels panels of width w, each kp pairs (panel p at
 * panels + p * kp * w * 2); max_abs = largest |value|, sat = saturations. */
typedef struct dfp_s16_packed {
    int16_t *panels;
    int64_t npanels, kp;
    int w;
    int32_t max_abs;
    int64_t sat;
} dfp_s16_packed;

/* Pack all rows of src (threaded over panels); free out->panels afterwards. */
dfp_status dfp_s16_pack_operand(const dfp_s16_source *src, int w, int64_t kp, dfp_s16_packed *out);

/* Chunk (pairs summed in INT32) and K block (a multiple of it) for operands with
 * these maxima; both depend on the data only, never on ISA or threads
 * (igemm_chunk.c). */
void dfp_igemm_chunking(int32_t max_a, int32_t max_b, int64_t *chunk, int64_t *kc);
int64_t dfp_igemm_flushes_per_element(int64_t kp, int64_t kc, int64_t chunk);

/* Sums of |value| of one operand's rows over groups of DFP_L1_GROUP K pairs:
 * sum[r * ngroups + j]. K may be cut into segments of seg groups (WTGRAD slices)
 * at whose starts the K blocks and chunks restart; group j of a segment covers
 * its pairs [8j, 8j + 8). */
#define DFP_L1_GROUP 8
typedef struct dfp_l1_groups {
    int32_t *sum;
    int64_t rows, ngroups, seg;
} dfp_l1_groups;

/* Zeroed sums; seg <= 0: one segment. */
dfp_status dfp_l1_groups_init(dfp_l1_groups *g, int64_t rows, int64_t ngroups, int64_t seg);
void dfp_l1_groups_free(dfp_l1_groups *g);
/* Add a run of np K-contiguous pairs v (2 np int16) whose first pair is pair q0
 * of its segment into that segment's row sums `row`. */
void dfp_l1_groups_add_run(const int16_t *v, int64_t np, int64_t q0, int32_t *row);
/* Row sums of a packed operand (panels of width w <= DFP_IGEMM_MAX_W, kp pairs,
 * g->rows rows); sets the sums (no need to zero them first). */
#define DFP_IGEMM_MAX_W 64
void dfp_l1_groups_from_panels(const int16_t *panels, int w, int64_t kp, dfp_l1_groups *g);
/* dfp_igemm_chunking, lengthened where the row sums of g (one operand) times
 * max_other (the other operand's largest |value|) allow: the chunk is then a
 * whole number of groups dividing the K block. */
void dfp_igemm_chunking_l1(const dfp_l1_groups *g, int32_t max_other, int32_t max_a, int32_t max_b,
                           int64_t *chunk, int64_t *kc);

/* Single-threaded block on packed panels of the current ISA (mr x nr kernel):
 * sums (mpan*mr x npan*nr, row stride ldb) (+)= A . B^T over kp pairs, in K
 * blocks of kc pairs. a: mpan panels at stride kp*mr*2, b: npan at kp*nr*2. */
void dfp_igemm_panels(int64_t mpan, int64_t npan, int64_t kp, int64_t chunk, int64_t kc,
                      const int16_t *a, const int16_t *b, float *sums, int64_t ldb, int accumulate);
/* c[i][j] (+)= sums[i][j] * sa * sb for i < m, j < n. */
void dfp_igemm_epilogue(int64_t m, int64_t n, const float *sums, int64_t ldb, float sa, float sb,
                        float *c, int64_t ldc, int accumulate);

/* Run the GEMM; c (m x n, ldc) = scale_a * scale_b * (P_a @ P_b^T) (+ c). */
dfp_status dfp_igemm_run(const dfp_s16_source *a, const dfp_s16_source *b, float scale_a,
                         float scale_b, float *c, int64_t ldc, int accumulate,
                         dfp_gemm_stats *stats);

/* Exponent of a group with largest magnitude bits `absmax_bits` (finite). */
int32_t dfp_dfp16_exponent(uint32_t absmax_bits, int shift);
/* Quantiser parameters of a run for exponent e. */
dfp_quant_run dfp_dfp16_run(int32_t e, const dfp_dfp16_params *p, uint64_t index0);

/* Per-tensor exponent of n floats (threaded max); ORs non-finite into *bad. */
int32_t dfp_dfp16_tensor_exponent(const float *x, int64_t n, int shift, int *bad);

/* Per-tensor quantisation of n floats, threaded over fixed blocks (bit-identical
 * for every thread count); returns saturations, sets *e, ORs non-finite into
 * *bad and, when qmax is not NULL, stores the largest |q|. Params are trusted. */
int64_t dfp_dfp16_quantize_tensor_par(const float *x, int64_t n, const dfp_dfp16_params *params,
                                      int16_t *q, int32_t *e, int *bad, int32_t *qmax);

#endif
