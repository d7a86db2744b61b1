/* Static shares with stealing from their backs (work_share.h). */
#include "work_share.h"

#include <omp.h>

static inline uint64_t pack(uint64_t next, uint64_t end) { return end << 32 | next; }

void dfp_work_share_start(dfp_work_share *ws, int64_t n)
{
    const int team = omp_get_num_threads(), t = omp_get_thread_num();
#pragma omp single
    ws->team = team < DFP_WORK_SHARE_MAX_THREADS ? team : DFP_WORK_SHARE_MAX_THREADS;
    /* (single's barrier: team is set) */
    for (int s = t; s < ws->team; s += team) /* the static split: share s = [n s / T, n (s + 1) / T) */
        atomic_store(&ws->share[s], pack((uint64_t)(n * s / ws->team), (uint64_t)(n * (s + 1) / ws->team)));
#pragma omp barrier
}

/* A unit from the front (own share) or the back (another's) of share s; -1 if empty. */
static int64_t take(dfp_work_share *ws, int s, int front)
{
    uint64_t v = atomic_load(&ws->share[s]);
    for (;;) {
        const uint64_t next = v & 0xffffffffu, end = v >> 32;
        if (next >= end)
            return -1;
        const uint64_t w = front ? pack(next + 1, end) : pack(next, end - 1);
        if (atomic_compare_exchange_weak(&ws->share[s], &v, w))
            return (int64_t)(front ? next : end - 1);
    }
}

int64_t dfp_work_next(dfp_work_share *ws, dfp_work_cursor *cur)
{
    const int own = omp_get_thread_num() % ws->team;
    if (cur->victim == 0) {
        int64_t u = take(ws, own, 1);
        if (u >= 0)
            return u;
        cur->victim = 1;
    }
    for (; cur->victim < ws->team; cur->victim++) { /* the others' shares, nearest first */
        int64_t u = take(ws, (own + cur->victim) % ws->team, 0);
        if (u >= 0)
            return u;
    }
    return -1;
}
