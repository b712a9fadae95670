#!/bin/bash
# qemu-io beside QEMU 7.2's: options (GNU reordering, -s, -C, -r, -n/-t, -i, -d, -f, -U,
# --image-opts, --object, -T), every command with its options and QEMU's output (timing lines
# aside), open/reopen/close, json:/file:/null-co: names, raw offset/size, blkdebug config
# files and breakpoints, aio ordering, and the image bytes afterwards.
. "$(dirname "$0")/lib.sh"
if ! have_ref; then skip qemu-io "real qemu-io not installed"; exit 0; fi

MK='$QI create -q -f qcow2 a.qcow2 1M; $QI create -q -f qcow2 b.qcow2 1M;
    $QO -c "write -P 7 0 1M" b.qcow2 >/dev/null;
    $QI create -q -f qcow2 -b b.qcow2 -F qcow2 o.qcow2; $QI create -q -f raw r.img 1M'

# -s: writes go to a temporary overlay (QEMU 7.2 deletes it at once); the image is untouched
both qemu-io/snapshot "$MK; mkdir t; cp o.qcow2 o0.img; cp r.img r0.img" \
    'TMPDIR=$PWD/t $QO -s -c "write -P 5 0 64k" -c "read -P 5 0 64k" -c "read -P 7 64k 4k" -c map o.qcow2' \
    'cmp o.qcow2 o0.img && echo o.qcow2 untouched; ls t' \
    'TMPDIR=$PWD/t $QO -c "write -P 5 4k 4k" -c "read -P 5 4k 4k" -c info -c length r.img -s' \
    'cmp r.img r0.img && echo r.img untouched; ls t' \
    'TMPDIR=$PWD/t $QO -c "open -s r.img" -c "write 0 1" -c "read -P 0xcd 0 1" -c close -c "open r.img" -c "read -P 0 0 1"' \
    'TMPDIR=$PWD/nope $QO -s -c "write 0 1" r.img 2>&1 | sed "s|$PWD/||; s/vl\.[A-Za-z0-9]*/vl.X/"' \
    '$QO -r -s -c "write 0 1" o.qcow2' 'cmp o.qcow2 o0.img && echo o.qcow2 untouched'

both qemu-io/options "$MK" '$QO a.qcow2 -c "read 0 512" -c length' \
    '$QO -c "read 0 512" a.qcow2 -r -c "write 0 1"' '$QO a.qcow2 b.qcow2' '$QO -c 2>&1 | sed "s|^[^ ]*qemu-io:|qemu-io:|"' \
    '$QO -t foo a.qcow2 -c length' '$QO -t none a.qcow2 -c length' '$QO -t writethrough -c "write 0 4k" a.qcow2' \
    '$QO -d foo a.qcow2' '$QO -d ignore -c "write 0 64k" -c "discard 0 64k" -c map a.qcow2' \
    '$QO -i foo a.qcow2' '$QO -i native a.qcow2 -c length' '$QO -k a.qcow2 -c length' \
    '$QO -n -i native a.qcow2 -c length -c "write -P 3 512 1k" -c "read -P 3 512 1k"' \
    '$QO --aio=io_uring --cache=none a.qcow2 -c length' \
    '$QO -T foo a.qcow2 -c length' '$QO -T "x*" a.qcow2 -c length' '$QO -T events=/nonexist a.qcow2' \
    '$QO -T bar=1 a.qcow2' '$QO -T help >/dev/null' 'printf "foo\n# c\n\nqcow2_x*\n" >ev; $QO -T events=ev a.qcow2 -c length' \
    '$QO -m a.qcow2 -c "write -P 9 1 3" -c "read -P 9 1 3"' \
    '$QO -U a.qcow2 -c length' '$QO -U -r a.qcow2 -c length' \
    '$QO --object foo a.qcow2' '$QO --object secret,id=s0,data=x a.qcow2 -c length' \
    '$QO --object help' \
    '$QO --image-opts a.qcow2 -c length' '$QO --image-opts driver=qcow2,file.filename=a.qcow2 -c length' \
    '$QO --image-opts -f qcow2 driver=qcow2,file.filename=a.qcow2' \
    '$QO --image-opts driver=qcow2,file.filename=a.qcow2,foo=1' '$QO -f foo a.qcow2' \
    '$QO -f raw a.qcow2 -c "read -v 0 4"' '$QO nonexist.img -c length' '$QO -x a.qcow2 2>&1 | sed "s|^[^ ]*qemu-io:|qemu-io:|" | tail -3' \
    'printf "read 0 1\nlength\nfoo\nquit\nlength\n" | $QO o.qcow2' 'printf "length" | $QO o.qcow2' \
    'printf "help length\n" | $QO'

