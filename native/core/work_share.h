/* Sharing units of work [0, n) among the threads of an OpenMP team: each thread
 * first takes its own static share, from the front (the units schedule(static)
 * would give it, so data a previous loop's thread left in its core's cache is
 * met there again), then, when its share is done, takes units from the back of
 * the other threads' shares. On a quiet machine the shares end together and
 * almost nothing moves; when another process slows one core, its partner takes
 * over the tail instead of waiting. (Plain dynamic schedules lost that cache
 * affinity: 118-122 -> 137-165 ms a quiet step in session 10.) Every unit is
 * taken exactly once: a share is one 64-bit word (next, end) changed by
 * compare-and-swap. Results must not depend on who computes a unit.
 *
 *   dfp_work_share ws;                  (shared, before the parallel region)
 *   #pragma omp parallel ...
 *   {   dfp_work_share_start(&ws, n);   (every thread; ends with a barrier)
 *       dfp_work_cursor cur = {0};
 *       for (int64_t u; (u = dfp_work_next(&ws, &cur)) >= 0;) work(u); } */
#ifndef DFP_WORK_SHARE_H
#define DFP_WORK_SHARE_H

#include <stdatomic.h>
#include <stdint.h>

#define DFP_WORK_SHARE_MAX_THREADS 256

typedef struct dfp_work_share {
    _Atomic uint64_t share[DFP_WORK_SHARE_MAX_THREADS]; /* (end << 32) | next */
    int team;
} dfp_work_share;

typedef struct dfp_work_cursor {
    int victim; /* the share taken from: 0 one's own, else that many after it */
} dfp_work_cursor;

/* Every thread of the team calls it (units n < 2^32); ends with a barrier. */
void dfp_work_share_start(dfp_work_share *ws, int64_t n);
/* The next unit for the calling thread, or -1 when none is left. */
int64_t dfp_work_next(dfp_work_share *ws, dfp_work_cursor *cur);

/* Loops over items [0, n) shared out `unit` items at a time:
 *   dfp_work_share_start(&ws, units_of(n, unit));
 *   for (int64_t i0, i1; next_units(&ws, &cur, n, unit, &i0, &i1);)
 *       for (int64_t i = i0; i < i1; i++) ... */
static inline int64_t units_of(int64_t n, int64_t unit) { return (n + unit - 1) / unit; }

/* The calling thread's next units of [0, n), unit at a time (work_share.h: its own
 * static share first, then the others' tails): [*i0, *i1), or 0 when none is left. */
static inline int next_units(dfp_work_share *ws, dfp_work_cursor *cur, int64_t n, int64_t unit, int64_t *i0,
                             int64_t *i1)
{
    const int64_t u = dfp_work_next(ws, cur);
    if (u < 0)
        return 0;
    *i0 = u * unit;
    *i1 = *i0 + unit < n ? *i0 + unit : n;
    return 1;
}

#endif
