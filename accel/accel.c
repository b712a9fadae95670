/* Accelerator choice (include/vireo/accel.h): -accel order, QEMU's fallback messages. */
#include <stddef.h>
#include "vireo/accel.h"
#include "vireo/error.h"

const AccelOps *current_accel;

static const AccelOps *accel_ops_for(AccelType t)
{
    return t == ACCEL_KVM ? &kvm_accel_ops : &tcg_accel_ops;
}

int accel_select(const VireoConfig *cfg)
{
    AccelType def = ACCEL_TCG;
    const AccelType *list = cfg->n_accels ? cfg->accels : &def;
    int n = cfg->n_accels ? cfg->n_accels : 1;
    for (int i = 0; i < n; i++) {
        const AccelOps *ops = accel_ops_for(list[i]);
        const char *why = NULL;
        if (ops->available(&why)) {
            if (i > 0) {
                error_report("falling back to %s", ops->name);
            }
            current_accel = ops;
            return 0;
        }
        /* The accelerator printed its own lines (QEMU's); then the (located) failure. */
        if (cfg->accels_from_option) {
            error_report("-accel %s: failed to initialize %s: %s", ops->name, ops->name, why);
        } else {
            error_report("failed to initialize %s: %s", ops->name, why);
        }
    }
    return -1;
}
