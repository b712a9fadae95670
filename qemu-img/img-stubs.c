#include "vireo/error.h"
#include "qemu-img-cmds.h"
int img_convert(int argc, char **argv)
{
    error_report("convert: not implemented");
    return 1;
}
int img_resize(int argc, char **argv)
{
    error_report("resize: not implemented");
    return 1;
}
int img_map(int argc, char **argv)
{
    error_report("map: not implemented");
    return 1;
}
int img_compare(int argc, char **argv)
{
    error_report("compare: not implemented");
    return 1;
}