both qemu-io/help "$MK" '$QO -c help' \
    'a=(); for c in read readv write writev aio_read aio_write aio_flush flush truncate length info discard alloc map reopen break remove_break resume wait_break abort sleep sigraise help open close quit r w t l i d a o c q "?" nope; do a+=(-c "help $c"); done; $QO "${a[@]}"'

both qemu-io/commands "$MK; echo hello >pat; : >empty" \
    '$QO -c "read -P 1 0 512" -c "read -P 7 0 512" -c "read -v 0 40" -c "read -q 0 1" o.qcow2' \
    '$QO -c "read -C 0 1" -c "write -C 0 1" -c "discard -C 0 1" o.qcow2 | sed -E "s/^([0-9]+,[0-9]+),.*/\\1,T/"' \
    '$QO -c "read -P 7 -s 512 -l 1k 0 4k" -c "read -P 7 -s 4k 0 4k" -c "read -P 7 -s 1 -l 4k 0 4k" -c "read -l 1 0 1" -c "read -p 0 1" o.qcow2' \
    '$QO -c "read 0 3G" -c "read 0 2147483137" -c "read x 1" -c "read 0 1k1" -c "read -P 300 0 1" -c "read -x 0 1" -c "read 1" -c "read 1 2 3" o.qcow2' \
    '$QO -c "write -b 0 4k" -c "read -b 1 4k" -c "read -b 0 1" -c "write -b -z 0 1" -c "write -b -f 0 512" -c "write -c -f 0 512" -c "write -c 1 512" -c "write -c 0 511" -c "write -n 0 1" -c "write -z -u -P 1 0 1" -c "write -u 0 1" o.qcow2' \
    '$QO -c "write -s /nonexist 0 1" -c "write -s pat -P 1 0 1" -c "write -z -s pat 0 1" -c "write -s empty 0 1" -c "write -s pat 0 5" -c "read -v 0 8" -c "write -s pat 4k 17" -c "read -v 4k 20" o.qcow2' \
    '$QO -c "write -P 0x5a 100 1000" -c "write -z 4k 8k" -c "write -z -u 64k 64k" -c "write -c 128k 64k" -c "write -f 300k 1" -c "write -z -n 400k 64k" -c map o.qcow2' \
    '$QO -c "write 0 3G" -c "write -z 0 3G" -c "write -z -n 0 3G" o.qcow2' \
    '$QO -c "sleep x" -c "sleep -1" -c "sleep 0x10" -c "sigraise x" -c "sigraise 100" -c "sigraise 0"' \
    '{ $QO -c "read 0 1" -c abort o.qcow2; } 2>/dev/null; echo "status $?"' \
    '{ $QO -c "write -P 1 0 1" -c "sigraise 9" r.img; } 2>/dev/null; echo "status $?"' \
    '$QO -c "truncate -m foo 1M" -c "truncate -m full 2M" -c length -c "truncate -m metadata 3M" -c length -c "truncate 1M" -c "truncate -m off 1536k" -c length -c truncate o.qcow2' \
    '$QO -c "alloc 0" -c "alloc 1" -c "alloc 0 1" -c "alloc 0 3G" -c "alloc 512 2M" -c "alloc 0 2M" -c "alloc 0 x" -c "alloc 0 1 2" o.qcow2' \
    '$QO -c "write 64k 64k" -c "write 512k 4k" -c map -c "map x" -c "length x" -c "info x" -c length -c info o.qcow2' \
    '$QO -c "discard 0 3G" -c "discard 0 x" -c "discard 64k 64k" -c "discard -q 0 1" -c map o.qcow2' \
    '$QO -c "readv 0" -c "readv 0 1 x" -c "readv 0 3G" -c "readv 0 2G 2G" -c "readv -P 7 0 512 512" -c "writev -P 3 0 1 2 3" -c "readv -v 0 6" -c "writev -P x 0 1" -c "readv -P 3 0 6 1" o.qcow2' \
    '$QO -c "close x" -c length o.qcow2' '$QO -c "quit x" -c length o.qcow2' '$QO -c "flush x" -c flush -c "aio_flush x" o.qcow2' \
    '$QO -c info -c "info" r.img' '$QO -c info -f raw r.img' '$QO -c "write -P 2 0 512" -c "read -P 2 0 512" r.img' \
    '$QO -c foo -c "read 0 1" o.qcow2' '$QO -c length -c "read 0 1"' '$QO -c "read 0 1" -c foo -c "read 0 1" o.qcow2'

