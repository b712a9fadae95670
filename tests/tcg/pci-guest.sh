#!/bin/bash
# The PCI view of a Debian guest beside QEMU 7.2's, and edu driven from inside it, under TCG
# (tests/kvm/pci-guest.sh runs the same script under KVM). One busybox initramfs with Debian's
# lspci/setpci (the cache's pciutils.tar, scripts/guests.sh) boots the cloud kernel under QEMU
# 7.2 and under Vireo with the same command line (-nodefaults: QEMU's pc would add a VGA, which
# Vireo does not add by default, and its default e1000; -device VGA adds the VGA); the script records, on
# both, and compares:
#   lspci -nn -vv                     every line (the VGA function included)
#   /proc/iomem, /proc/ioports        the lines of PCI functions (0000:00:...) and ACPI's (but
#                                     GPE0_BLK: Vireo's FADT has no GPE block until PCI hotplug)
#   edu from /dev/mem and setpci      BAR moves, overlapping BARs (the last mapped answers),
#                                     the INTx status bit, DMA RAM -> edu -> RAM, DMA from and to
#                                     addresses that are not RAM (the guest goes on, its RAM is
#                                     untouched), a DMA range outside edu's buffer (QEMU 7.2 stops
#                                     the process there: Vireo refuses it; checked on Vireo only)
#   input devices                     the kernel's (atkbd finds the i8042's PS/2 keyboard)
#   the VGA text console              the guest writes coloured text on it; QMP screendump on
#                                     both, pixel-equal (720x400) and not blank
#   virtio-blk-pci (with the cache's virtio-modules.tar, skipped without it): two disks, the
#   implied device of -drive if=virtio (qcow2, -global serial=) and -device virtio-blk-pci on a raw
#   drive (discard=unmap, num-queues=2, 4 KiB logical and physical blocks). The guest's
#   /sys/block/vd*/ (size, serial, queue limits, queues) and what it reads, writes (dd, flushed),
#   discards (blkdiscard) and zeroes (BLKZEROOUT: tests/tcg/zeroout.c) are compared with QEMU's;
#   on the host QEMU's qemu-img finds the qcow2 clean, reads the guest's data back from Vireo's
#   images, and finds them equal to QEMU's (raw: the same holes too).
#   virtio-rng-pci and virtio-balloon-pci (with the cache's virtio-modules.tar): an rng-random
#   backend with a rate limit (256 bytes per 250 ms: reading 768 bytes from /dev/hwrng takes half
#   a second or more), the balloon inflated to 480 MiB and let out to 496 MiB over QMP while the
#   guest waits (BALLOON_CHANGE and query-balloon as QEMU's; the guest's MemTotal 16 MiB less).
#   virtio-net-pci on -netdev user (with virtio-modules.tar; the whole script runs in a user and
#   network namespace of its own, `unshare -rnm`, so no packet leaves the machine): the guest's
#   MAC, negotiated features and carrier, a DHCP lease from slirp (address, router, DNS,
#   hostname=), a name resolved through slirp's DNS forwarder (answered by tests/lib/dns-stub.py
#   on the namespace's loopback, /etc/resolv.conf bind-mounted to it), a page fetched from an
#   HTTP server on the host's loopback through 10.0.2.2, and hostfwd= letting the host fetch a
#   page from busybox httpd in the guest; then QMP query-rx-filter and set_link (link down: the
#   guest's carrier drops); compared with QEMU's, and checked on Vireo's own.
#   virtio-scsi-pci (with the same modules): a scsi-hd on a raw drive (discard=unmap,
#   serial=, wwn=) and a scsi-cd. The guest's SCSI view (H:C:T:L, sysfs vendor/model/rev/type/
#   scsi_level, the INQUIRY data and VPD pages 0x00/0x80/0x83/0xb0/0xb1/0xb2 as Linux keeps them,
#   queue limits, the scsi_disk attributes from READ CAPACITY and MODE SENSE) and what it reads,
#   writes, discards (UNMAP), zeroes (WRITE SAME) and reads from the CD are compared with QEMU's;
#   the disk image afterwards equals QEMU's (data and holes) and holds what the guest wrote.
#   the balloon's guest statistics (with the disks; tests/tcg/pci-guest-late.py): qom-set of
#   guest-stats-polling-interval, qom-get of guest-stats: the statistics reported as QEMU's
#   guest's, the total memory equal to the guest's MemTotal.
#   disk hotplug (with the disks; tests/tcg/pci-guest-late.py, at the end of the boot): blockdev-add
#   of a qcow2 node and device_add of a virtio-blk-pci on it; the guest (acpiphp) sees the disk,
#   reads it and writes to it (flushed); device_del: the guest ejects it, both DEVICE_DELETED
#   events come, blockdev-del succeeds, the function is gone from the guest; the replies and the
#   guest's view equal QEMU's, the image holds what the guest wrote and QEMU's qemu-img check
#   finds it clean. Then, in the normal build's Vireo run only, a SIGKILL: the disk comes back,
#   the guest flushes a write and goes on writing (a flush after every second MiB) until the host
#   kills the emulator; QEMU's qemu-img check finds no corruption (leaks allowed) and the flushed
#   data is in the image (and the other disks' checks hold: the guest flushed them first).
# The sanitizer build's run (VIREO_ASAN=1) boots Vireo alone: its own checks and the sanitizer's
# reports; the comparisons with QEMU are the normal build's.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/guest-initrd.sh"
# the network checks run in a user, network and mount namespace of the script's own
if [ -z "${PCI_GUEST_NETNS:-}" ] && [ "${PCI_GUEST_ACCEL:-tcg}" = tcg ]; then
    if unshare -rnm true 2>/dev/null; then
        PCI_GUEST_NETNS=1 exec unshare -rnm bash "$0" "$@"
    fi
    PCI_GUEST_NETNS=none
fi
QEMU=${QEMU:-qemu-system-x86_64}
QIMG=${QEMU_IMG:-/usr/bin/qemu-img}
ACCEL=${PCI_GUEST_ACCEL:-tcg}
name=pci-guest-$ACCEL
kernel=$VIREO_CACHE/vmlinuz-cloud
pciutils=${VIREO_PCIUTILS:-$VIREO_CACHE/pciutils.tar}
vmods=${VIREO_VIRTIO_MODULES:-$VIREO_CACHE/virtio-modules.tar}
for f in "$kernel" "$VIREO_CACHE/busybox" "$pciutils"; do
    if ! [ -r "$f" ]; then
        skip "$name" "no $f (scripts/guests.sh builds it)"
        finish
        exit
    fi
