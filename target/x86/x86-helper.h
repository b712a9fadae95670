/* C helpers called from translated code (target/x86/helper.c). */
#ifndef VIREO_TARGET_X86_HELPER_H
#define VIREO_TARGET_X86_HELPER_H

#include <stdint.h>
#include "vireo/x86-cpu.h"

enum { STR_MOVS, STR_CMPS, STR_STOS, STR_LODS, STR_SCAS };

/* info: kind | size_bits << 8 | rep (1 = F3, 2 = F2) << 16 | addr32 << 18 | seg << 20 */
void helper_string(CPUX86State *env, uint64_t info);
/* info: size_bits | signed << 8; raises #DE on a zero divisor or a quotient that overflows */
void helper_div(CPUX86State *env, uint64_t divisor, uint64_t info);

#endif
