/* Large scratch buffers reused across calls (scratch.c). */
#ifndef DFP_SCRATCH_H
#define DFP_SCRATCH_H

#include <stddef.h>

/* A 64-byte aligned buffer of at least `bytes` (NULL when out of memory); its
 * contents are undefined. Give it back with dfp_scratch_give. */
void *dfp_scratch_take(size_t bytes);
/* Keep p for a later dfp_scratch_take (or free it when the cache is full). */
void dfp_scratch_give(void *p);

#endif