done
if ! command -v "$QEMU" >/dev/null 2>&1; then
    skip "$name" "$QEMU not installed"
    finish
    exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Where the time goes: "# pci-guest-ACCEL: WHAT at Ns" lines (in the nested guest on its console
# too, since the runner relays a test's output only when it has ended)
stage() {
    echo "# $name: $* at ${SECONDS}s"
    [ "${VIREO_NESTED:-}" = 1 ] && echo "  ... $name: $* at ${SECONDS}s" >/dev/console 2>/dev/null
    return 0
}
bb_root "$work/root"
tar -xf "$pciutils" -C "$work/root"
mkdir -p "$work/root/sys"
# virtio-blk: the drivers, a zeroout helper, 256 KiB of random data the guest writes and reads
virtio=0
vdev=0
if [ -r "$vmods" ]; then
    # the drivers (the order file lists the transport and virtio_blk first), rng and balloon
    tar -xf "$vmods" -C "$work/root" ./lib/modules/order
    for m in $(sed '/^virtio_blk.ko$/q' "$work/root/lib/modules/order") virtio-rng.ko virtio_balloon.ko; do
        tar -xf "$vmods" -C "$work/root" "./lib/modules/$m"
    done
    vdev=1
else
    skip "$name/virtio-rng-balloon" "no $vmods (scripts/guests.sh builds it)"
fi
# the guest's helpers: built static by make into $VIREO_BUILD/guest/ (the nested test guest has
# no compiler), else built here
guest_bin() { # NAME
    cp "$VIREO_BUILD/guest/$1" "$work/root/bin/$1" 2>/dev/null ||
        gcc -static -O2 -o "$work/root/bin/$1" "$(dirname "$0")/$1.c" 2>>"$work/cc"
}
if [ -r "$vmods" ] && [ -x "$QIMG" ]; then
    if guest_bin zeroout && guest_bin sgio; then
        # virtio-scsi's drivers: the order file's entries after virtio_blk, up to sr_mod
        for m in $(sed -n '/^virtio_blk.ko$/,/^sr_mod.ko$/p' "$work/root/lib/modules/order" |
            tail -n +2); do
            tar -xf "$vmods" -C "$work/root" "./lib/modules/$m"
        done
        head -c 262144 /dev/urandom >"$work/root/pattern"
        head -c 3145728 /dev/urandom >"$work/cd.iso"
        head -c 1048576 /dev/urandom >"$work/cd2.iso"
        virtio=1
    else
        skip "$name/virtio-blk" "cannot build a static binary: $(head -c 200 "$work/cc")"
    fi
else
    skip "$name/virtio-blk" "no $vmods (scripts/guests.sh builds it) or no $QIMG"
fi
# virtio-net: its drivers, a DHCP script, a page for the guest's httpd; on the host (in the
# namespace) an HTTP server and the DNS stub on loopback
net=0
hostfwd=
if [ "$ACCEL" != tcg ]; then
    # not yet tried inside the nested guest (its boot time limit is tight): TCG only for now
    skip "$name/net" "virtio-net is checked under TCG only for now (docs/net.md)"
elif [ "$PCI_GUEST_NETNS" = none ]; then
    skip "$name/net" "cannot make a user and network namespace (unshare -rnm)"
elif [ -r "$vmods" ] && tar -tf "$vmods" ./lib/modules/virtio_net.ko >/dev/null 2>&1; then
    tar -xf "$vmods" -C "$work/root" ./lib/modules/order
    for m in virtio_ring.ko virtio.ko virtio_pci_modern_dev.ko virtio_pci_legacy_dev.ko \
        virtio_pci.ko failover.ko net_failover.ko virtio_net.ko; do
        tar -xf "$vmods" -C "$work/root" "./lib/modules/$m"
    done
    mkdir -p "$work/root/www" "$work/root/etc" "$work/www"
    echo "page from the guest" >"$work/root/www/index.html"
    echo "page from the host" >"$work/www/hello.txt"
    cat >"$work/root/bin/dhcp.sh" <<'DHCP'
#!/bin/sh
[ "$1" = bound ] || exit 0
ip addr add "$ip/$mask" dev "$interface"
ip route add default via "$router"
for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
echo "lease $ip/$mask router $router dns $dns hostname $hostname"
DHCP
    chmod +x "$work/root/bin/dhcp.sh"
    ip link set lo up
    echo "nameserver 127.0.0.1" >"$work/resolv.conf"
    mount --bind "$work/resolv.conf" /etc/resolv.conf || skip "$name/net-dns" "cannot bind-mount /etc/resolv.conf"
    python3 "$(dirname "$0")/../lib/dns-stub.py" vireo.test 10.0.2.77 >"$work/dns.out" 2>"$work/dns.log" &
    dns_pid=$!
    (cd "$work/www" && exec python3 -c 'import http.server as h
s = h.ThreadingHTTPServer(("127.0.0.1", 0), h.SimpleHTTPRequestHandler)
print("port %d" % s.server_address[1], flush=True)
s.serve_forever()') >"$work/http.out" 2>&1 &
    http_pid=$!
    trap 'kill $dns_pid $http_pid 2>/dev/null; rm -rf "$work"' EXIT
    n=0
    while ! grep -q 'port' "$work/http.out" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    hport=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$work/http.out" | head -1)
    hostfwd=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if [ -n "$hport" ] && grep -q ready "$work/dns.out"; then
        net=1
    else
        skip "$name/net" "the namespace's HTTP server or DNS stub did not start"
    fi
else
    skip "$name/net" "no virtio_net.ko in $vmods (scripts/guests.sh builds it)"
fi
bb_init "$work/root" <<'INIT'
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec 2>/dev/null
# kernel messages (edu's INTx on a line a virtio driver shares makes "irq 10: nobody cared")
# stay off the console the checks read
dmesg -n 1
# virtio: virtio_pci and virtio_blk with what they need (the order file's first entries)
if [ -f /lib/modules/order ]; then
    # every driver the host put in (the order file's order)
    for m in $(cat /lib/modules/order); do
        [ -f "/lib/modules/$m" ] && insmod "/lib/modules/$m"
    done
    if [ -f /pattern ]; then
        # the disks: virtio-blk's and virtio-scsi's
        n=0
        while { [ ! -b /dev/vdb ] || [ ! -b /dev/sda ] || [ ! -b /dev/sr0 ]; } && [ $n -lt 200 ]; do
            usleep 50000; n=$((n + 1))
        done
    fi
    n=0; while [ -f /lib/modules/virtio_net.ko ] && [ ! -d /sys/class/net/eth0 ] && [ $n -lt 100 ]; do usleep 50000; n=$((n + 1)); done
fi
rd() { devmem "$1" 32; }
wr() { devmem "$1" 32 "$2"; }
echo ===BEGIN===
echo @lspci
lspci -nn -vv
echo @iomem
grep -E '0000:00:|ACPI' /proc/iomem
echo @ioports
grep -E '0000:00:|ACPI' /proc/ioports | grep -v GPE0_BLK
# --- usb (piix3-usb-uhci at 01.2 with a usb-tablet; the cloud kernel has no USB drivers):
# the controller's registers as the guest reads them through /dev/port (byte reads: the
# 16-bit registers narrowed as QEMU narrows them), a port enabled and its change bit cleared
echo @usb
ub=$(lspci -s 01.2 -v | sed -n 's/.*I\/O ports at \([0-9a-f]*\).*/\1/p')
if [ -n "$ub" ]; then
    ub=$((0x$ub))
    inb() { dd if=/dev/port bs=1 skip=$((ub + $1)) count=1 2>/dev/null | od -An -tx1 | tr -d ' '; }
    outb() { printf "\\$(printf %o $2)" | dd of=/dev/port bs=1 seek=$((ub + $1)) count=1 2>/dev/null; }
    for r in 0 1 2 3 4 6 8 9 10 11 12 13 16 17 18 19 20; do echo "usb-reg $r $(inb $r)"; done
    outb 16 4
    echo "usb-port1-enabled $(inb 16)"
    outb 16 6
    echo "usb-port1-change-cleared $(inb 16)"
    outb 12 32
    echo "usb-sof $(inb 12)"
fi
echo @input
# the i8042's PS/2 keyboard (and mouse, where the kernel has a driver) as the kernel found them
grep '^N:' /proc/bus/input/devices
if [ -f /lib/modules/order ]; then
    echo @vrng
    n=0; while [ ! -c /dev/hwrng ] && [ $n -lt 100 ]; do usleep 50000; n=$((n + 1)); done
    echo "available $(cat /sys/class/misc/hw_random/rng_available)"
    echo "current $(cat /sys/class/misc/hw_random/rng_current)"
    t0=$(cut -d' ' -f1 /proc/uptime)
    got=$(head -c 768 /dev/hwrng | od -An -v -tx1 | tr -s ' \n' '\n\n' | grep -c .)
    t1=$(cut -d' ' -f1 /proc/uptime)
    echo "read $got"
    # 768 bytes at 256 per 250 ms: three windows, so at least half a second
    echo "rate-limited $(awk "BEGIN { print ($t1 - $t0 >= 0.45) ? \"yes\" : \"no $t0 $t1\" }")"
    echo @vballoon
    echo "driver $(ls /sys/bus/virtio/drivers/virtio_balloon | grep -c virtio)"
    echo "memtotal-before $(grep MemTotal /proc/meminfo | tr -s ' ')"
fi
if [ -f /lib/modules/virtio_net.ko ]; then
    echo @net
    ip link set lo up
    ip link set eth0 up
    echo "eth0 mac=$(cat /sys/class/net/eth0/address) carrier=$(cat /sys/class/net/eth0/carrier)" \
        "features=$(cat /sys/class/net/eth0/device/features)"
    udhcpc -i eth0 -n -q -t 5 -T 1 -s /bin/dhcp.sh 2>&1 | grep '^lease'
    echo "resolved $(nslookup vireo.test 2>/dev/null | sed -n '/^Name:/,$s/^Address: *//p' | head -1)"
    hport=$(sed 's/.*hport=\([0-9]*\).*/\1/' /proc/cmdline)
    echo "fetched $(wget -q -O - "http://10.0.2.2:$hport/hello.txt")"
    httpd -p 80 -h /www
fi
if [ -f /pattern ]; then
    echo @vdisk
    for d in vda vdb; do
        q=/sys/block/$d/queue
        echo "$d size=$(cat /sys/block/$d/size) serial=$(cat /sys/block/$d/serial)" \
            "ro=$(cat /sys/block/$d/ro) queues=$(ls /sys/block/$d/mq | wc -l)"
        for f in logical_block_size physical_block_size minimum_io_size optimal_io_size \
            discard_granularity discard_max_hw_bytes write_zeroes_max_bytes max_hw_sectors_kb \
            max_segments max_segment_size write_cache rotational nr_requests; do
            echo "  $f=$(cat $q/$f)"
        done
    done
    # the I/O (QEMU's run under KVM, vireo.light: compared by the TCG run, left out here)
    if ! grep -q vireo.light /proc/cmdline; then
    echo @vio
    h16() { sha256sum | cut -c1-16; }
    want=$(h16 </pattern)
    # vdb (if=virtio, qcow2; probed after the -device disk): the host put the pattern at 1 MiB;
    # the guest writes it at 2 MiB and zeroes 64 KiB in it at 2 MiB + 128 KiB
    echo "vdb-read $([ "$(dd if=/dev/vdb bs=64k skip=16 count=4 | h16)" = "$want" ] && echo ok)"
    dd if=/pattern of=/dev/vdb bs=64k seek=32 conv=fsync && echo "vdb-write done"
    zeroout /dev/vdb $((0x220000)) 65536 && echo "vdb-zeroout done"
    echo 3 >/proc/sys/vm/drop_caches
    echo "vdb-back $(dd if=/dev/vdb bs=64k skip=32 count=4 iflag=direct | h16)"
    # vda (raw, 4 KiB blocks, discard=unmap): the pattern at 0; discard 64 KiB at 64 KiB, zero
    # 64 KiB at 128 KiB, write the pattern at 1 MiB
    echo "vda-read $([ "$(dd if=/dev/vda bs=64k count=4 iflag=direct | h16)" = "$want" ] && echo ok)"
    dd if=/pattern of=/dev/vda bs=4k seek=256 count=64 oflag=direct && echo "vda-write done"
    blkdiscard -o 65536 -l 65536 /dev/vda && echo "vda-discard done"
    zeroout /dev/vda 131072 65536 && echo "vda-zeroout done"
    sync
    echo "vda-back $(dd if=/dev/vda bs=64k count=32 iflag=direct | h16)"
    fi
    echo @scsi
    ls /sys/bus/scsi/devices
    for d in sda sr0; do
        s=/sys/block/$d
        echo "$d size=$(cat $s/size) ro=$(cat $s/ro) removable=$(cat $s/removable)"
        for f in vendor model rev type scsi_level queue_depth queue_type timeout wwid; do
            echo "  $f=$(cat $s/device/$f)"
        done
        echo "  inquiry $(od -An -tx1 $s/device/inquiry | tr -d '\n')"
        for p in 0 80 83 89 b0 b1 b2; do
            [ -f $s/device/vpd_pg$p ] && echo "  vpd_pg$p $(od -An -tx1 -v $s/device/vpd_pg$p | tr -d '\n')"
        done
        for f in logical_block_size physical_block_size minimum_io_size optimal_io_size \
            discard_granularity discard_max_hw_bytes write_zeroes_max_bytes max_hw_sectors_kb \
            max_segments max_segment_size write_cache rotational nr_requests; do
            echo "  $f=$(cat $s/queue/$f)"
        done
    done
    for f in /sys/class/scsi_disk/*/*; do [ -f $f ] && echo "${f#/sys/class/scsi_disk/} $(cat $f)"; done
    # (QEMU's run under KVM, vireo.light: compared by the TCG run, left out here)
    if ! grep -q vireo.light /proc/cmdline; then
    echo @sio
    # sda (raw, discard=unmap): the host put the pattern at 0; the guest reads it, writes it at
    # 2 MiB, discards 64 KiB at 64 KiB (UNMAP) and zeroes 64 KiB at 128 KiB (WRITE SAME)
    echo "sda-read $([ "$(dd if=/dev/sda bs=64k count=4 iflag=direct | h16)" = "$want" ] && echo ok)"
    dd if=/pattern of=/dev/sda bs=64k seek=32 conv=fsync && echo "sda-write done"
    blkdiscard -o 65536 -l 65536 /dev/sda && echo "sda-discard done"
    zeroout /dev/sda 131072 65536 && echo "sda-zeroout done"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    echo "sda-back $(dd if=/dev/sda bs=64k count=36 iflag=direct | h16)"
    echo "sr0-read $(dd if=/dev/sr0 bs=2048 count=1536 | h16)"
    echo "sr0-past-end $(dd if=/dev/sr0 bs=2048 skip=1535 count=10 | wc -c)"
    echo @sgio
    # the commands' answers byte for byte (tests/tcg/sgio.c): status, sense, data-in
    sgio /dev/sda in:96:120000006000 in:36:120000002400 in:255:12010000ff00 \
        in:255:12018000ff00 in:255:12018300ff00 in:255:1201b000ff00 in:255:1201b100ff00 \
        in:255:1201b200ff00 in:255:12018900ff00 in:36:120080002400 \
        in:8:25000000000000000000 in:32:9e100000000000000000000000200000 \
        in:8:25000000000100000000 in:32:9e110000000000000000000000200000 \
        in:255:1a003f00ff00 in:255:1a083f00ff00 in:255:1a007f00ff00 in:255:1a00ff00ff00 \
        in:255:1a000800ff00 in:255:1a002a00ff00 in:512:5a003f00000000020000 \
        in:512:5a083f00000000020000 \
        out:000000000812040000000000000000000000000000000000:151000001800 \
        out:000000000812050000000000000000000000000000000000:151000001800 \
        out:000000000812040000000000000000000000000000000000:150000001800 \
        in:64:a00000000000000000400000 in:8:a00000000000000000080000 none:000000000000 \
        in:18:030000001200 in:8:030100000800 none:ff0000000000 none:020000000000 \
        in:512:28000000800000000100 in:512:28000000000000000000 in:512:88200000000000000000000000010000 \
        none:93040000000000000000000000010000 none:35000000000000000000 \
        none:2f000000000000000100 in:512:2f020000000000000100 none:1b0000000100 \
        none:2b000000ffff00000000 in:64:46000000000000004000 in:8:4a010000100000000800 \
        none:42000000000000000000 \
        out:001600100000000000000000000000800000001000000000:42000000000000001800 \
        out:001600100000000000000000100000000000001000000000:42000000000000001800
    sgio /dev/sr0 in:96:120000006000 in:255:12010000ff00 in:255:12018000ff00 \
        in:255:12018300ff00 in:255:1201b000ff00 in:8:25000000000000000000 \
        in:512:5a003f00000000020000 in:512:5a002a00000000020000 in:255:1a003f00ff00 \
        in:804:43000000000000032400 in:804:43020000000000032400 in:12:43000100000000000c00 \
        in:804:43000200000001032400 in:804:43000300000000032400 in:804:43000000000002032400 \
        in:64:46000000000000004000 in:8:4a010000100000000800 in:8:4a000000100000000800 \
        in:8:bd0000000000000000080000 in:34:51000000000000002200 \
        in:2052:ad0000000000000008040000 in:64:ad000000000000ff00400000 in:32:9e100000000000000000000000200000 \
        none:2a000000000000000000 in:2048:a80000000600000000010000 none:1e0000000100 \
        none:1b0000000200 none:1e0000000000 none:1b0000000200 none:000000000000 \
        in:8:4a010000100000000800 none:1b0000000300 none:000000000000 in:8:4a010000100000000800 \
        in:8:25000000000000000000
    fi
fi
echo @edu
# 00:02.0 and 00:05.0 are edu (dma_mask=-1: no clamping); their BARs as the firmware left them
a=$((0x$(setpci -s 02.0 BASE_ADDRESS_0) & ~0xf)); b=$((0x$(setpci -s 05.0 BASE_ADDRESS_0) & ~0xf))
printf 'ids %s %s\n' "$(rd $a)" "$(rd $b)"
wr $((a + 4)) 0x1111; wr $((b + 4)) 0x2222
# move edu 2 onto 0xf0000000, then edu 5 on top of it: the last one mapped answers
setpci -s 02.0 BASE_ADDRESS_0=f0000000
echo "moved $(rd 0xf0000004) old $(rd $((a + 4)))"
setpci -s 05.0 BASE_ADDRESS_0=f0000000
echo "overlap $(rd 0xf0000004)"
setpci -s 05.0 BASE_ADDRESS_0=$(printf %x $b)
echo "uncovered $(rd 0xf0000004)"
# memory decode off: nothing answers there
setpci -s 02.0 COMMAND=0
echo "decode-off $(rd 0xf0000000)"
setpci -s 02.0 COMMAND=0006
# INTx: raise, the status bit shows it; acknowledge
wr 0xf0000060 0x40
echo "intx-raised $(lspci -s 02.0 -vv | grep -o 'INTx[+-]') $(rd 0xf0000024)"
wr 0xf0000064 0x40
echo "intx-acked $(lspci -s 02.0 -vv | grep -o 'INTx[+-]')"
# DMA RAM -> edu buffer -> RAM (low RAM: /dev/mem reaches the first MiB)
wr 0x8000 0xcafef00d; wr 0x8004 0x12345678; wr 0x8800 0; wr 0x8804 0
dma() { # src dst count cmd
    wr 0xf0000080 $1; wr 0xf0000084 0; wr 0xf0000088 $2; wr 0xf000008c 0
    wr 0xf0000090 $3; wr 0xf0000098 $4
    n=0; while [ $(($(rd 0xf0000098) & 1)) = 1 ] && [ $n -lt 50 ]; do usleep 20000; n=$((n + 1)); done
}
dma 0x8000 0x40000 8 1
dma 0x40000 0x8800 8 3
echo "dma-roundtrip $(rd 0x8800) $(rd 0x8804)"
# DMA from an address that is no RAM (above RAM, below the PCI hole) and into one
dma 0x30000000 0x40000 8 1
dma 0x40000 0x30000000 8 3
echo "dma-nowhere $(rd 0x8800) $(rd 0x8804) $(rd 0xf0000000)"
# DMA with bus mastering off: RAM stays as it was
setpci -s 02.0 COMMAND=0002
wr 0x8800 0x0
dma 0x40000 0x8800 8 3
echo "dma-no-master $(rd 0x8800)"
setpci -s 02.0 COMMAND=0006
echo ===END===
# the VGA's text console: the screen the kernel's vgacon shows, cleared, cursor hidden, some
# text; the host takes a screendump of it on both (pixel-equal) and then lets the guest go on
printf '\033[H\033[2J\033[?25lVireo VGA text console 0123456789 ~!@#$%%^&*()_+{}|:<>?\n' >/dev/tty0
printf '\033[1;33;44m yellow on blue \033[0;32m green \033[7m reverse \033[0m\n' >/dev/tty0
echo ===SCREEN===
read -r go
# the host took the link down meanwhile (set_link): the driver saw the config change
if [ -d /sys/class/net/eth0 ]; then
    n=0; while [ "$(cat /sys/class/net/eth0/carrier)" = 1 ] && [ $n -lt 40 ]; do usleep 50000; n=$((n + 1)); done
    echo "carrier-after-set-link $(cat /sys/class/net/eth0/carrier)"
fi
# the host inflated the balloon to 480 MiB and let it out to 496 MiB meanwhile
grep MemTotal /proc/meminfo | tr -s ' ' | sed 's/^/balloon-memtotal-after /'
# the host changed the CD's medium meanwhile (virtio-scsi): opening sr0 the kernel takes the unit
# attentions (medium not present, not ready to ready) and the media event and reads the new
# capacity; then what the device says and the new medium's data
if [ -b /dev/sr0 ]; then
    sgio /dev/sr0 none:000000000000 none:000000000000 in:8:4a010000100000000800 \
        none:000000000000 in:8:4a010000100000000800 in:8:25000000000000000000 | sed 's/^/@mc /'
    echo "@mc sr0-size $(cat /sys/block/sr0/size)"
    echo "@mc sr0-new $(dd if=/dev/sr0 bs=2048 count=512 iflag=direct | sha256sum | cut -c1-16)"
fi
# a range outside edu's 4 KiB buffer: QEMU 7.2 aborts there, Vireo refuses and goes on (only
# asked of Vireo: edu.outside on its command line)
if grep -q edu.outside /proc/cmdline; then
    dma 0x8000 0x41000 8 1
    echo "dma-outside-buffer $(rd 0xf0000000) $(rd 0xf0000098)"
fi
# ---- disk hotplug, then SIGKILL after flushed writes (the host: tests/tcg/pci-guest-late.py) ----
if [ -f /pattern ] && ! grep -q vireo.light /proc/cmdline; then
    hsum() { sha256sum | cut -c1-16; }
    want=$(hsum </pattern)
    # the host adds a virtio-blk-pci on a qcow2 node (the pattern at 0): acpiphp finds it
    n=0; while [ ! -b /dev/vdc ] && [ $n -lt 600 ]; do usleep 100000; n=$((n + 1)); done
    fn=$(dirname "$(readlink -f /sys/block/vdc/device)")
    echo "@hp vdc size=$(cat /sys/block/vdc/size) serial=$(cat /sys/block/vdc/serial)" \
        "functions=$(lspci -n | grep -c ' 1af4:1001')"
    echo "@hp $(lspci -nn | grep ' \[1af4:1001\]' | tail -1)"
    echo "@hp vdc-read $([ "$(dd if=/dev/vdc bs=64k count=4 iflag=direct | hsum)" = "$want" ] && echo ok)"
    dd if=/pattern of=/dev/vdc bs=64k seek=16 conv=fsync && echo "@hp vdc-write done"
    echo "@hp vdc-back $([ "$(dd if=/dev/vdc bs=64k skip=16 count=4 iflag=direct | hsum)" = "$want" ] && echo ok)"
    echo "@hp written"
    # the host unplugs it (device_del): the guest ejects the slot and lets the disk go
    n=0; while { [ -b /dev/vdc ] || [ -e "$fn" ]; } && [ $n -lt 600 ]; do usleep 100000; n=$((n + 1)); done
    echo "@hp gone=$([ -b /dev/vdc ] || [ -e "$fn" ] && echo no || echo yes) functions=$(lspci -n | grep -c ' 1af4:1001')"
    # Vireo's normal run: the disk comes back; a flushed write, then unflushed ones until the
    # host kills the emulator
    if grep -q vireo.kill /proc/cmdline; then
        # the other disks' writes (vdb's BLKZEROOUT is not flushed yet) must outlive the kill
        sync /dev/vda /dev/vdb /dev/sda
        n=0; while [ ! -b /dev/vdc ] && [ $n -lt 600 ]; do usleep 100000; n=$((n + 1)); done
        if dd if=/pattern of=/dev/vdc bs=64k seek=48 conv=fsync; then
            echo "@kill flushed"
            # 1 MiB at a time into new clusters, a flush after every second one: the kill comes
            # at any point of that, a flush's metadata writes included
            i=0
            while :; do
                dd if=/dev/urandom of=/dev/vdc bs=64k seek=$((64 + i % 12 * 16)) count=16 oflag=direct
                [ $((i % 2)) = 1 ] && sync /dev/vdc
                i=$((i + 1))
            done
        fi
    fi
fi
poweroff -f
INIT
pack_initrd "$work/root" "$work/initrd" 1
stage "initrd packed"

args=(-m 512 -smp 1 -nodefaults -display none -serial stdio -no-reboot
    -kernel "$kernel" -initrd "$work/initrd"
    -device edu,dma_mask=0xffffffffffffffff -device edu,addr=5,dma_mask=0xffffffffffffffff
    -device VGA -usb -device usb-tablet)
# the balloon (no MSI-X, as QEMU's: INTx) at 04.0, off edu 02.0's interrupt line: edu's INTx
# check would otherwise storm a line a driver listens on
[ $vdev = 1 ] && args+=(-device virtio-balloon-pci -object rng-random,id=rng0,filename=/dev/urandom
    -device virtio-rng-pci,rng=rng0,max-bytes=256,period=250)
# the disks, one set per emulator (same contents)
disks() { # q|v
    [ $virtio = 1 ] || return 0
    local a=$work/$1-a.qcow2 b=$work/$1-b.raw c=$work/$1-c.raw
    if ! [ -f "$work/a.raw" ]; then
        "$QIMG" create -q -f raw "$work/a.raw" 64M &&
            dd if="$work/root/pattern" of="$work/a.raw" bs=1M seek=1 conv=notrunc 2>/dev/null &&
            "$QIMG" create -q -f raw "$work/b.raw" 16M &&
            dd if="$work/root/pattern" of="$work/b.raw" bs=1M conv=notrunc 2>/dev/null || return 1
    fi
    "$QIMG" convert -O qcow2 "$work/a.raw" "$a" && cp --sparse=always "$work/b.raw" "$b" &&
        cp --sparse=always "$work/b.raw" "$c" &&
        "$QIMG" convert -O qcow2 "$work/b.raw" "$work/$1-hp.qcow2" &&
        disk_args=(-drive "file=$b,format=raw,if=none,id=vdb,discard=unmap"
            -device virtio-blk-pci,drive=vdb,num-queues=2,logical_block_size=4096,physical_block_size=4096,serial=VIREO-B
            -drive "file=$a,if=virtio" -global virtio-blk-pci.serial=VIREO-A
            -device virtio-scsi-pci,id=scsi0
            -drive "file=$c,format=raw,if=none,id=sd0,discard=unmap"
            -device scsi-hd,drive=sd0,bus=scsi0.0,serial=VIREO-S,wwn=0x5000c50015ea71ac
            -drive "file=$work/cd.iso,format=raw,if=none,id=cd0,media=cdrom,readonly=on"
            -device scsi-cd,drive=cd0,scsi-id=2,id=scd)
}
# Start BIN with the arguments and the disks, stdin from a pipe; once the guest shows its
# screen, take a screendump through QMP into PREFIX.ppm and let the guest finish.
run_vm() { # BIN PREFIX APPEND
    local bin=$1 pre=$2 append=$3 pid
    mkfifo "$pre.in"
    timeout 300 "$bin" -accel "$ACCEL" "${args[@]}" "${disk_args[@]}" "${net_args[@]}" -append "$append$net_append" \
        -qmp "unix:$pre.qmp,server=on,wait=off" <"$pre.in" >"$pre.out" 2>"$pre.err" &
    pid=$!
    exec 3>"$pre.in"
    # wait for the marker or the emulator's end (a poll: the nested test guest has no /dev/fd,
    # so no process substitution)
    while kill -0 "$pid" 2>/dev/null && ! grep -q '===SCREEN===' "$pre.out"; do
        sleep 0.2
    done
    # hostfwd: the host fetches the guest's page while the guest waits
    if [ $net = 1 ]; then
        python3 -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/index.html" % sys.argv[1], timeout=20).read().decode().strip())' \
            "$hostfwd" >"$pre.fwd" 2>&1
    fi
    stage "$(basename "$pre") shows its screen"
    python3 - "$pre.qmp" "$pre.ppm" "$vdev" "$pre.balloon" "$([ $virtio = 1 ] && echo "$work/cd2.iso")" "$net" "$pre.netqmp" >"$pre.qmp.log" 2>&1 <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
events = []
def cmd(c):
    f.write(json.dumps(c) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "event" not in r:
            return r
        events.append(r)
def balloon(mib):
    # set the target, wait for the BALLOON_CHANGE that reaches it (throttled: one a second)
    out.append("balloon %d: %s" % (mib, json.dumps(cmd({"execute": "balloon", "arguments": {"value": mib << 20}}))))
    end = time.time() + 60
    while time.time() < end:
        if any(e["event"] == "BALLOON_CHANGE" and e["data"]["actual"] == mib << 20 for e in events):
            break
        s.settimeout(max(0.1, end - time.time()))
        try:
            events.append(json.loads(f.readline()))
        except socket.timeout:
            break
    s.settimeout(60)
    last = [e["data"] for e in events if e["event"] == "BALLOON_CHANGE"][-1:]
    out.append("balloon-change-last %s" % json.dumps(last))
    out.append("query-balloon %s" % json.dumps(cmd({"execute": "query-balloon"})))
    del events[:]
out = []
print(cmd({"execute": "qmp_capabilities"}))
if sys.argv[3] == "1":
    out.append("query-balloon %s" % json.dumps(cmd({"execute": "query-balloon"})))
    balloon(480)
    balloon(496)
    open(sys.argv[4], "w").write("\n".join(out) + "\n")
print(cmd({"execute": "screendump", "arguments": {"filename": sys.argv[2]}}))
if sys.argv[5]:
    # a new medium for the scsi-cd (virtio-scsi), read-only as the drive
    print(cmd({"execute": "blockdev-change-medium",
               "arguments": {"id": "scd", "filename": sys.argv[5], "format": "raw"}}))
if sys.argv[6] == "1":
    # the receive filter the guest's driver set up, then the link taken down under it
    open(sys.argv[7], "w").write("%s\n%s\n%s\n" % (
        json.dumps(cmd({"execute": "query-rx-filter"})),
        json.dumps(cmd({"execute": "set_link", "arguments": {"name": "n0", "up": False}})),
        json.dumps(cmd({"execute": "query-rx-filter", "arguments": {"name": "n0"}}))))
PY
    (echo go >&3) 2>/dev/null
    exec 3>&-
    stage "$(basename "$pre"): the screen's QMP part done"
    # disk hotplug; SIGKILL in Vireo's normal run (tests/tcg/pci-guest-late.py)
    if [ $virtio = 1 ] && { [ "$pre" = "$work/vireo" ] || [ $qemu_light = 0 ]; }; then
        local kpid=
        [ "$pre" = "$work/vireo" ] && [ "$asan" != 1 ] && kpid=$(pgrep -P "$pid")
        python3 "$(dirname "$0")/pci-guest-late.py" "$pre.qmp" "$pre.out" \
            "$work/$(basename "$pre" | cut -c1)-hp.qcow2" "$pre.hp" \
            "$kpid" >"$pre.hp.log" 2>&1
        stage "$(basename "$pre"): disk hotplug part done"
    fi
    wait $pid 2>/dev/null
    local rc=$?
    stage "$(basename "$pre") ended (exit $rc)"
    return $rc
}
extract() { tr -d '\r' <"$1" | sed -n '/^===BEGIN===$/,/^===END===$/p' | grep -v 'libkmod'; }
disk_args=()
net_args=()
net_append=
if [ $net = 1 ]; then
    net_args=(-netdev "user,id=n0,hostname=vireo-guest,hostfwd=tcp:127.0.0.1:$hostfwd-:80"
        -device virtio-net-pci,netdev=n0,mac=52:54:00:ab:cd:ef)
    net_append=" hport=$hport"
fi
# The sanitizer build's run (tests/run.sh --asan) boots Vireo only, for its reports and its own
# checks: the comparison with QEMU 7.2 is the normal build's.
asan=${VIREO_ASAN:-0}
# Under KVM (nested, where every second counts) QEMU's guest does less (vireo.light): it shows
# the devices as the guest sees them (lspci, sysfs) but leaves out the disk I/O, SG_IO and the
# late part (hotplug, balloon statistics), which are accelerator-independent results that the TCG
# run compares with QEMU 7.2's; Vireo's guest does everything and its own checks judge it.
qemu_light=0
qemu_append=
[ "$ACCEL" != tcg ] && qemu_light=1 && qemu_append=" vireo.light"
if [ "$asan" != 1 ]; then
    disks q || { fail "$name/disks" "cannot make the images"; finish; exit; }
    run_vm "$QEMU" "$work/qemu" "console=ttyS0 panic=-1 quiet$qemu_append"
    qrc=$?
fi
disks v || { fail "$name/disks" "cannot make the images"; finish; exit; }
# vireo.kill: the normal build's Vireo run ends in a SIGKILL (the guest's disk hotplug part)
kill_append=
[ $virtio = 1 ] && [ "$asan" != 1 ] && kill_append=" vireo.kill"
run_vm "$VIREO" "$work/vireo" "console=ttyS0 panic=-1 quiet edu.outside$kill_append"
vrc=$?
extract "$work/vireo.out" >"$work/vireo.txt"
if [ "$asan" = 1 ]; then
    skip "$name/as-qemu" "the sanitizer build's run: the comparison with QEMU 7.2 is the normal build's"
elif extract "$work/qemu.out" >"$work/qemu.txt" && { [ $qrc != 0 ] || ! grep -q '^@edu' "$work/qemu.txt"; }; then
    fail "$name/qemu-ran" "QEMU 7.2 exit $qrc: $(tail -c 300 "$work/qemu.out" | tr '\n' '|') $(head -c 200 "$work/qemu.err")"
    finish
    exit
fi
# (137: the hotplug part's SIGKILL, when pci-guest-late.py says it killed)
if { [ $vrc != 0 ] && ! { [ $vrc = 137 ] && grep -q '^killed' "$work/vireo.hp.kill" 2>/dev/null; }; } ||
    ! grep -q '^@edu' "$work/vireo.txt"; then
    fail "$name/vireo-ran" "exit $vrc: $(tail -c 400 "$work/vireo.out" | tr '\n' '|') $(head -c 300 "$work/vireo.err")"
    finish
    exit
fi
section() { sed -n "/^@$2\$/,/^@/p" "$1" | sed '$d'; }
sections="lspci iomem ioports usb input edu"
[ $vdev = 1 ] && sections="$sections vrng vballoon"
[ $net = 1 ] && sections="$sections net"
[ $virtio = 1 ] && sections="$sections vdisk vio scsi sio sgio"
for s in $sections; do
    section "$work/vireo.txt" $s >"$work/v.$s"
    [ $s = edu ] && { grep -v '^===END' "$work/v.$s" >"$work/v.x"; mv "$work/v.x" "$work/v.$s"; }
    # the guest's RAM differs by the firmware's reservations: compared as the balloon's delta
    [ $s = vballoon ] && { grep -v memtotal "$work/v.$s" >"$work/v.x"; mv "$work/v.x" "$work/v.$s"; }
    [ "$asan" = 1 ] && continue
    if [ $qemu_light = 1 ] && { [ $s = vio ] || [ $s = sio ] || [ $s = sgio ]; }; then
        skip "$name/$s" "compared with QEMU 7.2 by the TCG run; under KVM Vireo's own checks"
        continue
    fi
    section "$work/qemu.txt" $s >"$work/q.$s"
    [ $s = vballoon ] && { grep -v memtotal "$work/q.$s" >"$work/q.x"; mv "$work/q.x" "$work/q.$s"; }
    [ $s = edu ] && { grep -v '^===END' "$work/q.$s" >"$work/q.x"; mv "$work/q.x" "$work/q.$s"; }
    if [ -s "$work/q.$s" ] && cmp -s "$work/q.$s" "$work/v.$s"; then
        ok "$name/$s"
    else
        fail "$name/$s" "differs from QEMU 7.2: $(diff "$work/q.$s" "$work/v.$s" | head -c 700 | tr '\n' '|')"
    fi
done
# the text screen: pixel-equal to QEMU's (the sanitizer run: Vireo's alone), and text on it
python3 - "$work/vireo.ppm" "$work/qemu.ppm" "$asan" >"$work/screen.txt" 2>&1 <<'PY'
import sys
def load(p):
    d = open(p, "rb").read()
    parts = d.split(b"\n", 3)
    w, h = map(int, parts[1].split())
    return w, h, parts[3]
vw, vh, v = load(sys.argv[1])
lit = sum(1 for i in range(0, min(len(v), vw * 3 * 16), 3) if v[i:i + 3] != b"\0\0\0")
if sys.argv[3] == "1":
    print("size %dx%d lit-pixels-row0 %d" % (vw, vh, lit))
    sys.exit(0 if (vw, vh) == (720, 400) and lit > 100 else 1)
qw, qh, q = load(sys.argv[2])
diff = 0 if q == v else sum(1 for i in range(0, min(len(q), len(v)), 3) if q[i:i + 3] != v[i:i + 3])
print("size %dx%d qemu %dx%d lit-pixels-row0 %d differing-pixels %d" % (vw, vh, qw, qh, lit, diff))
sys.exit(0 if (qw, qh) == (vw, vh) and q == v and lit > 100 else 1)
PY
if [ $? = 0 ]; then
    ok "$name/vga-text-screendump"
else
    fail "$name/vga-text-screendump" "$(cat "$work/screen.txt" "$work/vireo.qmp.log" "$work/qemu.qmp.log" 2>/dev/null | tail -c 600 | tr '\n' '|')"
fi
# what the guest saw of its own DMA (the comparison above says QEMU saw the same)
if grep -q '^dma-roundtrip 0xCAFEF00D 0x12345678$' "$work/v.edu" &&
    grep -q '^dma-no-master 0x00000000$' "$work/v.edu"; then
    ok "$name/dma-values"
else
    fail "$name/dma-values" "$(grep '^dma' "$work/v.edu" | tr '\n' '|')"
fi
# virtio-rng and the balloon: what the guest saw was compared above; here its values, the
# balloon's QMP side beside QEMU's, and the guest's memory after it
if [ $vdev = 1 ]; then
    if grep -qx 'current virtio_rng.0' "$work/v.vrng" && grep -qx 'read 768' "$work/v.vrng" &&
        grep -qx 'rate-limited yes' "$work/v.vrng"; then
        ok "$name/virtio-rng-guest"
    else
        fail "$name/virtio-rng-guest" "$(tr '\n' '|' <"$work/v.vrng")"
    fi
    vb=$(tr -d '\r' <"$work/vireo.out" | grep '^balloon-memtotal-after' | tr -dc 0-9)
    v0=$(grep '^memtotal-before' "$work/vireo.txt" | tr -dc 0-9)
    if grep -q '^query-balloon {"return": {"actual": 503316480}}' "$work/vireo.balloon" &&
        grep -q '^balloon-change-last \[{"actual": 520093696}\]' "$work/vireo.balloon" &&
        grep -q '^query-balloon {"return": {"actual": 520093696}}' "$work/vireo.balloon" &&
        [ -n "$vb" ] && [ -n "$v0" ] && [ $((v0 - vb)) = 16384 ]; then
        ok "$name/virtio-balloon-guest"
    else
        fail "$name/virtio-balloon-guest" "memtotal $v0 -> $vb; $(tr '\n' '|' <"$work/vireo.balloon" 2>/dev/null)"
    fi
    if [ "$asan" != 1 ]; then
        qb=$(tr -d '\r' <"$work/qemu.out" | grep '^balloon-memtotal-after' | tr -dc 0-9)
        q0=$(grep '^memtotal-before' "$work/qemu.txt" | tr -dc 0-9)
        if cmp -s "$work/qemu.balloon" "$work/vireo.balloon" && [ -n "$qb" ] &&
            [ $((q0 - qb)) = $((v0 - vb)) ]; then
            ok "$name/virtio-balloon-as-qemu"
        else
            fail "$name/virtio-balloon-as-qemu" "memtotal $q0 -> $qb / $v0 -> $vb; $(diff "$work/qemu.balloon" "$work/vireo.balloon" 2>&1 | tr '\n' '|' | head -c 600)"
        fi
    fi
fi
# virtio-blk: the guest's view was compared above; what it did, seen from the host
if [ $virtio = 1 ]; then
    if grep -qx 'vda-read ok' "$work/v.vio" && grep -qx 'vdb-read ok' "$work/v.vio" &&
        grep -qx 'vda-zeroout done' "$work/v.vio" && grep -qx 'vdb-zeroout done' "$work/v.vio" &&
        grep -qx 'vda-discard done' "$work/v.vio" &&
        grep -q '^vda size=32768 serial=VIREO-B ' "$work/v.vdisk" &&
        grep -q '^vdb size=131072 serial=VIREO-A ' "$work/v.vdisk" &&
        grep -qx '  logical_block_size=4096' "$work/v.vdisk"; then
        ok "$name/virtio-blk-guest"
    else
        fail "$name/virtio-blk-guest" "$(tr '\n' '|' <"$work/v.vdisk" | head -c 300) $(tr '\n' '|' <"$work/v.vio")"
    fi
    # the guest's write (256 KiB at 2 MiB, 64 KiB zeroed at +128 KiB) as QEMU's qemu-img reads it
    # (QEMU's dd counts the skipped blocks in count=)
    head -c 131072 "$work/root/pattern" >"$work/want"
    head -c 65536 /dev/zero >>"$work/want"
    tail -c 65536 "$work/root/pattern" >>"$work/want"
    if "$QIMG" dd -f qcow2 -O raw bs=65536 skip=32 count=36 if="$work/v-a.qcow2" \
        of="$work/got" >/dev/null 2>&1 && cmp -s "$work/want" "$work/got"; then
        ok "$name/virtio-blk-data"
    else
        fail "$name/virtio-blk-data" "the image does not hold what the guest wrote"
    fi
    if out=$("$QIMG" check "$work/v-a.qcow2" 2>&1); then
        ok "$name/virtio-blk-qemu-img-check"
    else
        fail "$name/virtio-blk-qemu-img-check" "$(echo "$out" | head -c 400 | tr '\n' '|')"
    fi
    if [ "$asan" = 1 ] || [ $qemu_light = 1 ]; then
        :
    elif "$QIMG" compare -q "$work/q-a.qcow2" "$work/v-a.qcow2" &&
        "$QIMG" compare -q -f raw -F raw "$work/q-b.raw" "$work/v-b.raw" &&
        [ "$("$QIMG" map --output=json -f raw "$work/q-b.raw")" = \
            "$("$QIMG" map --output=json -f raw "$work/v-b.raw")" ]; then
        ok "$name/virtio-blk-images-as-qemu"
    else
        fail "$name/virtio-blk-images-as-qemu" "$("$QIMG" compare "$work/q-a.qcow2" "$work/v-a.qcow2" 2>&1 | head -c 200) $("$QIMG" map --output=json -f raw "$work/v-b.raw" | head -c 300)"
    fi
    # virtio-scsi: the medium change the guest saw (the unit attentions, the media event, the
    # new data), as under QEMU
    tr -d '\r' <"$work/vireo.out" | grep '^@mc ' >"$work/v.mc"
    if [ "$asan" != 1 ]; then
        tr -d '\r' <"$work/qemu.out" | grep '^@mc ' >"$work/q.mc"
    fi
    if grep -qx "@mc sr0-size 2048" "$work/v.mc" &&
        grep -q "^@mc 25000000000000000000 status=00 .* data=000001ff000008$" "$work/v.mc" &&
        grep -qx "@mc sr0-new $(sha256sum <"$work/cd2.iso" | cut -c1-16)" "$work/v.mc" &&
        { [ "$asan" = 1 ] || cmp -s "$work/q.mc" "$work/v.mc"; }; then
        ok "$name/virtio-scsi-medium-change"
    else
        fail "$name/virtio-scsi-medium-change" "vireo: $(tr '\n' '|' <"$work/v.mc" | head -c 500) qemu: $(tr '\n' '|' <"$work/q.mc" 2>/dev/null | head -c 500)"
    fi
    # virtio-scsi: what the guest did, from the host (the guest's view was compared above)
    if grep -qx 'sda-read ok' "$work/v.sio" && grep -qx 'sda-discard done' "$work/v.sio" &&
        grep -qx 'sda-zeroout done' "$work/v.sio" && grep -qx 'sr0-past-end 2048' "$work/v.sio" &&
        grep -qx "sr0-read $(head -c 3145728 "$work/cd.iso" | sha256sum | cut -c1-16)" "$work/v.sio" &&
        grep -q '^  vpd_pg83  *00 83 00 17 02 00 00 07 56 49 52 45 4f 2d 53 01 03 00 08 50 00 c5 00 15 ea 71 ac' "$work/v.scsi" &&
        grep -q '^sr0 size=6144 ro=1 removable=1' "$work/v.scsi"; then
        ok "$name/virtio-scsi-guest"
    else
        fail "$name/virtio-scsi-guest" "$(tr '\n' '|' <"$work/v.scsi" | head -c 400) $(tr '\n' '|' <"$work/v.sio")"
    fi
    # 256 KiB at 2 MiB as written; 64 KiB discarded at 64 KiB and zeroed at 128 KiB read as zeroes
    { head -c 65536 "$work/root/pattern"; head -c 131072 /dev/zero
        tail -c 65536 "$work/root/pattern"; } >"$work/want-s"
    head -c 262144 "$work/v-c.raw" >"$work/got-s0"
    tail -c +2097153 "$work/v-c.raw" | head -c 262144 >"$work/got-s1"
    if cmp -s "$work/got-s0" "$work/want-s" && cmp -s "$work/got-s1" "$work/root/pattern"; then
        ok "$name/virtio-scsi-data"
    else
        fail "$name/virtio-scsi-data" "the scsi-hd image does not hold what the guest wrote"
    fi
    if [ "$asan" = 1 ] || [ $qemu_light = 1 ]; then
        :
    elif "$QIMG" compare -q -f raw -F raw "$work/q-c.raw" "$work/v-c.raw" &&
        [ "$("$QIMG" map --output=json -f raw "$work/q-c.raw")" = \
            "$("$QIMG" map --output=json -f raw "$work/v-c.raw")" ]; then
        ok "$name/virtio-scsi-image-as-qemu"
    else
        fail "$name/virtio-scsi-image-as-qemu" "$("$QIMG" map --output=json -f raw "$work/v-c.raw" | head -c 300)"
    fi
fi
# ---- disk hotplug and SIGKILL (tests/tcg/pci-guest-late.py): what the guest and QMP saw, and
# the hotplugged disk's qcow2 afterwards ----
if [ $virtio = 1 ]; then
    tr -d '\r' <"$work/vireo.out" | grep '^@hp ' >"$work/v.hp"
    if grep -qx '@hp vdc size=32768 serial=VIREO-HP functions=3' "$work/v.hp" &&
        grep -qx '@hp vdc-read ok' "$work/v.hp" && grep -qx '@hp vdc-back ok' "$work/v.hp" &&
        grep -qx '@hp gone=yes functions=2' "$work/v.hp" &&
        grep -qx 'device_add {"return": {}}' "$work/vireo.hp" &&
        grep -qx 'DEVICE_DELETED {"path": "/machine/peripheral/hp1/virtio-backend"}' "$work/vireo.hp" &&
        grep -qx 'DEVICE_DELETED {"device": "hp1", "path": "/machine/peripheral/hp1"}' "$work/vireo.hp" &&
        grep -qx 'blockdev-del {"return": {}}' "$work/vireo.hp"; then
        ok "$name/disk-hotplug-guest"
    else
        fail "$name/disk-hotplug-guest" "$(tr '\n' '|' <"$work/v.hp") $(tr '\n' '|' <"$work/vireo.hp" 2>/dev/null | head -c 600)"
    fi
    if [ $qemu_light = 1 ]; then
        skip "$name/disk-hotplug-as-qemu" "compared with QEMU 7.2 by the TCG run; under KVM Vireo's side alone"
    elif [ "$asan" != 1 ]; then
        tr -d '\r' <"$work/qemu.out" | grep '^@hp ' >"$work/q.hp"
        if [ -s "$work/q.hp" ] && cmp -s "$work/q.hp" "$work/v.hp" && cmp -s "$work/qemu.hp" "$work/vireo.hp"; then
            ok "$name/disk-hotplug-as-qemu"
        else
            fail "$name/disk-hotplug-as-qemu" "$(diff "$work/q.hp" "$work/v.hp" | tr '\n' '|' | head -c 400) $(diff "$work/qemu.hp" "$work/vireo.hp" 2>&1 | tr '\n' '|' | head -c 400)"
        fi
    fi
    # the balloon's statistics (polling switched on by qom-set): the guest reported them, and the
    # total memory it reported is its MemTotal after the balloon (which statistics it reports:
    # compared with QEMU's above)
    vmt=$(tr -d '\r' <"$work/vireo.out" | grep '^balloon-memtotal-after' | tr -dc 0-9)
    if grep -qx 'balloon-polling {"return": {}}' "$work/vireo.hp" &&
        grep -qx 'guest-stats-updated true' "$work/vireo.hp" &&
        grep -q '^guest-stats-reported .*"stat-total-memory"' "$work/vireo.hp" && [ -n "$vmt" ] &&
        [ "$(cat "$work/vireo.hp.total" 2>/dev/null)" = $((vmt * 1024)) ]; then
        ok "$name/balloon-guest-stats"
    else
        fail "$name/balloon-guest-stats" "MemTotal $vmt kB; total $(cat "$work/vireo.hp.total" 2>/dev/null); $(grep -E '^(balloon|guest-stats)' "$work/vireo.hp" | tr '\n' '|' | head -c 500)"
    fi
    # the image: QEMU's qemu-img check finds no corruption (after the SIGKILL: leaks allowed,
    # exit 3), and what the guest flushed is there (the pattern at 1 MiB; after the kill also
    # at 3 MiB, written and flushed on the second plug)
    killed=0
    grep -q '^killed' "$work/vireo.hp.kill" 2>/dev/null && killed=1
    "$QIMG" check "$work/v-hp.qcow2" >"$work/hp.check" 2>&1
    crc=$?
    "$QIMG" dd -f qcow2 -O raw bs=65536 count=52 if="$work/v-hp.qcow2" of="$work/hp.got" >/dev/null 2>&1
    hpok=1
    for off in 0 16 $([ $killed = 1 ] && echo 48); do
        tail -c +$((off * 65536 + 1)) "$work/hp.got" | head -c 262144 | cmp -s - "$work/root/pattern" || hpok=0
    done
    if [ $hpok = 1 ] && { [ $crc = 0 ] || { [ $killed = 1 ] && [ $crc = 3 ]; }; }; then
        ok "$name/disk-hotplug-data-qemu-img-check"
    else
        fail "$name/disk-hotplug-data-qemu-img-check" "data ok=$hpok; qemu-img check exit $crc: $(tr '\n' '|' <"$work/hp.check" | head -c 400)"
    fi
    if [ "$asan" = 1 ]; then
        skip "$name/disk-sigkill" "the sanitizer build's run ends with poweroff (LeakSanitizer's report)"
    elif [ $killed = 1 ] && [ $vrc = 137 ]; then
        ok "$name/disk-sigkill"
    else
        fail "$name/disk-sigkill" "emulator exit $vrc; $(tr '\n' '|' <"$work/vireo.hp.kill" 2>/dev/null) $(tail -c 300 "$work/vireo.hp.log" 2>/dev/null)"
    fi
fi
# virtio-net: what the guest got through slirp (the comparison above says QEMU's got the same)
if [ $net = 1 ]; then
    if grep -q '^eth0 mac=52:54:00:ab:cd:ef carrier=1 ' "$work/v.net" &&
        grep -qx 'lease 10.0.2.15/24 router 10.0.2.2 dns 10.0.2.3 hostname vireo-guest' "$work/v.net" &&
        grep -qx 'resolved 10.0.2.77' "$work/v.net" &&
        grep -qx 'fetched page from the host' "$work/v.net"; then
        ok "$name/net-user-guest"
    else
        fail "$name/net-user-guest" "$(tr '\n' '|' <"$work/v.net" | head -c 500) dns: $(tr '\n' '|' <"$work/dns.log" | head -c 200)"
    fi
    # query-rx-filter and set_link: QEMU's replies, and the guest saw the carrier go
    if [ "$asan" = 1 ] || cmp -s "$work/qemu.netqmp" "$work/vireo.netqmp"; then
        ok "$name/net-rx-filter-set-link-as-qemu"
    else
        fail "$name/net-rx-filter-set-link-as-qemu" "$(diff "$work/qemu.netqmp" "$work/vireo.netqmp" 2>&1 | head -c 800 | tr '\n' '|')"
    fi
    if tr -d '\r' <"$work/vireo.out" | grep -qx 'carrier-after-set-link 0' &&
        grep -q '"promiscuous": false.*"multicast-table": \["33:33:ff:ab:cd:ef"' "$work/vireo.netqmp"; then
        ok "$name/net-set-link-guest"
    else
        fail "$name/net-set-link-guest" "$(tr -d '\r' <"$work/vireo.out" | grep carrier-after) $(head -c 400 "$work/vireo.netqmp")"
    fi
    if [ "$(cat "$work/vireo.fwd")" = "page from the guest" ]; then
        ok "$name/net-hostfwd"
    else
        fail "$name/net-hostfwd" "$(head -c 300 "$work/vireo.fwd")"
    fi
fi
if tr -d '\r' <"$work/vireo.out" | grep -q '^dma-outside-buffer 0x010000ED 0x00000000' &&
    grep -q 'edu: DMA range .* out of bounds' "$work/vireo.err"; then
    ok "$name/dma-outside-buffer-refused"
else
    fail "$name/dma-outside-buffer-refused" "$(tr -d '\r' <"$work/vireo.out" | grep '^dma-outside') $(head -c 300 "$work/vireo.err")"
fi
finish
