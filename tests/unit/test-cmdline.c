/*
 * Unit tests for system/cmdline.c: vireo_parse_cmdline fills VireoConfig as QEMU 7.2
 * would configure the machine.
 *
 * With "--parse ARGS..." this program instead parses ARGS like qemu-system-x86_64,
 * prints the resulting VireoConfig one "field=value" per line and exits as main() would
 * (0 to start the machine or after help, 1 on error); tests/cmdline/ uses it to check
 * accepted command lines without starting a VM.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <glib.h>
#include "vireo/config.h"
#include "../lib/unit.h"

static void print_config(const VireoConfig *c)
{
    printf("accels=");
    for (int i = 0; i < c->n_accels; i++) {
        printf("%s%s", i ? ":" : "", c->accels[i] == ACCEL_KVM ? "kvm" : "tcg");
    }
    printf("\nmachine=%s\ncpu=%s\nram=%" PRIu64 "\n", c->machine_type, c->cpu_model, c->ram_size);
    printf("smp=%u,maxcpus=%u,sockets=%u,dies=%u,cores=%u,threads=%u\n", c->smp.cpus,
           c->smp.maxcpus, c->smp.sockets, c->smp.dies, c->smp.cores, c->smp.threads);
    printf("kernel=%s\ninitrd=%s\nappend=%s\nname=%s\n", c->kernel ? c->kernel : "(null)",
           c->initrd ? c->initrd : "(null)", c->append ? c->append : "(null)",
           c->name ? c->name : "(null)");
    printf("serial=");
    for (int i = 0; i < c->n_serial; i++) {
        printf("%s%s", i ? " " : "", c->serial[i] ? c->serial[i] : "(none)");
    }
    printf("\nnographic=%d display_none=%d no_reboot=%d no_shutdown=%d S=%d\n", c->nographic,
           c->display_none, c->no_reboot, c->no_shutdown, c->start_paused);
}

/* Parse a NULL-terminated argument list (program name added). */
static int parse(VireoConfig *cfg, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;

    argv[argc++] = "qemu-system-x86_64";
    va_start(ap, cfg);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 63;) {
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    return vireo_parse_cmdline(argc, argv, cfg);
}

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool smp_is(const VireoConfig *c, unsigned cpus, unsigned maxcpus, unsigned sockets,
                   unsigned dies, unsigned cores, unsigned threads)
{
    return c->smp.cpus == cpus && c->smp.maxcpus == maxcpus && c->smp.sockets == sockets &&
           c->smp.dies == dies && c->smp.cores == cores && c->smp.threads == threads;
}

static void test_defaults(void)
{
    VireoConfig c;
    int r = parse(&c, NULL);
    CHECK("defaults/ok", r == 0);
    CHECK("defaults/machine", streq(c.machine_type, "pc-i440fx-7.2"));
    CHECK("defaults/cpu", streq(c.cpu_model, "qemu64"));
    CHECK("defaults/ram", c.ram_size == 128ULL << 20);
    CHECK("defaults/smp", smp_is(&c, 1, 1, 1, 1, 1, 1));
    CHECK("defaults/accels",
          c.n_accels == 2 && c.accels[0] == ACCEL_TCG && c.accels[1] == ACCEL_KVM);
    CHECK("defaults/flags", !c.nographic && !c.display_none && !c.no_reboot && !c.no_shutdown &&
                                !c.start_paused && !c.serial_given && c.n_serial == 0);
    CHECK("defaults/strings", !c.kernel && !c.initrd && !c.append && !c.name);
    vireo_config_free(&c);
}

