/* CPU feature detection: what the CPU and the OS together can run. Built for
 * baseline x86-64 (no ISA flags), so it runs on any x86-64 CPU. */
#ifndef DFP_CPU_FEATURES_H
#define DFP_CPU_FEATURES_H

#include "dfpengine.h"

/* Highest dfp_isa level the CPU supports with OS-enabled register state. */
dfp_isa dfp_cpu_detect_isa(void);

#endif
