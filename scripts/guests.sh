#!/bin/bash
# Fills the guest cache used by the KVM tests, the nested harness and the benches:
#   $VIREO_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/vireo), never committed.
# From Debian packages (apt-get download; no other network access):
#   vmlinuz-cloud          linux-image-cloud-amd64's kernel: the INNER guest Vireo boots
#   vmlinuz-generic        linux-image-amd64's kernel: the OUTER guest of scripts/nested-run.sh
#   test-initrd.cpio.gz    inner initramfs: busybox + /init printing VIREO-INIT-OK and cpus=N,
#                          then vireo.action=poweroff|reboot|shell (default poweroff), after
#                          vireo.hold=SECONDS if given
#   outer-initrd.cpio.gz   outer initramfs: virtio/9p/kvm modules, mounts the host's / (9p, read-only)
#                          at /host, chroots there and runs the base64 vireo.cmd=, prints
#                          VIREO-NESTED-EXIT=<status>, powers off
#   busybox                busybox-static's binary
#   pciutils.tar           pciutils' lspci and setpci with their libraries (libpci3, libudev1 from
#                          their packages, the rest from the host's Debian) and pci.ids, laid out
#                          to be unpacked at the root of a busybox initramfs (tests/tcg/pci-guest.sh)
#   virtio-modules.tar     the cloud kernel's virtio drivers (pci, blk, scsi + sd/sr, net, balloon,
#                          rng, console) and what they need, as lib/modules/*.ko with
#                          lib/modules/order (insmod order), to unpack at the root of a busybox
#                          initramfs: `for m in $(cat /lib/modules/order); do insmod ...; done`
#   VERSIONS               which packages these came from
# Re-running is a no-op when the cache is complete (the kernel versions stay pinned to what was
# fetched); `scripts/guests.sh --refresh` resolves the metapackages again and rebuilds everything.
#   scripts/guests.sh [--refresh] [--print-dir]
set -euo pipefail
CACHE=${VIREO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
refresh=0
for a in "$@"; do
    case "$a" in
    --refresh) refresh=1 ;;
    --print-dir) echo "$CACHE"; exit 0 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "guests.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done
# Bump when the initramfs contents change, so existing caches get rebuilt.
FORMAT=8
ARTIFACTS="vmlinuz-cloud vmlinuz-generic test-initrd.cpio.gz outer-initrd.cpio.gz busybox pciutils.tar virtio-modules.tar VERSIONS"

complete() {
    local f
    for f in $ARTIFACTS; do [ -s "$CACHE/$f" ] || return 1; done
    grep -qx "format=$FORMAT" "$CACHE/VERSIONS"
}

show() {
    echo "guest cache: $CACHE"
    local f
    for f in $ARTIFACTS; do
        printf '  %-22s %s\n' "$f" "$(du -h "$CACHE/$f" | cut -f1)"
    done
    sed 's/^/  /' "$CACHE/VERSIONS"
}

if [ $refresh = 0 ] && complete; then
    show
    exit 0
fi

for tool in apt-get apt-cache dpkg-deb cpio gzip modprobe; do
    command -v $tool >/dev/null 2>&1 || {
        echo "guests.sh: '$tool' missing (run scripts/setup as root first)" >&2
        exit 1
    }
done

