/* Large scratch buffers (packed GEMM panels, quantised conv operands) are kept
 * for the next call instead of freed: glibc returns multi-megabyte blocks to
 * the kernel on free, and the next call's first touch then faults and zeroes
 * every page again (3-5% of a training step in `perf`, and most of the run to
 * run spread of the GEMM benchmark). A few buffers, a bounded total, one lock. */
#include "scratch.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define SLOTS 8
#define MAX_CACHED_BYTES ((size_t)512 << 20)
#define HEADER 64 /* capacity stored before the 64-byte aligned block */

static void *g_slot[SLOTS];
static size_t g_cached;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static inline size_t capacity_of(void *p) { return *(size_t *)((char *)p - HEADER); }

void *dfp_scratch_take(size_t bytes)
{
    pthread_mutex_lock(&g_lock);
    int best = -1;
    for (int i = 0; i < SLOTS; i++) /* the smallest cached block that fits, not 4x too big */
        if (g_slot[i] && capacity_of(g_slot[i]) >= bytes && capacity_of(g_slot[i]) / 4 <= bytes &&
            (best < 0 || capacity_of(g_slot[i]) < capacity_of(g_slot[best])))
            best = i;
    void *p = NULL;
    if (best >= 0) {
        p = g_slot[best];
        g_slot[best] = NULL;
        g_cached -= capacity_of(p);
    }
    pthread_mutex_unlock(&g_lock);
    if (p)
        return p;
    size_t cap = (bytes + 63) / 64 * 64;
    char *base = aligned_alloc(64, cap + HEADER);
    if (!base)
        return NULL;
    *(size_t *)base = cap;
    return base + HEADER;
}

void dfp_scratch_give(void *p)
{
    if (!p)
        return;
    size_t cap = capacity_of(p);
    pthread_mutex_lock(&g_lock);
    int free_slot = -1, smallest = -1;
    for (int i = 0; i < SLOTS; i++) {
        if (!g_slot[i])
            free_slot = free_slot < 0 ? i : free_slot;
        else if (smallest < 0 || capacity_of(g_slot[i]) < capacity_of(g_slot[smallest]))
            smallest = i;
    }
    void *evict = NULL;
    if (free_slot < 0 && smallest >= 0 && capacity_of(g_slot[smallest]) < cap) {
        evict = g_slot[smallest]; /* keep the larger block */
        g_cached -= capacity_of(evict);
        g_slot[smallest] = NULL;
        free_slot = smallest;
    }
    if (free_slot >= 0 && g_cached + cap <= MAX_CACHED_BYTES) {
        g_slot[free_slot] = p;
        g_cached += cap;
        p = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    if (evict)
        free((char *)evict - HEADER);
    if (p)
        free((char *)p - HEADER);
}
