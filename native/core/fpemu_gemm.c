/* Emulated low-precision float GEMM driver (portable): validate, pack op(A)
 * into MR-row panels and op(B) into NR-column panels while rounding them to
 * their input formats, then run the ISA micro-kernel on every MR x NR tile.
 *
 * Packing quantises op(A) (or op(B)) panel by panel through the kernel
 * table's round kernel, with element index i*k + t (t*n + j for B):
 * the same indices as rounding op(A) as one row-major tensor, so seeded
 * stochastic input rounding is independent of blocking, ISA and threads.
 * Every output element is produced by exactly one micro-kernel lane with a
 * fixed add order, so results do not depend on the thread count either. */
#include "fpemu_gemm.h"
#include "kernel_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DFP_FPEMU_MAX_TILE 1024 /* MR * NR upper bound for the tile buffer */
#define PACK_TB 128             /* columns per packing block (buffer MR x PACK_TB floats) */
#define GROUP_ROWS 256          /* rows per group of a transposed source with many rows */
#define COL_TILES 8             /* column tiles per group of the tile order (run_tiles) */

dfp_status dfp_float_format_check(const dfp_float_format *f);

/* One packed operand: `panels` panels of k x width floats. */
typedef struct fpemu_pack {
    const float *src;
    int64_t ld;
    int trans;            /* element (r, t) of the operand at src[t*ld + r] instead of src[r*ld + t] */
    int64_t rows, k;      /* rows of the operand as packed (m for A, n for B), depth */
    int width;            /* MR or NR */
    const dfp_float_format *fmt;
    int stochastic;
    uint64_t key;
    int b_layout;         /* index of element (r, t) is t*rows + r (op(B) row-major) instead of r*k + t */
    int on_grid;          /* values already rounded to fmt (nearest) by the caller: copied as they are */
} fpemu_pack;

/* Whether packing rounds the operand to its format (FP32 passes as it is; so
 * do values the caller rounded already). */
static inline int rounds(const fpemu_pack *p) { return p->fmt->exp_bits != 0 && !p->on_grid; }

/* Stochastic index of element (r, t) of the operand as the unpacked tensor numbers it. */
static inline uint64_t elem_index(const fpemu_pack *p, int64_t r, int64_t t)
{
    return p->b_layout ? (uint64_t)(t * p->rows + r) : (uint64_t)(r * p->k + t);
}

/* Transposed source: source row t holds element t of every operand row.
 * Source rows t0 .. t0+nt-1 are rounded (indices strided by k for A,
 * contiguous for B; with nearest rounding and dense rows, as one run) into
 * `buf` and dealt out to the panels, so src is streamed once and short rows
 * (few output channels) do not pay a kernel call each. Returns their max. */
static uint32_t pack_source_rows(const fpemu_pack *p, int64_t t0, int64_t nt, float *buf,
                                 float *dst, const dfp_fmt_consts *c)
{
    const int w = p->width;
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    const int64_t rows = p->rows;
    const float *src = p->src + t0 * p->ld;
    int64_t ld = p->ld;
    if (rounds(p)) {
        if (!p->stochastic && p->ld == rows) {
            kern->round(c, 0, 0, 0, 1, src, buf, nt * rows);
        } else {
            for (int64_t t = 0; t < nt; t++)
                kern->round(c, p->stochastic, p->key, elem_index(p, 0, t0 + t),
                            p->b_layout ? 1u : (uint64_t)p->k, src + t * p->ld, buf + t * rows, rows);
        }
        src = buf;
        ld = rows;
    }
    uint32_t mx = 0;
    for (int64_t t = 0; t < nt; t++) {
        const float *row = src + t * ld;
        for (int64_t r0 = 0; r0 < rows; r0 += w) {
            float *panel = dst + (r0 / w) * p->k * w + (t0 + t) * w;
            const int64_t nr = rows - r0 < w ? rows - r0 : w;
            for (int64_t i = 0; i < nr; i++)
                panel[i] = row[r0 + i];
        }
        uint32_t rm = kern->absmax_bits(row, rows);
        mx = rm > mx ? rm : mx;
    }
    return mx;
}