# Stale or missing apt lists (no resolution, 404 on download): as root, update them once.
updated=0
update_lists() {
    [ $updated = 0 ] && [ "$(id -u)" = 0 ] || return 1
    updated=1
    echo "guests.sh: apt-get update" >&2
    apt-get update -q >&2
}
# The versioned package a metapackage (linux-image-amd64) depends on, as apt would install it.
resolve() {
    local dep
    dep=$(apt-cache depends "$1" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
    if [ -z "$dep" ] && update_lists; then
        dep=$(apt-cache depends "$1" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
    fi
    if [ -z "$dep" ]; then
        echo "guests.sh: cannot resolve $1 (run 'apt-get update' as root)" >&2
        exit 1
    fi
    echo "$dep"
}

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Keep the kernels already in the cache unless --refresh: tests stay reproducible.
pkg_cloud="" pkg_gen=""
if [ $refresh = 0 ] && [ -s "$CACHE/VERSIONS" ]; then
    pkg_cloud=$(sed -n 's/^cloud=//p' "$CACHE/VERSIONS")
    pkg_gen=$(sed -n 's/^generic=//p' "$CACHE/VERSIONS")
fi
[ -n "$pkg_cloud" ] || pkg_cloud=$(resolve linux-image-cloud-amd64)
[ -n "$pkg_gen" ] || pkg_gen=$(resolve linux-image-amd64)
pkgs="$pkg_cloud $pkg_gen busybox-static pciutils libpci3 libudev1 pci.ids"
echo "guests.sh: downloading $pkgs"
# apt-get download drops privileges to _apt: give it a directory it may write.
chmod 755 "$work"
download() { (cd "$work" && apt-get download -q $pkgs >/dev/null 2>"$work/apt.err"); }
download || { update_lists && download; } || {
    cat "$work/apt.err" >&2
    echo "guests.sh: apt-get download failed (network or apt lists; try 'apt-get update')" >&2
    exit 1
}
for p in $pkgs; do
    deb=$(ls "$work"/"$p"_*.deb)
    mkdir -p "$work/x/$p"
    dpkg-deb -x "$deb" "$work/x/$p"
    echo "$p=$(dpkg-deb -f "$deb" Version)" >>"$work/versions"
done
kcloud=$(ls "$work/x/$pkg_cloud"/boot/vmlinuz-*)
kgen=$(ls "$work/x/$pkg_gen"/boot/vmlinuz-*)
kver=${kgen##*/vmlinuz-}
bb=$work/x/busybox-static/bin/busybox
"$bb" true || { echo "guests.sh: the busybox binary does not run" >&2; exit 1; }

# A root tree with busybox and its applets as symlinks (no device nodes: /init mounts devtmpfs).
mkroot() { # dir
    mkdir -p "$1"/{bin,sbin,dev,proc,sys,tmp,root,etc,mnt}
    cp "$bb" "$1/bin/busybox"
    local a
    for a in $("$bb" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$1/bin/$a"
    done
}
mkcpio() { # dir output
    (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) |
        gzip -9n >"$2"
}

# --- pciutils.tar: lspci/setpci and what they load, for guests that list their PCI devices ---
p=$work/pci
mkdir -p "$p/bin" "$p/lib64" "$p/lib/x86_64-linux-gnu" "$p/usr/share/misc"
cp "$work/x/pciutils/usr/bin/lspci" "$work/x/pciutils/usr/bin/setpci" "$p/bin/"
cp "$work/x/pci.ids/usr/share/misc/pci.ids" "$p/usr/share/misc/"
pcilibs=$work/x/libpci3/usr/lib/x86_64-linux-gnu:$work/x/libudev1/usr/lib/x86_64-linux-gnu
for l in $(LD_LIBRARY_PATH=$pcilibs ldd "$p/bin/lspci" | awk '/=>/ {print $3}'); do
    cp -L "$l" "$p/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$p/lib64/"
(cd "$p" && tar -cf "$work/pciutils.tar" --owner=0 --group=0 .)

# --- virtio-modules.tar: the cloud kernel's virtio drivers in insmod order ---
kc=$work/x/$pkg_cloud
kcver=$(ls "$kc/lib/modules")
depmod -b "$kc" "$kcver"
v=$work/vmods
mkdir -p "$v/lib/modules"
: >"$work/vmodlist"
for top in virtio_pci virtio_blk virtio_scsi sd_mod sr_mod virtio_net virtio_balloon virtio_rng \
    virtio_console; do
    modprobe -d "$kc" -S "$kcver" --show-depends "$top" |
        awk '$1 == "insmod" {print $2}' >>"$work/vmodlist"
done
awk '!seen[$0]++' "$work/vmodlist" | while read -r ko; do
    case "$ko" in *.ko) ;; *) echo "guests.sh: unsupported module format $ko" >&2; exit 1 ;; esac
    cp "$ko" "$v/lib/modules/"
    echo "${ko##*/}" >>"$v/lib/modules/order"
done
(cd "$v" && tar -cf "$work/virtio-modules.tar" --owner=0 --group=0 .)

# --- inner guest: test-initrd.cpio.gz ---
r=$work/inner
mkroot "$r"
cat >"$r/init" <<'EOF'
#!/bin/sh
# Vireo test guest init. Kernel command line: console=ttyS0 [vireo.action=poweroff|reboot|shell]
# [vireo.hold=SECONDS: wait before the action (benches read the emulator meanwhile)]
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
exec </dev/console >/dev/console 2>&1
echo "VIREO-INIT-OK"
echo "cpus=$(grep -c ^processor /proc/cpuinfo)"
echo "memkb=$(sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo)"
echo "model=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)"
action=poweroff hold=0
for w in $(cat /proc/cmdline); do
    case "$w" in
    vireo.action=*) action=${w#vireo.action=} ;;
    vireo.hold=*) hold=${w#vireo.hold=} ;;
    esac
done
[ "$hold" = 0 ] || sleep "$hold"
case "$action" in
reboot) echo "vireo: reboot"; reboot -f ;;
shell)
    echo "vireo: shell (exit it to power off)"
    setsid cttyhack sh -l
    poweroff -f ;;
*) echo "vireo: poweroff"; poweroff -f ;;
esac
sleep 5
echo "vireo: $action did not happen"
EOF
chmod 755 "$r/init"
mkcpio "$r" "$work/test-initrd.cpio.gz"

