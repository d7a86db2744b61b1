/* Dispatch: names round-trip, selection is bounded by support, threads validate. */
#include "dfpengine.h"
#include "dfp_test.h"

#include <string.h>

int main(void)
{
    for (int i = DFP_ISA_SCALAR; i <= DFP_ISA_AVX512_VNNI; i++) {
        dfp_isa back;
        CHECK(dfp_isa_from_name(dfp_isa_name((dfp_isa)i), &back) == DFP_OK);
        CHECK(back == (dfp_isa)i);
    }
    dfp_isa dummy;
    CHECK(dfp_isa_from_name("sse9", &dummy) == DFP_ERR_INVALID_ARGUMENT);
    CHECK(dfp_isa_from_name(NULL, &dummy) == DFP_ERR_NULL_POINTER);

    CHECK(dfp_isa_supported() <= dfp_isa_compiled());
    CHECK(dfp_isa_selected() <= dfp_isa_supported());
    for (int i = DFP_ISA_SCALAR; i <= (int)dfp_isa_supported(); i++) {
        CHECK(dfp_isa_select((dfp_isa)i) == DFP_OK);
        CHECK(dfp_isa_selected() == (dfp_isa)i);
    }
    if (dfp_isa_supported() < DFP_ISA_AVX512_VNNI)
        CHECK(dfp_isa_select(DFP_ISA_AVX512_VNNI) == DFP_ERR_UNSUPPORTED_ISA);
    CHECK(dfp_isa_select((dfp_isa)7) == DFP_ERR_INVALID_ARGUMENT);

    CHECK(dfp_set_num_threads(0) == DFP_ERR_INVALID_ARGUMENT);
    CHECK(dfp_set_num_threads(2) == DFP_OK);
    CHECK(dfp_num_threads() == 2);
    CHECK(strcmp(dfp_status_string(DFP_ERR_INVALID_SHAPE), "invalid or inconsistent shape") == 0);
    return TEST_RESULT();
}
