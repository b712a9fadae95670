#!/bin/bash
# --image-opts (images given as option strings) and --object (secrets checked, other object
# types accepted) in every command that has them, beside QEMU 7.2: same output, exit codes
# and image bytes, including QEMU's errors for bad option strings and objects.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip imageopts "real qemu-img not installed"; exit 0; fi

MK='$QI create -q -f qcow2 x.qcow2 1M; $QO -c "write -P 1 0 64k" x.qcow2 >/dev/null; $QI create -q -f raw y.raw 1M; $QI create -q -f qcow2 -b x.qcow2 -F qcow2 z.qcow2'
X=driver=qcow2,file.filename=x.qcow2
Z=driver=qcow2,file.filename=z.qcow2
both imageopts/info "$MK" "\$QI info --image-opts $X" '$QI info --image-opts file.filename=x.qcow2' \
    '$QI info --image-opts x.qcow2' '$QI info --image-opts filename=x.qcow2' \
    '$QI info --image-opts driver=qcow2,file.filename=nope.qcow2' \
    "\$QI info --image-opts -f qcow2 $X" "\$QI info --image-opts $X,foo=bar" \
    '$QI info --image-opts driver=raw,file.filename=x.qcow2' \
    "\$QI info --image-opts $X,file.driver=file,cache.direct=on" \
    '$QI info --image-opts driver=file,filename=x.qcow2' '$QI info --image-opts driver=qcow2,file=x.qcow2' \
    "\$QI info --image-opts $X,file.aio=native" '$QI info --image-opts driver=qcow2' \
    '$QI info --image-opts driver=foo,file.filename=x.qcow2' "\$QI info --image-opts $X,file.foo=1" \
    '$QI info --image-opts driver=file,filename=x.qcow2,foo=1' \
    '$QI info --image-opts driver=qcow2,file.driver=foo,file.filename=x.qcow2' \
    "\$QI info --image-opts $X,cache.direct=maybe" "\$QI info --image-opts $X,,y" \
    "\$QI info --image-opts $X,read-only=on" "\$QI info --image-opts $X,lazy-refcounts=maybe" \
    "\$QI info --image-opts $X,l2-cache-size=abc" "\$QI info --image-opts $Z --backing-chain" \
    "\$QI info --image-opts --output=json $Z --backing-chain" \
    "\$QI info --image-opts $X,discard=unmap,detect-zeroes=on,lazy-refcounts=on,overlap-check=none,cache-size=1M,refcount-cache-size=64k,cache-clean-interval=5,pass-discard-request=on,l2-cache-entry-size=4096"
both imageopts/commands "$MK" "\$QI check --image-opts $X" "\$QI check --image-opts --output=json $X" \
    "\$QI map --image-opts $X" "\$QI map --image-opts --output=json $Z" \
    "\$QI compare --image-opts $X $Z" "\$QI compare --image-opts $X driver=raw,file.filename=y.raw" \
    "\$QI compare --image-opts -f qcow2 $X x.qcow2" "\$QI measure --image-opts -O qcow2 $X" \
    "\$QI measure --image-opts --output=json -O raw $X" \
    "\$QI bench --image-opts -c 100 $X | grep -v '^Run completed'" \
    "cp x.qcow2 xs.img; \$QI snapshot --image-opts -c s1 driver=qcow2,file.filename=xs.img" \
    "\$QI snapshot --image-opts -l driver=qcow2,file.filename=xs.img | sed 's/ 20[0-9-]* [0-9:]* / DATE /'" \
    "\$QI amend --image-opts -o lazy_refcounts=on $X" \
    "\$QI amend --image-opts -o lazy_refcounts=on $X,read-only=on" \
    "\$QI resize --image-opts $Z 2M" "\$QI convert --image-opts -O qcow2 $Z out.qcow2" \
    '$QI convert --target-image-opts -O qcow2 x.qcow2 driver=qcow2,file.filename=out.qcow2' \
    '$QI convert -n --target-image-opts x.qcow2 driver=qcow2,file.filename=out.qcow2' \
    '$QI compare x.qcow2 out.qcow2' "\$QI dd --image-opts if=$X of=dd.raw bs=64k count=2" \
    'cmp dd.raw x.qcow2 && echo same' "\$QI commit --image-opts $Z" \
    "\$QI rebase --image-opts -u -b y.raw -F raw $Z" "\$QI bitmap --image-opts --add $X b1" \
    '$QI info x.qcow2 | grep -v "^disk size"' '$QI info z.qcow2 | grep -v "^disk size"'
both imageopts/object "$MK" '$QI info --object secret,id=s0,data=abc x.qcow2' \
    '$QI info --object secret,id=s0 x.qcow2' '$QI info --object foo,id=x x.qcow2' \
    '$QI info --object secret,data=abc x.qcow2' '$QI info --object secret,id=s0,file=/nonexist x.qcow2' \
    '$QI info --object secret,id=s0,data=abc,foo=1 x.qcow2' \
    '$QI info --object secret,id=s0,data=abc --object secret,id=s0,data=x x.qcow2' \
    '$QI info --object id=s0 x.qcow2' '$QI info --object secret,id=s0,data=abc,format=base64 x.qcow2' \
    '$QI info --object secret,id=s0,data=a%c,format=base64 x.qcow2' \
    '$QI info --object secret,id=0bad,data=abc x.qcow2' '$QI info --object help' \
    'echo -n key >k.txt; $QI info --object secret,id=s1,file=k.txt x.qcow2' \
    '$QI check --object secret,id=s0 x.qcow2' '$QI map --object throttle-group,id=t0 x.qcow2' \
    '$QI compare --object foo x.qcow2 x.qcow2' '$QI create --object secret,id=s0,data=x -f qcow2 new.qcow2 1M' \
    '$QI convert --object secret,id=s0 x.qcow2 c.raw' '$QI measure --object secret,id=s0 --size 1M' \
    '$QI bench --object secret,id=s0 -c 10 x.qcow2' \
    '$QI amend --object secret,id=s0 -o lazy_refcounts=off x.qcow2' \
    '$QI dd --object secret,id=s0 if=x.qcow2 of=d2.raw' '$QI commit --object secret,id=s0 z.qcow2' \
    '$QI rebase --object secret,id=s0 -u -b x.qcow2 -F qcow2 z.qcow2' \
    '$QI snapshot --object secret,id=s0 -l x.qcow2' '$QI resize --object secret,id=s0 x.qcow2 2M' \
    '$QI bitmap --object secret,id=s0 --add x.qcow2 b2' \
    '$QI bitmap --object secret,id=s0,data=1 --add x.qcow2 b3' '$QI info x.qcow2'
finish