# --- outer guest: outer-initrd.cpio.gz ---
# The modules and their dependencies, in load order, as modprobe resolves them from modules.dep.
moddir=$work/x/$pkg_gen/lib/modules/$kver
depmod -b "$work/x/$pkg_gen" "$kver"
r=$work/outer
mkroot "$r"
mkdir -p "$r/host" "$r/lib/modules"
: >"$work/modlist"
for top in virtio_pci 9pnet_virtio 9p kvm_amd kvm_intel; do
    modprobe -d "$work/x/$pkg_gen" -S "$kver" --show-depends "$top" |
        awk '$1 == "insmod" {print $2}' >>"$work/modlist"
done
# kvm_amd and kvm_intel share kvm's chain: keep the first mention of each module.
awk '!seen[$0]++' "$work/modlist" | while read -r ko; do
    case "$ko" in *.ko) ;; *) echo "guests.sh: unsupported module format $ko" >&2; exit 1 ;; esac
    cp "$ko" "$r/lib/modules/"
    echo "${ko##*/}" >>"$r/lib/modules/order"
done
echo "outer-guest modules (load order): $(tr '\n' ' ' <"$r/lib/modules/order")"
cat >"$r/init" <<'EOF'
#!/bin/sh
# Vireo nested-KVM outer guest init. Kernel command line: vireo.cmd=<base64 shell command>
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
done_() { echo "VIREO-NESTED-EXIT=$1"; sync; poweroff -f; sleep 10; }
cpu=none
grep -qw svm /proc/cpuinfo && cpu=kvm-amd.ko
grep -qw vmx /proc/cpuinfo && cpu=kvm-intel.ko
for m in $(cat /lib/modules/order); do
    case "$m" in kvm-amd.ko | kvm-intel.ko) [ "$m" = "$cpu" ] || continue ;; esac
    insmod "/lib/modules/$m" || echo "vireo-outer: insmod $m failed"
done
[ -c /dev/kvm ] && echo "vireo-outer: /dev/kvm ready (${cpu%.ko})" ||
    echo "vireo-outer: no /dev/kvm (cpu virtualization: ${cpu%.ko})"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 host /host ||
    { echo "vireo-outer: cannot mount the host share"; done_ 125; }
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /host/sys/kernel/debug 2>/dev/null
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm 2>/dev/null
mount -t devpts devpts /host/dev/pts
mount -t tmpfs tmpfs /host/dev/shm
# The host's /tmp, /run and /var/tmp become private tmpfs (writable scratch); a working directory
# below them (vireo.cwd=, e.g. a CI checkout in /tmp) is bound back from the read-only share.
mkdir -p /orig
mount -o bind /host /orig
for d in /tmp /run /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "/host$d"; done
cwd=""
for w in $(cat /proc/cmdline); do
    case "$w" in vireo.cwd=*) cwd=$(echo "${w#vireo.cwd=}" | base64 -d) ;; esac
done
case "$cwd" in
/tmp/* | /run/* | /var/tmp/*)
    mkdir -p "/host$cwd" && mount -o bind "/orig$cwd" "/host$cwd" ||
        echo "vireo-outer: cannot bind $cwd" ;;
esac
cmd=""
for w in $(cat /proc/cmdline); do
    case "$w" in vireo.cmd=*) cmd=$(echo "${w#vireo.cmd=}" | base64 -d) ;; esac
done
if [ -z "$cmd" ]; then
    echo "vireo-outer: no vireo.cmd= on the kernel command line"
    done_ 125
fi
echo "vireo-outer: running command"
chroot /host /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp TERM=dumb VIREO_NESTED=1 /bin/sh -c "$cmd" </dev/null
done_ $?
EOF
chmod 755 "$r/init"
mkcpio "$r" "$work/outer-initrd.cpio.gz"

# Install atomically-ish: artifacts first, VERSIONS (the completeness stamp) last.
rm -f "$CACHE/VERSIONS"
cp "$kcloud" "$CACHE/vmlinuz-cloud"
cp "$kgen" "$CACHE/vmlinuz-generic"
cp "$bb" "$CACHE/busybox"
mv "$work/test-initrd.cpio.gz" "$work/outer-initrd.cpio.gz" "$work/pciutils.tar" \
    "$work/virtio-modules.tar" "$CACHE/"
{
    echo "format=$FORMAT"
    echo "cloud=$pkg_cloud"
    echo "generic=$pkg_gen"
    cat "$work/versions"
    echo "outer-modules=$(tr '\n' ' ' <"$r/lib/modules/order" | sed 's/ $//')"
    echo "virtio-modules=$(tr '\n' ' ' <"$v/lib/modules/order" | sed 's/ $//')"
} >"$work/VERSIONS"
mv "$work/VERSIONS" "$CACHE/VERSIONS"
show