both qemu-io/open "$MK" '$QO -c open -c "open o.qcow2 x" -c "open -x" -c "open nonexist"' \
    '$QO -c "open -o driver=qcow2 o.qcow2" -c info -c "open o.qcow2" -c close -c close -c "open -r o.qcow2" -c "write 0 1"' \
    '$QO -c "open -o driver=raw,file.driver=file o.qcow2" -c length -c "read -v 0 4"' \
    '$QO -c "open -o foo=bar o.qcow2" -c "open -r -U o.qcow2" -c length -c close -c "open -U o.qcow2"' \
    '$QO -c "open -t foo o.qcow2" -c "open -d foo o.qcow2" -c "open -i foo o.qcow2" -c "open -k o.qcow2"' \
    '$QO -c "open -o driver=qcow2 -o file.filename=o.qcow2" -c length' \
    '$QO -c "open -r -o driver=qcow2,backing.driver=raw o.qcow2" -c "read -v 0 4"' \
    '$QO -c "open -o driver=qcow2,backing.driver=raw,backing.file.filename=b.qcow2 o.qcow2" -c "read -v 0 4"' \
    '$QO -c "open -o driver=qcow2,backing.file.filename=r.img o.qcow2" -c "read -v 0 4"' \
    '$QO -c "open -o driver=qcow2,backing.driver=raw,backing.file.filename=r.img o.qcow2" -c "read -v 0 4"' \
    '$QO -c "open -o driver=qcow2,backing= o.qcow2" -c "read -v 0 4"' \
    '$QO -c "open -o driver=qcow2,backing.driver=foo o.qcow2"' \
    '$QO -c "open -o driver=qcow2,backing.driver=raw,backing.file.driver=null-co o.qcow2"' \
    '$QO -c "open -o driver=qcow2,backing.driver=null-co o.qcow2"' \
    '$QO -c "open -C o.qcow2" -c "read -P 7 4k 4k" -c map' '$QI map --output=json o.qcow2' \
    '$QO --image-opts -c "open -o driver=raw r.img" -c "open driver=raw,file.filename=r.img" -c length' \
    '$QO -c "reopen -r -w" -c "reopen x" -c "reopen -c foo" -c "reopen -r" -c "write 0 1" -c "reopen -w" -c "write -P 4 0 1" -c "reopen -o foo=bar" -c "reopen -o read-only=on -r" -c "reopen -o cache.direct=on -c none" -c "reopen -c none" -c "read -P 4 0 1" o.qcow2' \
    '$QO -r -c "write 0 1" -c "reopen -w" -c "write -P 6 0 1" -c "reopen -o read-only=on" -c "write 0 1" -c "reopen -o lazy-refcounts=on,discard=unmap" -c "read -P 6 0 1" o.qcow2' \
    '$QI bitmap --add a.qcow2 bm; $QO -r -c "reopen -w" -c "write 0 64k" -c "reopen -r" -c "read 0 1" a.qcow2; $QI info a.qcow2 | grep -A4 bitmaps'

