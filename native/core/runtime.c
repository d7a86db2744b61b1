/* Version, status strings and the thread setting. */
#include "kernel_table.h"

#include <stdlib.h>
#include <omp.h>

#ifndef DFP_VERSION
#define DFP_VERSION "0.1.0"
#endif

/* Below this many independent work items per thread, threading costs more than it saves. */
#define DFP_MIN_WORK_PER_THREAD 1

static int g_num_threads = 0; /* 0: not yet read from the environment */

const char *dfp_version(void) { return DFP_VERSION; }

const char *dfp_status_string(dfp_status status)
{
    switch (status) {
    case DFP_OK: return "ok";
    case DFP_ERR_NULL_POINTER: return "a required buffer is NULL";
    case DFP_ERR_INVALID_SHAPE: return "invalid or inconsistent shape";
    case DFP_ERR_INVALID_ARGUMENT: return "invalid argument";
    case DFP_ERR_UNSUPPORTED_ISA: return "ISA level not supported by this CPU or not compiled in";
    case DFP_ERR_OUT_OF_MEMORY: return "out of memory";
    case DFP_ERR_NOT_FINITE: return "input contains NaN or infinity";
    }
    return "unknown status";
}

int dfp_num_threads(void)
{
    if (g_num_threads == 0) {
        const char *env = getenv("DFPENGINE_NUM_THREADS");
        int n = env ? atoi(env) : 0;
        g_num_threads = n > 0 ? n : omp_get_max_threads();
    }
    return g_num_threads;
}

dfp_status dfp_set_num_threads(int num_threads)
{
    if (num_threads < 1 || num_threads > 1024)
        return DFP_ERR_INVALID_ARGUMENT;
    g_num_threads = num_threads;
    return DFP_OK;
}

int dfp_threads_for_work(int64_t work_items)
{
    /* inside a team (drivers whose threads take images) every call runs on its
     * own thread: no nested teams */
    if (omp_in_parallel())
        return 1;
    int n = dfp_num_threads();
    int64_t useful = work_items / DFP_MIN_WORK_PER_THREAD;
    if (useful < 1)
        useful = 1;
    return useful < n ? (int)useful : n;
}