static void test_machine_accel(void)
{
    VireoConfig c;

    CHECK("machine/q35", parse(&c, "-M", "q35", NULL) == 0 && streq(c.machine_type, "pc-q35-7.2"));
    vireo_config_free(&c);
    CHECK("machine/type=", parse(&c, "-machine", "type=pc-q35-7.2,usb=off", NULL) == 0 &&
                               streq(c.machine_type, "pc-q35-7.2"));
    vireo_config_free(&c);
    CHECK("machine/merge", parse(&c, "-M", "q35", "--machine", "accel=kvm", NULL) == 0 &&
                               streq(c.machine_type, "pc-q35-7.2") && c.n_accels == 1 &&
                               c.accels[0] == ACCEL_KVM);
    vireo_config_free(&c);
    CHECK("machine/none", parse(&c, "-M", "none", NULL) == 0 && streq(c.machine_type, "none"));
    vireo_config_free(&c);
    CHECK("machine/unknown", parse(&c, "-M", "foo", NULL) == -1);
    CHECK("machine/help", parse(&c, "-M", "help", NULL) == 1);
    CHECK("machine/bad-prop", parse(&c, "-M", "pc,foo=bar", NULL) == -1);

    CHECK("accel/list", parse(&c, "-machine", "accel=kvm:tcg", NULL) == 0 && c.n_accels == 2 &&
                            c.accels[0] == ACCEL_KVM && c.accels[1] == ACCEL_TCG);
    vireo_config_free(&c);
    CHECK("accel/repeat", parse(&c, "-accel", "kvm", "-accel", "tcg", NULL) == 0 &&
                              c.n_accels == 2 && c.accels[0] == ACCEL_KVM &&
                              c.accels[1] == ACCEL_TCG);
    vireo_config_free(&c);
    CHECK("accel/enable-kvm",
          parse(&c, "-enable-kvm", NULL) == 0 && c.n_accels == 1 && c.accels[0] == ACCEL_KVM);
    vireo_config_free(&c);
    CHECK("accel/enable-kvm-then-M", parse(&c, "-enable-kvm", "-M", "accel=tcg", NULL) == 0 &&
                                         c.n_accels == 1 && c.accels[0] == ACCEL_TCG);
    vireo_config_free(&c);
    CHECK("accel/incompatible", parse(&c, "-enable-kvm", "-accel", "tcg", NULL) == -1);
    CHECK("accel/invalid", parse(&c, "-accel", "foo", NULL) == -1);
    CHECK("accel/invalid-then-tcg", parse(&c, "-accel", "foo", "-accel", "tcg", NULL) == 0 &&
                                        c.n_accels == 1 && c.accels[0] == ACCEL_TCG);
    vireo_config_free(&c);
    CHECK("accel/M-invalid-skipped", parse(&c, "-M", "accel=foo:kvm", NULL) == 0 &&
                                         c.n_accels == 1 && c.accels[0] == ACCEL_KVM);
    vireo_config_free(&c);
    CHECK("accel/kvm-prop", parse(&c, "-accel", "kvm,kernel-irqchip=split", NULL) == 0);
    vireo_config_free(&c);
    CHECK("accel/bad-prop", parse(&c, "-accel", "kvm,foo=bar", NULL) == -1);
    CHECK("accel/help", parse(&c, "-accel", "help", NULL) == 1);

    CHECK("cpu/host-kvm",
          parse(&c, "-cpu", "host", "-accel", "kvm", NULL) == 0 && streq(c.cpu_model, "host"));
    vireo_config_free(&c);
    CHECK("cpu/host-tcg", parse(&c, "-cpu", "host", NULL) == -1);
    CHECK("cpu/max", parse(&c, "-cpu", "max", NULL) == 0 && streq(c.cpu_model, "max"));
    vireo_config_free(&c);
    CHECK("cpu/unknown", parse(&c, "-cpu", "foo", NULL) == -1);
    CHECK("cpu/empty", parse(&c, "-cpu", "", NULL) == -1);
    CHECK("cpu/help", parse(&c, "-cpu", "help", NULL) == 1);
}