both qemu-io/names "$MK" \
    "\$QO 'json:{' -c length" "\$QO 'json:[1]' -c length" "\$QO 'json:{\"driver\":\"qcow2\"}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":\"o.qcow2\"}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"foo\":1}'" \
    "\$QO 'json:{\"file\":{\"filename\":\"o.qcow2\"}}' -c length -c 'read -P 7 0 512'" \
    "\$QO 'json:{\"file.filename\":\"o.qcow2\",\"file.foo\":1}'" \
    "\$QO 'json:{\"driver\":\"file\",\"filename\":\"o.qcow2\",\"x\":1}'" \
    "\$QO 'json:{\"driver\":\"file\",\"filename\":\"r.img\"}' -c info -c 'write -P 8 0 4' -c 'read -P 8 0 4'" \
    "\$QO 'json:{\"driver\":\"null-co\",\"filename\":\"null-co://\"}'" \
    "\$QO 'json:{\"driver\":\"null-co\",\"latency-ns\":5}' -c length -c 'read 0 512'" \
    "\$QO 'json:{\"driver\":\"null-co\"}' -c length -c 'read 0 512' -c 'read -v 0 16' -c map -c info -c 'truncate 1M' -c 'discard 0 1M' -c 'write -z 0 1M' -c flush -c 'alloc 0 4k'" \
    "\$QO 'json:{\"driver\":\"null-co\",\"size\":4096,\"read-zeroes\":true}' -c length -c 'read -P 0 0 512' -c map -c info" \
    "\$QO 'json:{\"driver\":\"null-aio\",\"size\":\"1M\"}' -c length -c 'aio_read 0 4k' -c 'aio_write 4k 4k' -c aio_flush" \
    '$QO null-co:// -c length -c info' '$QO -f raw null-co:// -c length' '$QO null-co://foo' \
    '$QO --image-opts driver=null-co,size=1M -c length' '$QO -f null-co null-co://' '$QO null-aio:// -c length' \
    '$QO file:r.img -c length -c info' '$QO -f raw file:r.img -c info' '$QO foo:bar' '$QO a:b/c' '$QO ./a:b' \
    "\$QO 'json:{\"driver\":\"raw\",\"offset\":512,\"size\":1024,\"file\":{\"driver\":\"file\",\"filename\":\"r.img\"}}' -c length -c 'write -P 3 0 1024' -c 'write 1024 1' -c 'read -P 3 0 1k' -c map -c 'truncate 2k'" \
    'od -An -tx1 r.img | head -4' \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"}}}'" \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"}}}' -c length -c 'read -P 7 0 512'" \
    "\$QO 'json:{\"driver\":\"raw\",\"offset\":2048,\"size\":512,\"file\":{\"filename\":\"r.img\"}}' -c length" \
    "\$QO 'json:{\"driver\":\"raw\",\"offset\":1048576,\"size\":512,\"file\":{\"filename\":\"r.img\"}}'" \
    "\$QO 'json:{\"driver\":\"raw\",\"offset\":\"x\",\"file\":{\"filename\":\"r.img\"}}'" \
    "\$QO 'json:{\"driver\":\"raw\",\"offset\":100,\"file\":{\"filename\":\"r.img\"}}' -c length" \
    "\$QO 'json:{\"driver\":\"raw\",\"size\":100,\"file\":{\"filename\":\"r.img\"}}'" \
    "\$QO 'json:{\"driver\":\"file\",\"filename\":\"r.img\",\"aio\":\"x\"}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"cache\":{\"direct\":\"x\"}}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"discard\":\"x\"}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"detect-zeroes\":\"x\"}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"read-only\":true}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"backing\":\"x\"}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"backing\":{\"driver\":\"foo\"}}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"backing\":{\"foo\":\"x\"}}'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"backing\":null}' -c 'read -P 0 0 4k'" \
    "\$QO 'json:{\"driver\":\"qcow2\",\"file\":{\"filename\":\"o.qcow2\"},\"backing\":{\"file\":{\"filename\":\"b.qcow2\"},\"driver\":\"raw\"}}' -c 'read -v 0 4'" \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"filename\":\"r.img\"},\"backing\":{\"foo\":\"x\"}}'" \
    "\$QO 'json:{\"driver\":\"null-co\",\"size\":1024,\"file\":{\"filename\":\"r.img\"}}'" \
    '$QO --image-opts driver=qcow2,file.filename=o.qcow2,detect-zeroes=x' '$QO --image-opts filename=o.qcow2' \
    '$QO --image-opts driver=qcow2,filename=o.qcow2' '$QO --image-opts driver=file,file.filename=o.qcow2' \
    '$QO --image-opts driver=null-co,file=x' '$QO --image-opts driver=qcow2,file.filename=o.qcow2,node-name=0x' \
    '$QO --image-opts driver=qcow2,file.filename=o.qcow2,file=x' \
    '$QO --image-opts driver=qcow2,file.filename=a.qcow2,detect-zeroes=on -c "write -P 0 0 64k" -c map' \
    '$QO --image-opts driver=qcow2,file.filename=a.qcow2,detect-zeroes=unmap,discard=unmap -c "write -P 1 0 64k" -c "write -P 0 0 64k" -c map' \
    '$QO --image-opts driver=qcow2,file.filename=a.qcow2,detect-zeroes=unmap -c "write -P 0 0 64k"' \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"image\":{\"filename\":\"r.img\"}}}' -c length" \
    '$QO blkdebug::r.img -c length -c info' '$QO -f raw blkdebug::r.img -c info' '$QO blkdebug:r.img' \
    '$QO blkdebug:/nonexist:r.img' "\$QO 'json:{\"driver\":\"blkdebug\",\"image\":{\"filename\":\"r.img\"}}' -c info -c length" \
    '$QI info json:{\"driver\":\"raw\",\"file\":{\"driver\":\"null-co\"}}' '$QI info null-co:// | grep -v "disk size"'

