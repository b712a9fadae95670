/*
 * The TCG accelerator (our dynamic binary translator) is not written yet: it reports
 * itself unavailable so that `-accel tcg` and `-machine accel=kvm:tcg` fail or fall back
 * with a clear message instead of pretending to run.
 */
#include "vireo/accel.h"

static bool tcg_available(const char **why)
{
    *why = "not implemented in this Vireo build yet (use -accel kvm)";
    return false;
}

const AccelOps tcg_accel_ops = {
    .name = "tcg",
    .available = tcg_available,
};
