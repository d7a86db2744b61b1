/* Memory blocks for arrays, with large freed blocks kept for reuse.
 *
 * Why: a training step allocates the same multi-megabyte arrays every step
 * (conv outputs, gradients, batch norm outputs). glibc maps each one fresh and
 * unmaps it on free, so every step faulted and zeroed every page again:
 * clear_page was 6.5-9% of a DFP16 ResNet-20 step's samples in `perf`. Kept
 * blocks are handed out again for requests of about their size, so steady-state
 * steps touch memory that is already mapped.
 *
 * Every block carries a header with its capacity (its size class), so free and
 * realloc need no size from the caller. Blocks are 64-byte aligned. Small blocks
 * (under BLOCK_CACHE_MIN) are freed at once: glibc's heap already reuses them.
 * The cache is bounded (dfp_block_cache_set_limit); past the bound the least
 * recently kept blocks are freed. One lock: calls are rare against the work. */
#define _DEFAULT_SOURCE /* madvise under -std=c11 */
#include "dfpengine.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HEADER 64                         /* keeps the block 64-byte aligned */
#define BLOCK_CACHE_MIN ((size_t)128 << 10) /* glibc's default mmap threshold */
#define LARGE_GRAIN ((size_t)4096)        /* capacities of cached sizes: whole pages */
#define HUGEPAGE_MIN ((size_t)4 << 20)    /* as numpy's allocator: madvise from 4 MiB */
#define MAX_KEPT 1024
#define DEFAULT_LIMIT ((size_t)1 << 30)

typedef struct kept_block {
    char *base; /* the allocation; the block starts HEADER bytes in */
    size_t cap;
    uint64_t tick; /* when it was kept: the oldest goes first */
} kept_block;

static kept_block g_kept[MAX_KEPT];
static int g_count;
static size_t g_bytes, g_limit = DEFAULT_LIMIT;
static uint64_t g_tick, g_hits, g_misses;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* A child forked while another thread held the lock would wait on it forever:
 * fork takes it first, both sides let go after. */
static void lock_for_fork(void) { pthread_mutex_lock(&g_lock); }
static void unlock_after_fork(void) { pthread_mutex_unlock(&g_lock); }

__attribute__((constructor)) static void register_fork_handlers(void)
{
    pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
}

static inline size_t capacity_for(size_t bytes)
{
    return bytes < BLOCK_CACHE_MIN ? (bytes + 63) / 64 * 64 : (bytes + LARGE_GRAIN - 1) / LARGE_GRAIN * LARGE_GRAIN;
}

static inline size_t *header_of(void *block) { return (size_t *)((char *)block - HEADER); }

static void drop_at(int i) /* lock held; frees nothing */
{
    g_bytes -= g_kept[i].cap;
    g_kept[i] = g_kept[--g_count];
}

/* The smallest kept block with capacity in [cap, cap + cap/4], taken out of the
 * cache; NULL if none. Lock held. */
static char *take_kept(size_t cap)
{
    int best = -1;
    for (int i = 0; i < g_count; i++)
        if (g_kept[i].cap >= cap && g_kept[i].cap - cap <= cap / 4 &&
            (best < 0 || g_kept[i].cap < g_kept[best].cap))
            best = i;
    if (best < 0)
        return NULL;
    char *base = g_kept[best].base;
    drop_at(best);
    return base;
}

/* Takes the oldest kept blocks out until `cap` more bytes (and, with slot, one
 * more block) fit; puts them in out for the caller to free after unlocking and
 * returns their number (at most MAX_KEPT). Lock held. */
static int evict_for(size_t cap, int slot, char **out)
{
    int n = 0;
    while (g_count > 0 && (g_bytes + cap > g_limit || (slot && g_count == MAX_KEPT))) {
        int oldest = 0;
        for (int i = 1; i < g_count; i++)
            if (g_kept[i].tick < g_kept[oldest].tick)
                oldest = i;
        out[n++] = g_kept[oldest].base;
        drop_at(oldest);
    }
    return n;
}

static void *fresh_block(size_t cap)
{
    char *base = aligned_alloc(64, cap + HEADER);
    if (!base)
        return NULL;
    if (cap >= HUGEPAGE_MIN) { /* fewer TLB misses on the big activations */
        uintptr_t lo = ((uintptr_t)base + 4095) & ~(uintptr_t)4095;
        uintptr_t hi = ((uintptr_t)base + cap + HEADER) & ~(uintptr_t)4095;
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
    *(size_t *)base = cap;
    return base + HEADER;
}

void *dfp_block_alloc(size_t bytes)
{
    if (bytes > SIZE_MAX - HEADER - LARGE_GRAIN)
        return NULL;
    const size_t cap = capacity_for(bytes ? bytes : 1);
    if (cap >= BLOCK_CACHE_MIN) {
        pthread_mutex_lock(&g_lock);
        char *base = take_kept(cap);
        if (base)
            g_hits++;
        else
            g_misses++;
        pthread_mutex_unlock(&g_lock);
        if (base)
            return base + HEADER;
    }
    return fresh_block(cap);
}

void *dfp_block_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = dfp_block_alloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void dfp_block_free(void *block)
{
    if (!block)
        return;
    const size_t cap = *header_of(block);
    char *base = (char *)header_of(block);
    if (cap < BLOCK_CACHE_MIN) {
        free(base);
        return;
    }
    char *evicted[MAX_KEPT];
    int n = 0, kept = 0;
    pthread_mutex_lock(&g_lock);
    if (cap <= g_limit) {
        n = evict_for(cap, 1, evicted);
        g_kept[g_count++] = (kept_block){.base = base, .cap = cap, .tick = ++g_tick};
        g_bytes += cap;
        kept = 1;
    }
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < n; i++)
        free(evicted[i]);
    if (!kept)
        free(base);
}

void *dfp_block_realloc(void *block, size_t bytes)
{
    if (!block)
        return dfp_block_alloc(bytes);
    const size_t cap = *header_of(block);
    if (capacity_for(bytes ? bytes : 1) <= cap && bytes >= cap / 2)
        return block; /* still fits without wasting half of it */
    void *p = dfp_block_alloc(bytes);
    if (!p)
        return NULL; /* the old block stays valid, as realloc's contract says */
    memcpy(p, block, bytes < cap ? bytes : cap);
    dfp_block_free(block);
    return p;
}

void dfp_block_cache_set_limit(size_t bytes)
{
    char *evicted[MAX_KEPT];
    pthread_mutex_lock(&g_lock);
    g_limit = bytes;
    int n = evict_for(0, 0, evicted);
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < n; i++)
        free(evicted[i]);
}

void dfp_block_cache_release(void)
{
    char *evicted[MAX_KEPT];
    pthread_mutex_lock(&g_lock);
    int n = g_count;
    for (int i = 0; i < n; i++)
        evicted[i] = g_kept[i].base;
    g_count = 0;
    g_bytes = 0;
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < n; i++)
        free(evicted[i]);
}

void dfp_block_cache_get_stats(dfp_block_cache_stats *stats)
{
    if (!stats)
        return;
    pthread_mutex_lock(&g_lock);
    stats->cached_bytes = g_bytes;
    stats->cached_blocks = (size_t)g_count;
    stats->limit_bytes = g_limit;
    stats->hits = g_hits;
    stats->misses = g_misses;
    pthread_mutex_unlock(&g_lock);
}