# blkdebug: rules from config files and options, errors injected at qcow2's and raw's events
CFG='cfg(){ printf "$2" >"$1.cfg"; }
    cfg l2 "[inject-error]\nevent = \"l2_load\"\n"
    cfg once "[inject-error]\nevent = \"read_aio\"\nonce = \"on\"\n"
    cfg enospc "# c\n\n[inject-error]\n  event = \"read_aio\"\n  errno = \"28\"\n"
    cfg wr "[inject-error]\nevent = \"write_aio\"\niotype = \"write\"\nimmediately = \"on\"\n"
    cfg st "[set-state]\nevent = \"read_aio\"\nnew_state = \"2\"\n\n[inject-error]\nevent = \"read_aio\"\nstate = \"2\"\n"
    cfg sec "[inject-error]\nevent = \"none\"\nsector = \"8\"\n"
    cfg none "[inject-error]\nevent = \"none\"\nonce = \"on\"\n"
    cfg bad1 "[inject-error]\nevent = \"bogus\"\n"
    cfg bad2 "[inject-error]\nerrno = \"5\"\n"
    cfg bad3 "[inject-error]\nevent = \"read_aio\"\nfoo = \"1\"\n"
    cfg bad4 "[foo]\n"
    cfg bad5 "garbage\n"
    cfg bad6 "[inject-error]\nevent = read_aio\n"
    cfg bad7 "[inject-error]\nevent = \"read_aio\"\nerrno = \"abc\"\n"
    cfg bad8 "[inject-error]\nevent = \"read_aio\"\niotype = \"bogus\"\n"
    cfg bad9 "[inject-error]\nevent = \"read_aio\"\nonce = \"maybe\"\n"
    cfg bad10 "[inject-error \"x\"]\nevent = \"read_aio\"\n"
    cfg rt "[inject-error]\nevent = \"reftable_load\"\n"
    cfg ca "[inject-error]\nevent = \"cluster_alloc\"\nerrno = \"28\"\n"
    cfg fl "[inject-error]\nevent = \"flush_to_disk\"\niotype = \"flush\"\n"'