/* Transposed source with many rows (pack_operand's choice): the panels of
 * rows [r0, r0 + nr), a group of whole panels, source row by source row; each
 * slice is rounded into buf (nr floats, in L1) and dealt out, so the group's
 * panels fill sequentially instead of a 64-byte piece of every panel of the
 * operand per source row. Returns the largest |value|. */
static uint32_t pack_row_group(const fpemu_pack *p, int64_t r0, int64_t nr, float *buf,
                               float *dst, const dfp_fmt_consts *c)
{
    const int w = p->width;
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    uint32_t mx = 0;
    for (int64_t t = 0; t < p->k; t++) {
        const float *row = p->src + t * p->ld + r0;
        if (rounds(p)) {
            kern->round(c, p->stochastic, p->key, elem_index(p, r0, t),
                        p->b_layout ? 1u : (uint64_t)p->k, row, buf, nr);
            row = buf;
        }
        for (int64_t i0 = 0; i0 < nr; i0 += w)
            memcpy(dst + ((r0 + i0) / w) * p->k * w + t * w, row + i0,
                   (size_t)(nr - i0 < w ? nr - i0 : w) * sizeof(float));
        uint32_t rm = kern->absmax_bits(row, nr);
        mx = rm > mx ? rm : mx;
    }
    return mx;
}

/* panel[t * w + i] = buf[i * PACK_TB + t] for t < tb, i < nr. Called with a
 * constant w (the register blocks in use) and nr == w, GCC turns the loop
 * into unpack-based 4 x 4 transposes even at the baseline ISA; the scalar
 * loop it replaces was most of packing a row-major operand. */
static inline __attribute__((always_inline)) void
transpose_to_panel(const float *restrict buf, int64_t tb, int64_t nr, float *restrict panel,
                   const int w)
{
    for (int64_t t = 0; t < tb; t++)
        for (int64_t i = 0; i < nr; i++)
            panel[t * w + i] = buf[i * PACK_TB + t];
}

static void transpose_block(const float *buf, int64_t tb, int64_t nr, float *panel, int w)
{
    if (nr == w && w == 16)
        transpose_to_panel(buf, tb, 16, panel, 16);
    else if (nr == w && w == 8)
        transpose_to_panel(buf, tb, 8, panel, 8);
    else if (nr == w && w == 4)
        transpose_to_panel(buf, tb, 4, panel, 4);
    else
        transpose_to_panel(buf, tb, nr, panel, w);
}

/* Panel of rows r0 .. r0+w-1 of a source whose rows are contiguous (rows past
 * the edge stay zero): blocks of PACK_TB columns go through an L1-sized buffer
 * (w x PACK_TB), rounded with the unpacked element indices, so the panel is
 * written sequentially. */
static void pack_panel(const fpemu_pack *p, int64_t r0, float *buf, float *panel,
                       const dfp_fmt_consts *c)
{
    const int w = p->width;
    const int64_t nr = p->rows - r0 < w ? p->rows - r0 : w;
    const dfp_fpemu_round_fn round = dfp_kernels()->emu.round;
    for (int64_t t0 = 0; t0 < p->k; t0 += PACK_TB) {
        const int64_t tb = p->k - t0 < PACK_TB ? p->k - t0 : PACK_TB;
        for (int64_t i = 0; i < nr; i++) {
            const float *src = p->src + (r0 + i) * p->ld + t0;
            if (rounds(p))
                round(c, p->stochastic, p->key, elem_index(p, r0 + i, t0),
                      p->b_layout ? (uint64_t)p->rows : 1u, src, buf + i * PACK_TB, tb);
            else
                memcpy(buf + i * PACK_TB, src, (size_t)tb * sizeof(float));
        }
        transpose_block(buf, tb, nr, panel + t0 * w, w);
    }
}

/* Zero the rows of the last panel past the operand's edge (packing writes only
 * real rows; the micro-kernels read whole panels). */
static void zero_edge_rows(const fpemu_pack *p, float *dst)
{
    const int w = p->width;
    const int64_t last = (p->rows - 1) / w, nr = p->rows - last * w;
    if (p->rows == 0 || nr == w)
        return;
    float *panel = dst + last * p->k * w;
    for (int64_t t = 0; t < p->k; t++)
        memset(panel + t * w + nr, 0, (size_t)(w - nr) * sizeof(float));
}

/* Packs op(A) or op(B) (threads over source rows or over panels); *absmax =
 * largest |packed value| as FP32 bits (integer max: NaN bits exceed inf). */
