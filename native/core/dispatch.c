/* Runtime dispatch: detect once, fill the kernel table scalar -> avx2 ->
 * avx512 -> avx512_vnni up to the selected level. DFPENGINE_ISA forces a
 * lower level (the Python layer raises if it names an unsupported one; a C
 * program gets a warning on stderr and the best supported level). */
#include "kernel_table.h"
#include "cpu_features.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DFP_ISA_COMPILED
#define DFP_ISA_COMPILED DFP_ISA_AVX512_VNNI
#endif

static dfp_kernel_table g_table;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_select_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const isa_names[] = {"scalar", "avx2", "avx512", "avx512_vnni"};

const char *dfp_isa_name(dfp_isa isa)
{
    if (isa < DFP_ISA_SCALAR || isa > DFP_ISA_AVX512_VNNI)
        return "unknown";
    return isa_names[isa];
}

dfp_status dfp_isa_from_name(const char *name, dfp_isa *isa)
{
    if (!name || !isa)
        return DFP_ERR_NULL_POINTER;
    for (int i = DFP_ISA_SCALAR; i <= DFP_ISA_AVX512_VNNI; i++) {
        if (strcmp(name, isa_names[i]) == 0) {
            *isa = (dfp_isa)i;
            return DFP_OK;
        }
    }
    return DFP_ERR_INVALID_ARGUMENT;
}

dfp_isa dfp_isa_compiled(void) { return DFP_ISA_COMPILED; }

dfp_isa dfp_isa_supported(void)
{
    static int detected = -1;
    if (detected < 0)
        detected = (int)dfp_cpu_detect_isa();
    return detected < (int)DFP_ISA_COMPILED ? (dfp_isa)detected : DFP_ISA_COMPILED;
}

static void fill_table(dfp_kernel_table *t, dfp_isa isa)
{
    memset(t, 0, sizeof(*t));
    dfp_kernel_table_init_scalar(t);
    if (isa >= DFP_ISA_AVX2)
        dfp_kernel_table_init_avx2(t);
    if (isa >= DFP_ISA_AVX512)
        dfp_kernel_table_init_avx512(t);
    if (isa >= DFP_ISA_AVX512_VNNI)
        dfp_kernel_table_init_avx512_vnni(t);
    t->isa = isa;
}

static void init_once(void)
{
    dfp_isa isa = dfp_isa_supported();
    const char *forced = getenv("DFPENGINE_ISA");
    if (forced && *forced) {
        dfp_isa want;
        if (dfp_isa_from_name(forced, &want) != DFP_OK)
            fprintf(stderr, "dfpengine: DFPENGINE_ISA=%s is not one of scalar, avx2, avx512, "
                            "avx512_vnni; using %s\n", forced, dfp_isa_name(isa));
        else if (want > isa)
            fprintf(stderr, "dfpengine: DFPENGINE_ISA=%s is not supported by this CPU; using %s\n",
                    forced, dfp_isa_name(isa));
        else
            isa = want;
    }
    fill_table(&g_table, isa);
}

const dfp_kernel_table *dfp_kernels(void)
{
    pthread_once(&g_once, init_once);
    return &g_table;
}

dfp_isa dfp_isa_selected(void) { return dfp_kernels()->isa; }

dfp_status dfp_isa_select(dfp_isa isa)
{
    if (isa < DFP_ISA_SCALAR || isa > DFP_ISA_AVX512_VNNI)
        return DFP_ERR_INVALID_ARGUMENT;
    if (isa > dfp_isa_supported())
        return DFP_ERR_UNSUPPORTED_ISA;
    pthread_once(&g_once, init_once);
    /* Build the new table aside and copy it in under a lock: callers switch
     * ISA between computations (tests, benchmarks), never during one. */
    dfp_kernel_table fresh;
    fill_table(&fresh, isa);
    pthread_mutex_lock(&g_select_lock);
    g_table = fresh;
    pthread_mutex_unlock(&g_select_lock);
    return DFP_OK;
}