both qemu-io/blkdebug "$MK; $CFG" \
    '$QO -c "read 0 4k" blkdebug:l2.cfg:a.qcow2' '$QO -c "write 0 4k" blkdebug:l2.cfg:a.qcow2' \
    '$QO -f raw -c "read 0 4k" -c "read 0 4k" -c "read 0 4k" blkdebug:once.cfg:r.img' \
    '$QO -f raw -c "read 0 4k" -c "write 0 4k" blkdebug:enospc.cfg:r.img' \
    '$QO -f raw -c "read 0 4k" -c "write 0 4k" -c "write 0 4k" blkdebug:wr.cfg:r.img' \
    '$QO -f raw -c "read 0 4k" -c "read 0 4k" blkdebug:st.cfg:r.img' \
    '$QO -f raw -c "read 0 4k" -c "read 4k 4k" -c "write 4k 1" -c "read 0 1" blkdebug:sec.cfg:r.img' \
    '$QO -f raw -c "read 0 1" -c "read 0 1" blkdebug:none.cfg:r.img' \
    'for i in 1 2 3 4 5 6 7 8 9 10; do $QO -f raw -c "read 0 1" blkdebug:bad$i.cfg:r.img; done' \
    '$QO -c "read 0 1" blkdebug:rt.cfg:a.qcow2' '$QO -c "write 0 4k" -c "read 0 4k" blkdebug:ca.cfg:a.qcow2' \
    '$QO -f raw -c flush -c "write 0 1" blkdebug:fl.cfg:r.img' \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"inject-error\":[{\"event\":\"read_aio\",\"errno\":\"7\",\"once\":true}],\"image\":{\"filename\":\"r.img\"}}}' -c 'read 0 1' -c 'read 0 1'" \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"set-state\":[{\"event\":\"write_aio\",\"new_state\":2}],\"inject-error\":[{\"event\":\"read_aio\",\"state\":2}],\"image\":{\"filename\":\"r.img\"}}}' -c 'read 0 1' -c 'write 0 1' -c 'read 0 1'" \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"inject-error\":[{\"event\":\"nope\"}],\"image\":{\"filename\":\"r.img\"}}}'" \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"align\":4096,\"image\":{\"filename\":\"r.img\"}}}' -c 'write -P 9 100 10' -c 'read -P 9 100 10' -c 'read -P 0 0 100' -c 'write -z 1 2' -c 'read -P 0 1 2'" \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"align\":3,\"image\":{\"filename\":\"r.img\"}}}'" \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"align\":512,\"max-transfer\":1000,\"image\":{\"filename\":\"r.img\"}}}'" \
    "\$QO 'json:{\"driver\":\"raw\",\"file\":{\"driver\":\"blkdebug\",\"align\":512,\"max-transfer\":4096,\"opt-write-zero\":1024,\"max-write-zero\":4096,\"opt-discard\":512,\"max-discard\":1024,\"image\":{\"filename\":\"r.img\"}}}' -c 'write -P 4 0 64k' -c 'read -P 4 0 64k' -c 'write -z 100 20k' -c 'read -P 0 100 20k' -c 'discard 0 8k'"