static dfp_status pack_operand(const fpemu_pack *p, float **out, uint32_t *absmax)
{
    const int64_t panels = (p->rows + p->width - 1) / p->width;
    const int64_t total = panels * p->width * p->k;
    float *dst = malloc((size_t)total * sizeof(float) + sizeof(float));
    if (!dst)
        return DFP_ERR_OUT_OF_MEMORY;
    zero_edge_rows(p, dst);
    dfp_fmt_consts c = {0};
    if (p->fmt->exp_bits != 0)
        c = dfp_fmt_consts_make(p->fmt);
    /* transposed sources: source rows per block, about PACK_TB * MR elements;
     * with more rows than that, groups of GROUP_ROWS rows (pack_row_group) */
    const int by_rows = p->trans && p->rows >= PACK_TB * 16;
    const int64_t nt_block = by_rows ? 1 : PACK_TB * 16 / (p->rows > 0 ? p->rows : 1);
    const int64_t group = GROUP_ROWS / p->width * p->width, groups = (p->rows + group - 1) / group;
    const size_t buf_len = by_rows    ? (size_t)group
                           : p->trans ? (size_t)(nt_block * p->rows)
                                      : (size_t)p->width * PACK_TB;
    int failed = 0;
    uint32_t mx = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(total / 4096))
    {
        float *buf = malloc(buf_len * sizeof(float) + sizeof(float));
        if (!buf) {
#pragma omp atomic write
            failed = 1;
        } else if (by_rows) {
#pragma omp for schedule(static) reduction(max : mx)
            for (int64_t g = 0; g < groups; g++) {
                const int64_t r0 = g * group, nr = p->rows - r0 < group ? p->rows - r0 : group;
                uint32_t rm = pack_row_group(p, r0, nr, buf, dst, &c);
                mx = rm > mx ? rm : mx;
            }
        } else if (p->trans) {
#pragma omp for schedule(static) reduction(max : mx)
            for (int64_t t0 = 0; t0 < p->k; t0 += nt_block) {
                int64_t nt = p->k - t0 < nt_block ? p->k - t0 : nt_block;
                uint32_t rm = pack_source_rows(p, t0, nt, buf, dst, &c);
                mx = rm > mx ? rm : mx;
            }
        } else {
#pragma omp for schedule(static) reduction(max : mx)
            for (int64_t q = 0; q < panels; q++) {
                float *panel = dst + q * p->k * p->width;
                pack_panel(p, q * p->width, buf, panel, &c);
                uint32_t pm = dfp_kernels()->emu.absmax_bits(panel, p->k * p->width);
                mx = pm > mx ? pm : mx;
            }
        }
        free(buf);
    }
    if (failed) {
        free(dst);
        return DFP_ERR_OUT_OF_MEMORY;
    }
    *out = dst;
    *absmax = mx;
    return DFP_OK;
}

/* Whether gemm_ukernel_nearest gives the exact kernel's results (its contract
 * in emu_kernels.h): nearest accumulation; both inputs on float grids whose
 * products are exact FP32 values; C = 2^(emax + 23 - man) finite; and no
 * partial sum can reach the accumulator's max. Bound on |partial sums|: each
 * rounded add grows |s| + |p| by at most a factor (1 + 2^-man); a sum sees at
 * most chunk + ceil(k / chunk) adds, so |s| <= k * max|a| * max|b| * (1 + 2^-man)^adds. */
static int fast_nearest_ok(const dfp_fpemu_gemm_params *p, int64_t k, uint32_t amax_a,
                           uint32_t amax_b)
{
    const dfp_float_format *fa = &p->in_a, *fb = &p->in_b, *fc = &p->acc;
    if (p->acc_rounding != DFP_ROUND_NEAREST || fa->exp_bits == 0 || fb->exp_bits == 0)
        return 0;
    if (fa->man_bits + fb->man_bits + 2 > 24 ||
        dfp_fmt_emin(fa) - fa->man_bits + dfp_fmt_emin(fb) - fb->man_bits < -149)
        return 0;
    if (dfp_fmt_emax(fc) + 24 - fc->man_bits > 127)
        return 0;
    if (amax_a >= DFP_F32_INF_BITS || amax_b >= DFP_F32_INF_BITS)
        return 0;
    int64_t adds = (k < p->chunk ? k : p->chunk) + (k + p->chunk - 1) / p->chunk;
    double bound = (double)k * dfp_bits_f32(amax_a) * dfp_bits_f32(amax_b) *
                   pow(1.0 + ldexp(1.0, -fc->man_bits), (double)adds);
    return bound < 0.5 * dfp_bits_f32(dfp_fmt_consts_make(fc).max_bits);
}