static void test_memory(void)
{
    VireoConfig c;
    static const struct {
        const char *arg;
        uint64_t want;
    } cases[] = {
        {"4G", 4ULL << 30},
        {"4096", 4096ULL << 20},
        {"512M", 512ULL << 20},
        {"1.5G", 3ULL << 29},
        {"size=2G", 2ULL << 30},
        {"0", 128ULL << 20},
        {"", 128ULL << 20},
        {"1", 1ULL << 20},
        {"1K", 8192},
        {"100k", 106496},
        {"1b", 8192},
        {"1.0", 1ULL << 20},
        {"4G,size=1G", 1ULL << 30},
        {"4G,maxmem=8G", 4ULL << 30},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *name = g_strdup_printf("m/%s", cases[i].arg);
        int r = parse(&c, "-m", cases[i].arg, NULL);
        CHECK(name, r == 0 && c.ram_size == cases[i].want);
        vireo_config_free(&c);
        g_free(name);
    }
    CHECK("m/repeat", parse(&c, "-m", "1G", "-m", "2G", NULL) == 0 && c.ram_size == 2ULL << 30);
    vireo_config_free(&c);
    static const char *const bad[] = {"5X",    "512MB",      "1.5",          "-1",        "16E",
                                      "foo=1", "4G,slots=2", "4G,maxmem=2G", "4G,slots=x"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *name = g_strdup_printf("m/bad/%s", bad[i]);
        CHECK(name, parse(&c, "-m", bad[i], NULL) == -1);
        g_free(name);
    }
}

static void test_smp(void)
{
    VireoConfig c;
    static const struct {
        const char *arg;
        unsigned cpus, maxcpus, sockets, dies, cores, threads;
    } cases[] = {
        {"4", 4, 4, 1, 1, 4, 1},
        {"cpus=4", 4, 4, 1, 1, 4, 1},
        {"4,sockets=2", 4, 4, 2, 1, 2, 1},
        {"sockets=2", 2, 2, 2, 1, 1, 1},
        {"cores=2", 2, 2, 1, 1, 2, 1},
        {"threads=2", 2, 2, 1, 1, 1, 2},
        {"4,maxcpus=8", 4, 8, 1, 1, 8, 1},
        {"8,sockets=2,cores=2", 8, 8, 2, 1, 2, 2},
        {"8,sockets=2,cores=2,threads=2", 8, 8, 2, 1, 2, 2},
        {"8,dies=2", 8, 8, 1, 2, 4, 1},
        {"maxcpus=8", 8, 8, 1, 1, 8, 1},
        {"0", 1, 1, 1, 1, 1, 1},
        {"0x10", 16, 16, 1, 1, 16, 1},
        {"2,sockets=2,cores=2,maxcpus=4", 2, 4, 2, 1, 2, 1},
        {"4,cores=2", 4, 4, 2, 1, 2, 1},
        {"255", 255, 255, 1, 1, 255, 1},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *name = g_strdup_printf("smp/%s", cases[i].arg);
        int r = parse(&c, "-smp", cases[i].arg, NULL);
        CHECK(name, r == 0 && smp_is(&c, cases[i].cpus, cases[i].maxcpus, cases[i].sockets,
                                     cases[i].dies, cases[i].cores, cases[i].threads));
        vireo_config_free(&c);
        g_free(name);
    }
    CHECK("smp/merge",
          parse(&c, "-smp", "4,maxcpus=8", "-smp", "2", NULL) == 0 && smp_is(&c, 2, 8, 1, 1, 8, 1));
    vireo_config_free(&c);
    CHECK("smp/q35-288", parse(&c, "-M", "q35", "-smp", "288", NULL) == 0 && c.smp.cpus == 288);
    vireo_config_free(&c);
    static const char *const bad[] = {"4,maxcpus=2",  "4,cores=3", "256",     "x",  "4,foo=1",
                                      "8,clusters=2", "4,sockets", "cpus=-1", "1.5"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *name = g_strdup_printf("smp/bad/%s", bad[i]);
        CHECK(name, parse(&c, "-smp", bad[i], NULL) == -1);
        g_free(name);
    }
    CHECK("smp/none-2", parse(&c, "-M", "none", "-smp", "2", NULL) == -1);
}

