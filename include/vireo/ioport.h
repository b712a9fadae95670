/*
 * Port I/O and MMIO registration and dispatch now live in the memory map (memory.h): this header
 * stays for the files that include it.
 */
#ifndef VIREO_IOPORT_H
#define VIREO_IOPORT_H

#include "vireo/memory.h"

#endif