/* Products of in_a and in_b values are multiples of the accumulator's
 * subnormal step (acc->on_grid in emu_kernels.h), and that step is an FP32 normal. */
static int products_on_grid(const dfp_fpemu_gemm_params *p)
{
    const dfp_float_format *fa = &p->in_a, *fb = &p->in_b, *fc = &p->acc;
    if (fa->exp_bits == 0 || fb->exp_bits == 0)
        return 0;
    int32_t step = dfp_fmt_emin(fc) - fc->man_bits;
    return step >= -126 &&
           dfp_fmt_emin(fa) - fa->man_bits + dfp_fmt_emin(fb) - fb->man_bits >= step;
}

/* c[i * ldc + j] = out[j * mr + i] for i < rows, j < cols; with the register
 * block as compile-time constants (full tiles of the blocks in use) GCC
 * vectorises the transpose, which otherwise was a sixth of small-K GEMMs. */
static inline __attribute__((always_inline)) void
store_tile(const float *restrict out, int64_t rows, int64_t cols, float *restrict c, int64_t ldc,
           const int mr)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            c[i * ldc + j] = out[j * mr + i];
}

static void store_tile_any(const float *out, int64_t rows, int64_t cols, float *c, int64_t ldc,
                           int mr, int nr)
{
    if (rows == 16 && cols == 16 && mr == 16 && nr == 16)
        store_tile(out, 16, 16, c, ldc, 16);
    else if (rows == 16 && cols == 8 && mr == 16 && nr == 8)
        store_tile(out, 16, 8, c, ldc, 16);
    else if (rows == 16 && cols == 4 && mr == 16 && nr == 4)
        store_tile(out, 16, 4, c, ldc, 16);
    else if (rows == 8 && cols == 4 && mr == 8 && nr == 4)
        store_tile(out, 8, 4, c, ldc, 8);
    else
        store_tile(out, rows, cols, c, ldc, mr);
}

/* out[j * mr + i] = c[i * ldc + j] where i < rows, j < cols (a tile's totals so far). */
static void load_tile(const float *c, int64_t rows, int64_t cols, int64_t ldc, float *out, int mr)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            out[j * mr + i] = c[i * ldc + j];
}

static void run_tiles(int64_t m, int64_t n, int64_t k, const float *ap, const float *bp,
                      float *c, int64_t ldc, const dfp_fpemu_acc *acc, int fast)
{
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    const dfp_fpemu_ukernel_fn ukernel = fast ? kern->gemm_ukernel_nearest : kern->gemm_ukernel;
    const int mr = kern->mr, nr = kern->nr;
    const int64_t mb = (m + mr - 1) / mr, nb = (n + nr - 1) / nr;
    /* tiles are handed out 16 at a time: each grab is a locked add, which waits
     * for the previous tile's scattered stores to C to drain (with one tile per
     * grab that wait was up to a fifth of a small-K GEMM) */
    const int chunk = mb * nb >= 256 ? 16 : 1;
    /* order: groups of COL_TILES column tiles, in each group row tile by row
     * tile, so consecutive tiles continue the same rows of C and complete
     * their cache lines while in L1 (rows of a wide C are a multiple of 4 KiB
     * apart and share a few L1 sets); the group's B panels stay in cache */
#pragma omp parallel for schedule(dynamic, chunk) num_threads(dfp_threads_for_work(mb * nb))
    for (int64_t tile = 0; tile < mb * nb; tile++) {
        const int64_t g = tile / (mb * COL_TILES), in_group = tile % (mb * COL_TILES);
        const int64_t gcols = nb - g * COL_TILES < COL_TILES ? nb - g * COL_TILES : COL_TILES;
        const int64_t i0 = (in_group / gcols) * mr, j0 = (g * COL_TILES + in_group % gcols) * nr;
        float out[DFP_FPEMU_MAX_TILE];
        const int64_t rows = m - i0 < mr ? m - i0 : mr, cols = n - j0 < nr ? n - j0 : nr;
        if (acc->from_tile)
            load_tile(c + i0 * ldc + j0, rows, cols, ldc, out, mr);
        ukernel(k, ap + i0 * k, bp + j0 * k, out, i0, j0, acc);
        store_tile_any(out, rows, cols, c + i0 * ldc + j0, ldc, mr, nr);
    }
}