static void test_misc(void)
{
    VireoConfig c;

    CHECK("kernel",
          parse(&c, "-kernel", "/k", "-initrd", "/i", "-append", "console=ttyS0,,x", NULL) == 0 &&
              streq(c.kernel, "/k") && streq(c.initrd, "/i") &&
              streq(c.append, "console=ttyS0,,x"));
    vireo_config_free(&c);
    CHECK("kernel/machine-prop",
          parse(&c, "-M", "pc,kernel=/k,,x", NULL) == 0 && streq(c.kernel, "/k,x"));
    vireo_config_free(&c);
    CHECK("append-without-kernel", parse(&c, "-append", "x", NULL) == -1);
    CHECK("initrd-without-kernel", parse(&c, "-initrd", "x", NULL) == -1);

    CHECK("serial",
          parse(&c, "-serial", "stdio", "-serial", "none", "-serial", "file:/tmp/x", NULL) == 0 &&
              c.serial_given && c.n_serial == 3 && streq(c.serial[0], "stdio") &&
              c.serial[1] == NULL && streq(c.serial[2], "file:/tmp/x"));
    vireo_config_free(&c);
    CHECK("flags", parse(&c, "-nographic", "-display", "none", "-no-reboot", "--no-shutdown", "-S",
                         "-nodefaults", "-no-user-config", "-no-hpet", NULL) == 0 &&
                       c.nographic && c.display_none && c.no_reboot && c.no_shutdown &&
                       c.start_paused);
    vireo_config_free(&c);
    CHECK("no-hpet/none", parse(&c, "-M", "none", "-no-hpet", NULL) == -1);
    CHECK("display/gtk", parse(&c, "-display", "gtk", NULL) == -1);
    CHECK("display/foo", parse(&c, "-display", "foo", NULL) == -1);

    CHECK("name",
          parse(&c, "-name", "foo,,bar,debug-threads=on", NULL) == 0 && streq(c.name, "foo,bar"));
    vireo_config_free(&c);
    CHECK("name/guest",
          parse(&c, "-name", "a", "-name", "guest=b", NULL) == 0 && streq(c.name, "b"));
    vireo_config_free(&c);
    CHECK("name/bad", parse(&c, "-name", "guest=x,y=1", NULL) == -1);

    CHECK("version", parse(&c, "-version", NULL) == 1);
    CHECK("help", parse(&c, "--help", NULL) == 1);
    CHECK("invalid", parse(&c, "-foo", NULL) == -1);
    CHECK("invalid-after-version", parse(&c, "-version", "-foo", NULL) == -1);
    CHECK("missing-arg", parse(&c, "-m", NULL) == -1);
    CHECK("three-dashes", parse(&c, "---m", "1G", NULL) == -1);
    CHECK("unsupported", parse(&c, "-acpitable", "file=x", NULL) == -1);

    /* block options: kept as given for start-up (system/blockdev.c), checked as QEMU's parser */
    CHECK("drive/kept", parse(&c, "-drive", "file=a,,b.img,if=none", "-hdb", "x,y.img", "-cdrom",
                              "cd.iso", "disk.img", "-snapshot", NULL) == 0 &&
                            c.n_drives == 4 && streq(c.drives[0].spec, "file=a,,b.img,if=none") &&
                            !c.drives[0].file && streq(c.drives[1].spec, "index=1,media=disk") &&
                            streq(c.drives[1].file, "x,y.img") &&
                            streq(c.drives[2].spec, "index=2,media=cdrom") &&
                            streq(c.drives[3].spec, "index=0,media=disk") &&
                            streq(c.drives[3].loc, "disk.img") && c.snapshot);
    vireo_config_free(&c);
    CHECK("drive/bad-id", parse(&c, "-drive", "file=x,id=1x", NULL) == -1);
    CHECK("blockdev/kept",
          parse(&c, "-blockdev", "driver=file,filename=x,node-name=n", NULL) == 0 &&
              c.n_blockdevs == 1 &&
              streq(c.blockdev_locs[0], "-blockdev driver=file,filename=x,"
                                        "node-name=n"));
    vireo_config_free(&c);
    CHECK("blockdev/schema", parse(&c, "-blockdev", "driver=file", NULL) == -1);
    CHECK("blockdev/json",
          parse(&c, "-blockdev", "{\"driver\":\"file\",\"filename\":1}", NULL) == -1);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--parse") == 0) {
        VireoConfig c;
        argv[1] = argv[0];
        int r = vireo_parse_cmdline(argc - 1, argv + 1, &c);
        if (r == 0) {
            print_config(&c);
            vireo_config_free(&c);
        }
        return r < 0 ? 1 : 0;
    }
    /* The checks below print QEMU's messages to stderr and help texts to stdout. */
    test_defaults();
    test_machine_accel();
    test_memory();
    test_smp();
    test_misc();
    UNIT_EXIT();
}
