/* Work sharing (work_share.h): every unit taken exactly once, whatever the team
 * size and however unevenly the threads run; a thread takes its own static share
 * from the front, then the others' from their backs. */
#include "dfp_test.h"
#include "work_share.h"

#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>

static void run(int threads, int64_t n, int slow_thread)
{
    _Atomic int *taken = calloc((size_t)(n > 0 ? n : 1), sizeof *taken);
    dfp_work_share ws;
#pragma omp parallel num_threads(threads)
    {
        dfp_work_share_start(&ws, n);
        dfp_work_cursor cur = {0};
        int t = omp_get_thread_num();
        for (int64_t u; (u = dfp_work_next(&ws, &cur)) >= 0;) {
            atomic_fetch_add(&taken[u], 1);
            if (t == slow_thread) /* a thread slowed by another process */
                for (volatile int spin = 0; spin < 20000; spin++)
                    ;
        }
    }
    int bad = 0;
    for (int64_t u = 0; u < n; u++)
        bad += atomic_load(&taken[u]) != 1;
    CHECK(bad == 0);
    free(taken);
}

/* Two threads, the second held back until the first has run dry: the first takes
 * its share [0, 5) in order, then all of the second's [5, 11) from the back. */
static void order_of_taking(void)
{
    int64_t got[16], ngot = 0, second_got = 0;
    _Atomic int first_done = 0;
    dfp_work_share ws;
#pragma omp parallel num_threads(2)
    {
        dfp_work_share_start(&ws, 11);
        dfp_work_cursor cur = {0};
        if (omp_get_num_threads() == 2 && omp_get_thread_num() == 1) {
            while (!atomic_load(&first_done))
                ;
            second_got = dfp_work_next(&ws, &cur) >= 0;
        } else if (omp_get_thread_num() == 0) {
            for (int64_t u; (u = dfp_work_next(&ws, &cur)) >= 0 && ngot < 16;)
                got[ngot++] = u;
            atomic_store(&first_done, 1);
        }
    }
    const int64_t want[11] = {0, 1, 2, 3, 4, 10, 9, 8, 7, 6, 5};
    CHECK(ngot == 11 && second_got == 0);
    for (int i = 0; i < 11 && ngot == 11; i++)
        CHECK(got[i] == want[i]);
}

int main(void)
{
    const int64_t sizes[] = {0, 1, 2, 3, 7, 128, 1000};
    for (int threads = 1; threads <= 8; threads *= 2) {
        omp_set_dynamic(0);
        for (int i = 0; i < 7; i++) {
            run(threads, sizes[i], -1);
            run(threads, sizes[i], threads - 1);
        }
    }
    order_of_taking();
    return TEST_RESULT();
}
