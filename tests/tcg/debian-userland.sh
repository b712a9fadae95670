#!/bin/bash
# Debian's own dynamically linked userland (coreutils, gzip, perl, mawk, grep, sed: packages every
# Debian system has) inside a guest under -accel tcg prints what it prints on the host. The
# binaries and the shared libraries they load are copied from this machine into an initramfs,
# so glibc's start-up, the dynamic loader and glibc's CPU-specific string and math routines
# (chosen from the CPUID the guest sees) all run translated. Runs with the default CPU model
# and with -cpu max, whose extra SSE levels make glibc pick other routines.
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/guest-initrd.sh"
kernel=$VIREO_CACHE/vmlinuz-cloud
bb=$VIREO_CACHE/busybox
bins="/usr/bin/sha256sum /usr/bin/md5sum /usr/bin/sort /usr/bin/seq /usr/bin/od /usr/bin/factor
/usr/bin/tr /usr/bin/wc /usr/bin/uniq /bin/gzip /usr/bin/perl /usr/bin/mawk /bin/grep /bin/sed"
missing=""
for f in "$kernel" "$bb" $bins; do
    [ -e "$f" ] || missing="$missing $f"
done
if [ -n "$missing" ] || ! command -v cpio >/dev/null || ! command -v ldd >/dev/null; then
    skip tcg-debian-userland "needs$missing cpio ldd"
    finish
    exit
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "# work: $work"
root=$work/root
bb_root "$root"
# each binary and every library ldd names, at the same paths
for f in $bins; do
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
    for lib in $(ldd "$f" | awk '/=>/ { print $3 } !/=>/ && /^\t\// { print $1 }'); do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
done
cat >"$work/cmds" <<'CMDS'
D=/usr/bin
$D/seq 1 20000 | $D/sha256sum
$D/seq 1 50000 | /bin/gzip -9 | /bin/gzip -d | $D/md5sum
$D/seq 1 50000 | /bin/gzip -9 | $D/wc -c
$D/perl -e 'my $x = 0; for my $i (1 .. 50000) { $x += sqrt($i) / ($i + 0.5) } printf "%.6f\n", $x;
  print join(",", sort { $a <=> $b } map { ($_ * 7919) % 1000 } 1 .. 20), "\n";
  my %h; $h{$_ % 97}++ for 1 .. 10000; print scalar(keys %h), " ", length(join "", map { chr(65 + $_ % 26) } 1 .. 300), "\n";
  printf "%s\n", join " ", map { sprintf "%.3e", exp($_ / 7) * log($_ + 1) } 1 .. 5'
$D/mawk 'BEGIN { s = 0; for (i = 1; i <= 20000; i++) s += sin(i) * log(i); printf "%.6f %.4f %d\n", s, atan2(1, 2), int(2 ^ 31 / 3) }'
$D/seq 1 3000 | $D/mawk '{ a[$1 % 7] += $1 } END { for (k = 0; k < 7; k++) printf "%d ", a[k]; print "" }'
$D/factor 1234567890123 600851475143
$D/seq 1 200 | /bin/sed -n 's/^\(1[0-9]*\)7$/x\1/p' | $D/tr '\n' ' '; echo
$D/seq 1 5000 | /bin/grep -c '^[1-3].*9$'
printf 'pear\nApple\n10\n9\nbanana\n9\n' | $D/sort | $D/uniq -c | $D/tr -s ' ' | $D/tr '\n' '|'; echo
printf 'Vireo' | $D/od -An -tx1 | $D/tr -d ' \n'; echo
CMDS
cp "$work/cmds" "$root/cmds"
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
echo ===BEGIN===
/bin/busybox sh /cmds 2>&1
echo ===END===
/bin/busybox poweroff -f
INIT
chmod +x "$root/init"
pack_initrd "$root" "$work/initrd" 1
(cd "$work" && PATH=/usr/bin:/bin sh "$work/cmds") >"$work/host" 2>&1
for cpu in default max; do
    cpuopt=()
    [ $cpu = default ] || cpuopt=(-cpu "$cpu")
    run_guest_section "$work/run" ${VIREO_BOOT_TIMEOUT:-180} "${cpuopt[@]}" -m 512 \
        -initrd "$work/initrd" -append "console=ttyS0 quiet panic=-1"
    if [ $rc -eq 0 ] && [ -s "$work/run.guest" ] && [ ! -s "$work/run.err" ] &&
        cmp -s "$work/run.guest" "$work/host"; then
        ok "tcg-debian-userland/cpu-$cpu"
    else
        fail "tcg-debian-userland/cpu-$cpu" "exit $rc; diff: $(diff "$work/host" "$work/run.guest" | head -c 600 | tr '\n' '|'); stderr: $(head -c 200 "$work/run.err"); $(console_tail "$work/run")"
    fi
done
finish