# breakpoints: requests suspended at an event, resumed; aio requests complete from the loop.
# Each case starts from a fresh image (F), so the events it waits for do happen.
F='$QI create -q -f qcow2 f.qcow2 1M;'
both qemu-io/break "$MK" \
    '$QO -f raw -c "break write_aio A" -c "aio_write -P 3 0 4k" -c "wait_break A" -c "read -P 0 0 4k" -c "resume A" -c aio_flush -c "read -P 3 0 4k" blkdebug::r.img' \
    "$F"'$QO -c "break cluster_alloc A" -c "aio_write -P 3 0 4k" -c "wait_break A" -c "resume A" -c aio_flush -c "read -P 3 0 4k" blkdebug::f.qcow2' \
    "$F"'$QO -c "break l2_update A" -c "aio_write -P 3 0 4k" -c "wait_break A" -c "resume A" -c aio_flush -c "read -P 3 0 4k" blkdebug::f.qcow2' \
    "$F"'$QO -c "break refblock_load A" -c "aio_write -P 3 0 4k" -c "wait_break A" -c "remove_break A" -c aio_flush -c "read -P 3 0 4k" blkdebug::f.qcow2' \
    "$F"'$QO -c "break l1_update A" -c "aio_write -P 3 512k 4k" -c "wait_break A" -c "resume A" -c aio_flush blkdebug::f.qcow2' \
    "$F"'$QO -c "break write_aio A" -c "aio_write -P 3 0 64k" -c "wait_break A" -c "resume A" -c aio_flush -c "read -P 3 0 64k" blkdebug::f.qcow2' \
    '$QO -c "break cow_read A" -c "aio_write -P 3 4k 4k" -c "wait_break A" -c "read -P 7 4k 4k" -c "resume A" -c aio_flush -c "read -P 7 0 4k" -c "read -P 3 4k 4k" -c map blkdebug::o.qcow2' \
    '$QO -c "break nope A" -c "remove_break B" -c "resume B" blkdebug::a.qcow2' \
    '$QO -c "break write_aio A" a.qcow2' '$QO -c "resume A" -c "remove_break A" a.qcow2' \
    '$QO -f raw -c "break read_aio A" -c "aio_read -P 0 0 4k" -c "wait_break A" -c "resume A" -c "resume A" -c aio_flush blkdebug::r.img' \
    '$QO -f raw -c "break read_aio A" -c "break read_aio B" -c "aio_read 0 4k" -c "aio_read 4k 4k" -c "wait_break A" -c "wait_break B" -c "resume B" -c "sleep 100" -c "resume A" -c aio_flush blkdebug::r.img' \
    '$QO -f raw -c "break pwritev_rmw_head A" -c "break pwritev_rmw_after_head B" -c "aio_write -P 5 1 10" -c "wait_break A" -c "resume A" -c "wait_break B" -c "resume B" -c aio_flush -c "read -P 5 1 10" "json:{\"driver\":\"blkdebug\",\"align\":4096,\"image\":{\"filename\":\"r.img\"}}"'

both qemu-io/aio "$MK" \
    "$F"'$QO -c "aio_write -P 1 0 4k" -c "aio_write -P 2 64k 4k" -c aio_flush -c "read -P 1 0 4k" -c "read -P 2 64k 4k" f.qcow2 | sort' \
    "$F"'$QO -c "aio_write -P 1 0 4k" -c "aio_write -P 2 4k 4k" -c "read -P 1 0 4k" -c aio_flush -c "read -P 2 4k 4k" f.qcow2' \
    "$F"'$QO -c "aio_write -P 1 0 4k" -c length f.qcow2' \
    "$F"'$QO -c "aio_read -P 0 0 4k" -c "aio_read -v 0 16" -c aio_flush f.qcow2' \
    "$F"'$QO -c "aio_write -z 0 4k" -c "aio_write -q 0 4k" -c "aio_write -C 0 1k" -c aio_flush f.qcow2 | sed -E "s/^([0-9]+,[0-9]+),.*/\1,T/"' \
    '$QO -c "aio_write -i 0 4k" -c "aio_read -i 0 4k" -c "aio_write -z 0 1 2" -c "aio_write -u 0 1" -c "aio_write -z -P 1 0 1" -c "aio_read 0 x" -c "aio_read x 1" -c "aio_read 0 3G" -c "aio_read 0 2G 2G" a.qcow2' \
    "$F"'$QO -c "aio_read 0 4k" -c "aio_read 4k 4k" -c "aio_read 8k 4k" -c "read 0 1" f.qcow2' \
    "$F"'$QO -c "aio_read -P 1 0 4k" -c "aio_write -P 1 0 4k" -c aio_flush -c "aio_read -P 1 0 4k" f.qcow2' \
    "\$QO 'json:{\"driver\":\"null-co\",\"latency-ns\":1000000}' -c 'aio_read 0 4k' -c 'aio_read 4k 4k' -c 'sleep 100' -c length" \
    "\$QO 'json:{\"driver\":\"null-aio\"}' -c 'aio_read 0 4k' -c 'aio_write 4k 4k' -c length -c aio_flush" \
    "\$QO 'json:{\"driver\":\"null-co\"}' -c 'aio_read 0 4k' -c 'aio_write 4k 4k' -c length -c aio_flush"
finish