static dfp_status check_gemm_args(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                  const float *a, int64_t lda, const float *b, int64_t ldb,
                                  const float *c, int64_t ldc, const dfp_fpemu_gemm_params *p)
{
    if (!p || !c || (k > 0 && (!a || !b)))
        return DFP_ERR_NULL_POINTER;
    if (m < 0 || n < 0 || k < 0 || ldc < (n > 1 ? n : 1))
        return DFP_ERR_INVALID_SHAPE;
    if (lda < ((trans_a ? m : k) > 1 ? (trans_a ? m : k) : 1) ||
        ldb < ((trans_b ? k : n) > 1 ? (trans_b ? k : n) : 1))
        return DFP_ERR_INVALID_SHAPE;
    if (p->chunk < 1 || (unsigned)p->in_rounding > 1u || (unsigned)p->acc_rounding > 1u)
        return DFP_ERR_INVALID_ARGUMENT;
    if ((p->in_a.exp_bits != 0 && dfp_float_format_check(&p->in_a) != DFP_OK) ||
        (p->in_b.exp_bits != 0 && dfp_float_format_check(&p->in_b) != DFP_OK))
        return DFP_ERR_INVALID_ARGUMENT;
    return dfp_float_format_check(&p->acc);
}

dfp_status dfp_gemm_fpemu(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                          int64_t ldc, const dfp_fpemu_gemm_params *p)
{
    return dfp_gemm_fpemu_slice(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, p, NULL);
}

dfp_status dfp_gemm_fpemu_slice(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                                int64_t ldc, const dfp_fpemu_gemm_params *p,
                                const dfp_fpemu_slice *slice)
{
    dfp_status st = check_gemm_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, p);
    if (st != DFP_OK || m == 0 || n == 0)
        return st;
    if (slice && (p->in_rounding != DFP_ROUND_NEAREST || p->acc_rounding != DFP_ROUND_NEAREST))
        return DFP_ERR_INVALID_ARGUMENT; /* stochastic draws count K from the slice's start */
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    const int stoch_in = p->in_rounding == DFP_ROUND_STOCHASTIC;
    fpemu_pack pa = {a, lda, trans_a, m, k, kern->mr, &p->in_a, stoch_in,
                     dfp_rng_key(p->seed, p->stream), 0, 0};
    /* op(B) is packed as its transpose: row r of the pack is column r of op(B) */
    fpemu_pack pb = {b, ldb, !trans_b, n, k, kern->nr, &p->in_b, stoch_in,
                     dfp_rng_key(p->seed, p->stream + 1), 1, slice && slice->b_on_grid};
    float *ap = NULL, *bp = NULL;
    uint32_t amax_a = 0, amax_b = 0;
    if ((st = pack_operand(&pa, &ap, &amax_a)) != DFP_OK ||
        (st = pack_operand(&pb, &bp, &amax_b)) != DFP_OK) {
        free(ap);
        return st;
    }
    dfp_fpemu_acc acc = {dfp_fmt_consts_make(&p->acc), p->acc_rounding == DFP_ROUND_STOCHASTIC,
                         p->chunk, dfp_rng_key(p->seed, p->stream + 2),
                         dfp_rng_key(p->seed, p->stream + 3), m, products_on_grid(p),
                         slice && slice->accumulate};
    /* the fast kernel's bound covers every slice of the sum */
    int fast = slice ? fast_nearest_ok(p, slice->k_total, slice->amax_a > amax_a ? slice->amax_a : amax_a,
                                       slice->amax_b > amax_b ? slice->amax_b : amax_b)
                     : fast_nearest_ok(p, k, amax_a, amax_b);
    run_tiles(m, n, k, ap, bp, c, ldc, &acc, fast);
    free(ap);
    free(bp);
    return DFP_OK;
}
