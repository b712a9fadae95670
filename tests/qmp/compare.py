"""The same QMP sessions against Vireo and real QEMU 7.2 (-machine none): every reply and
event must be the same, byte for byte once versions, timestamps and socket paths are masked.
Each case runs on a fresh connection; a sentinel command after the input marks its end."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../lib"))
from qmp import Emu, QMP, QEMU, check, expect, fail, finish, ok, skip  # noqa: E402

ARGS = ["-machine", "none", "-display", "none", "-S", "-name", "guest1",
        "-uuid", "12345678-1234-1234-1234-123456789ABC",
        "-chardev", "ringbuf,id=rb,size=16", "-chardev", "null,id=nul"]

SENTINEL = b'{"execute":"query-name","id":"sentinel"}'

# (name, negotiate first?, raw input)
CASES = [
    ("pre/query-status", False, '{"execute":"query-status"}'),
    ("pre/with-id", False, '{"execute":"query-status","id":7}'),
    ("pre/unknown", False, '{"execute":"nosuch","id":"a"}'),
    ("pre/bad-json", False, '{"execute": }'),
    ("pre/not-object", False, '[1]'),
    ("pre/lacks-execute", False, '{"id":1}'),
    ("pre/caps-bad-enable", False, '{"execute":"qmp_capabilities","arguments":{"enable":["x"]}}'),
    ("pre/caps-enable-type", False, '{"execute":"qmp_capabilities","arguments":{"enable":"oob"}}'),
    ("pre/caps-extra", False, '{"execute":"qmp_capabilities","arguments":{"x":1}}'),
    ("pre/exec-oob", False, '{"exec-oob":"qmp_capabilities"}'),
    ("caps/again", True, '{"execute":"qmp_capabilities","id":2}'),
    ("cmd/query-status", True, '{"execute":"query-status","id":"x"}'),
    ("cmd/single-quotes", True, "{'execute':'query-status','id':'y'}"),
    ("cmd/id-object", True, '{"execute":"query-name","id":{"a":[1,2.5,null,true]}}'),
    ("cmd/id-unicode", True, '{"execute":"query-name","id":"\\u00e9\\ud83d\\ude00/\\u007f"}'),
    ("cmd/id-numbers", True, '{"execute":"query-name","id":[1e3,-0,0.1,18446744073709551615,'
                             '-9223372036854775809,123456789012345678901234567890]}'),
    ("cmd/query-name", True, '{"execute":"query-name"}'),
    ("cmd/query-uuid", True, '{"execute":"query-uuid"}'),
    ("cmd/query-target", True, '{"execute":"query-target"}'),
    ("cmd/query-version", True, '{"execute":"query-version"}'),
    ("cmd/query-cpus-fast", True, '{"execute":"query-cpus-fast"}'),
    ("cmd/stop-prelaunch", True, '{"execute":"stop"}{"execute":"query-status"}'),
    ("cmd/hmp-status", True, '{"execute":"human-monitor-command",'
                             '"arguments":{"command-line":"info status"}}'),
    ("cmd/hmp-version", True, '{"execute":"human-monitor-command",'
                              '"arguments":{"command-line":"info version"}}'),
    ("cmd/hmp-name", True, '{"execute":"human-monitor-command",'
                           '"arguments":{"command-line":"info name"}}'),
    ("cmd/hmp-uuid", True, '{"execute":"human-monitor-command",'
                           '"arguments":{"command-line":"info uuid"}}'),
    ("cmd/hmp-cpus", True, '{"execute":"human-monitor-command",'
                           '"arguments":{"command-line":"info cpus"}}'),
    ("cmd/query-block", True, '{"execute":"query-block"}'),
    ("cmd/hmp-block", True, '{"execute":"human-monitor-command",'
                            '"arguments":{"command-line":"info block"}}'),
    ("cmd/hmp-qtree", True, '{"execute":"human-monitor-command",'
                            '"arguments":{"command-line":"info qtree"}}'),
    ("cmd/hmp-usb", True, '{"execute":"human-monitor-command",'
                          '"arguments":{"command-line":"info usb"}}'),
    ("cmd/hmp-unknown", True, '{"execute":"human-monitor-command",'
                              '"arguments":{"command-line":"nosuch 1 2"}}'),
    ("cmd/hmp-info-unknown", True, '{"execute":"human-monitor-command",'
                                   '"arguments":{"command-line":"info nosuch"}}'),
    ("cmd/hmp-empty", True, '{"execute":"human-monitor-command",'
                            '"arguments":{"command-line":""}}'),
    ("ringbuf/write-read", True,
     '{"execute":"ringbuf-write","arguments":{"device":"rb","data":"hello world, again"}}'
     '{"execute":"ringbuf-read","arguments":{"device":"rb","size":100}}'
     '{"execute":"ringbuf-read","arguments":{"device":"rb","size":100}}'),
    ("ringbuf/base64", True,
     '{"execute":"ringbuf-write","arguments":{"device":"rb","data":"aGk=","format":"base64"}}'
     '{"execute":"ringbuf-read","arguments":{"device":"rb","size":1,"format":"base64"}}'
     '{"execute":"ringbuf-read","arguments":{"device":"rb","size":5,"format":"utf8"}}'),
    ("ringbuf/bad-base64", True,
     '{"execute":"ringbuf-write","arguments":{"device":"rb","data":"!!","format":"base64"}}'),
    ("ringbuf/size-zero", True, '{"execute":"ringbuf-read","arguments":{"device":"rb","size":0}}'),
    ("ringbuf/not-found", True, '{"execute":"ringbuf-read","arguments":{"device":"x","size":1}}'),
    ("ringbuf/not-ringbuf", True,
     '{"execute":"ringbuf-write","arguments":{"device":"nul","data":"x"}}'),
    ("screendump/no-console", True,
     '{"execute":"screendump","arguments":{"filename":"/nonexistent/x.ppm"}}'),
    ("screendump/head-alone", True,
     '{"execute":"screendump","arguments":{"filename":"/nonexistent/x.ppm","head":1}}'),
    ("screendump/no-device", True,
     '{"execute":"screendump","arguments":{"filename":"/nonexistent/x","device":"v"}}'),
    ("screendump/bad-format", True,
     '{"execute":"screendump","arguments":{"filename":"/nonexistent/x","format":"bmp"}}'),
    ("screendump/hmp", True,
     '{"execute":"human-monitor-command","arguments":{"command-line":"screendump /nonexistent/x"}}'
     '{"execute":"human-monitor-command","arguments":{"command-line":"screendump"}}'
     '{"execute":"human-monitor-command","arguments":{"command-line":"screendump /x -f"}}'
     '{"execute":"human-monitor-command","arguments":{"command-line":"screendump /x -f bmp"}}'
     '{"execute":"human-monitor-command","arguments":{"command-line":"screendump /x d 1 2"}}'
     '{"execute":"human-monitor-command","arguments":{"command-line":"screendump /x -f png d"}}'
     '{"execute":"human-monitor-command","arguments":{"command-line":"help screendump"}}'),
    ("args/missing", True, '{"execute":"human-monitor-command"}'),
    ("args/missing-2", True, '{"execute":"ringbuf-read","arguments":{"device":"rb"}}'),
    ("args/type-str", True, '{"execute":"human-monitor-command","arguments":{"command-line":1}}'),
    ("args/type-int", True, '{"execute":"ringbuf-read","arguments":{"device":"rb","size":"1"}}'),
    ("args/type-int-float", True,
     '{"execute":"ringbuf-read","arguments":{"device":"rb","size":1.5}}'),
    ("args/type-int-huge", True,
     '{"execute":"ringbuf-read","arguments":{"device":"rb","size":99999999999999999999}}'),
    ("args/enum", True,
     '{"execute":"ringbuf-read","arguments":{"device":"rb","size":1,"format":"foo"}}'),
    ("args/enum-type", True,
     '{"execute":"ringbuf-read","arguments":{"device":"rb","size":1,"format":1}}'),
    ("args/unexpected", True,
     '{"execute":"human-monitor-command","arguments":{"command-line":"x","bogus":1}}'),
    ("args/unexpected-noargs", True, '{"execute":"query-status","arguments":{"x":1}}'),
    ("args/two-unexpected", True, '{"execute":"query-status","arguments":{"zz":1,"aa":2}}'),
    ("args/list-elem-type", True, '{"execute":"qmp_capabilities","arguments":{"enable":[1]}}'),
    ("req/unknown", True, '{"execute":"nosuch","id":1}'),
    ("req/lacks-execute", True, '{"id":8}'),
    ("req/extra", True, '{"execute":"query-status","extra":1}'),
    ("req/extra-order", True, '{"zzz":1,"execute":"query-status","aaa":2}'),
    ("req/control", True, '{"execute":"query-status","control":{}}'),
    ("req/exec-type", True, '{"execute":1}'),
    ("req/args-type", True, '{"execute":"stop","arguments":[]}'),
    ("req/exec-oob", True, '{"exec-oob":"query-status"}'),
    ("req/array", True, '[1]'),
    ("req/scalars", True, '1 "x" null'),
    ("json/expecting", True, '{"execute": }'),
    ("json/colon", True, '{"execute" "x"}'),
    ("json/key", True, '{1:2}'),
    ("json/trailing-comma", True, '{"a":1,}'),
    ("json/list-sep", True, '[1 2]'),
    ("json/dict-sep", True, '{"a":1 "b":2}'),
    ("json/close", True, '}]'),
    ("json/keyword", True, 'xyz {"execute":"query-status"}'),
    ("json/stray", True, '{"a":@}'),
    ("json/control", True, '\x01{"execute":"query-status"}'),
    ("json/ff", True, '\xff{"execute":"query-status"}'),
    ("json/zero", True, '{"a" : 01}'),
    ("json/minus", True, '{"a": -}'),
    ("json/dot", True, '{"a": 1.}'),
    ("json/escape", True, '{"a":"\\x"}'),
    ("json/uescape", True, '{"a":"\\u12"}'),
    ("json/surrogate", True, '{"a":"\\ud800"}'),
    ("json/utf8", True, '{"a":"\xc3("}'),
    ("json/duplicate", True, '{"a":1,"a":2}'),
    ("json/string-ctrl", True, '{"a":"x\x01y"}'),
    ("json/nesting", True, "[" * 1025 + "]" * 3),
    ("json/nesting-ok", True, "[" * 1024 + "]" * 1024),
    ("balloon/not-active", True, '{"execute":"balloon","arguments":{"value":1}}'
                                 '{"execute":"query-balloon"}'),
    ("balloon/args", True, '{"execute":"balloon"}{"execute":"balloon","arguments":{"value":"x"}}'),
    ("balloon/hmp", True, ''.join('{"execute":"human-monitor-command","arguments":'
                                  '{"command-line":"%s"}}' % c for c in
                                  ("info balloon", "balloon", "balloon 100", "balloon -5",
                                   "balloon 1G", "balloon 0"))),
    ("hotplug/no-pci-bus", True, '{"execute":"device_add","arguments":{"driver":"edu"}}'),
    ("hotplug/del-not-found", True, '{"execute":"device_del","arguments":{"id":"x"}}'),
    ("state/stop-cont", True, '{"execute":"cont"}{"execute":"stop"}{"execute":"query-status"}'
                              '{"execute":"stop"}{"execute":"cont"}{"execute":"query-status"}'),
]

# ---- CPU models (query-cpu-model-expansion) ----
# byte for byte as QEMU 7.2's under TCG: an alias (the unversioned name), an AMD model with its
# own caches, base, props over a model (features, an alias name, family, model-id), the errors
X = '{"execute":"query-cpu-model-expansion","arguments":%s}'
CASES += [
    ("cpu/static-Skylake-Client", True, X % '{"type":"static","model":{"name":"Skylake-Client"}}'),
    ("cpu/full-EPYC-Rome-v2", True, X % '{"type":"full","model":{"name":"EPYC-Rome-v2"}}'),
    ("cpu/static-base", True, X % '{"type":"static","model":{"name":"base"}}'),
    ("cpu/full-props", True, X % '{"type":"full","model":{"name":"qemu64","props":'
                                  '{"avx":true,"sse2":false,"xd":false,"sse4_1":true,'
                                  '"family":6,"model-id":"x"}}}'),
    ("cpu/errors", True, ''.join(X % a for a in (
        '{"type":"static"}', '{"model":{"name":"qemu64"}}', '{"type":"bogus","model":{"name":"qemu64"}}',
        '{"type":"static","model":"qemu64"}', '{"type":"static","model":{}}',
        '{"type":"static","model":{"name":"qemu64","x":1}}',
        '{"type":"full","model":{"name":"nosuch"}}',
        '{"type":"static","model":{"name":"qemu64","props":{"nosuch":true}}}',
        '{"type":"static","model":{"name":"qemu64","props":{"avx":3}}}',
        '{"type":"full","model":{"name":"qemu64","props":{"family":"6"}}}'))),
]


def compare_cpu(v, q):
    """query-cpu-definitions and max's expansion beside QEMU 7.2's under TCG: equal but for the
    features QEMU's TCG has and Vireo's translator lacks (tcg_gap in target/x86/cpu-models.c),
    which Vireo's unavailable-features must name (and only those) and max must not have."""
    import re
    src = open(os.path.join(os.path.dirname(__file__), "../../target/x86/cpu-models.c")).read()
    gap = set(" ".join(re.findall(r'"([^"]*)"', src.split("tcg_gap[] =")[1].split(";")[0])).split())
    gap.add("pclmuldq")  # QEMU's other name for pclmulqdq
    cv, cq = v.qmp(), q.qmp()
    cv.negotiate()
    cq.negotiate()
    a, b = cv.cmd("query-cpu-definitions")["return"], cq.cmd("query-cpu-definitions")["return"]
    bad = []
    for x, y in zip(a, b):
        extra = [f for f in x["unavailable-features"] if f not in y["unavailable-features"]]
        rest = [f for f in x["unavailable-features"] if f not in extra]
        if (dict(x, **{"unavailable-features": []}) != dict(y, **{"unavailable-features": []}) or
                rest != y["unavailable-features"] or not set(extra) <= gap):
            bad.append((x, y))
    check("compare/cpu/definitions", len(a) == len(b) == 132 and not bad, repr(bad[:2])[:600])
    for t in ("static", "full"):
        args = {"type": t, "model": {"name": "max"}}
        x = cv.cmd("query-cpu-model-expansion", args)["return"]["model"]["props"]
        y = cq.cmd("query-cpu-model-expansion", args)["return"]["model"]["props"]
        diff = {k for k in set(x) | set(y) if x.get(k) != y.get(k)}
        check("compare/cpu/max-" + t, list(x) == list(y) and diff <= gap and
              all(y[k] and not x[k] for k in diff), repr(sorted(diff - gap)))
    cv.close()
    cq.close()


# device_add/device_del on the pc machine (paused at start, a tiny kernel that halts), in order on
# one emulator: QEMU 7.2's errors for each way a hotplug can fail, then del while the guest has not
# ejected (pending), by QOM path, and HMP's forms.
PC_ARGS = ["-nodefaults", "-display", "none", "-S", "-accel", "tcg", "-smp", "2",
           "-device", "isa-serial,id=s1", "-device", "isa-debug-exit,id=dbg"]
D = '{"execute":"device_add","arguments":%s}'
U = '{"execute":"device_del","arguments":%s}'
H = '{"execute":"human-monitor-command","arguments":{"command-line":"%s"}}'
PC_CASES = [
    ("add", D % '{"driver":"edu","id":"e1"}'),
    ("duplicate-id", D % '{"driver":"edu","id":"e1"}'),
    ("slot-in-use", D % '{"driver":"edu","id":"e2","addr":"2"}'),
    ("function-in-use", D % '{"driver":"edu","id":"e3","addr":"1.1"}'),
    ("isa-no-hotplug", D % '{"driver":"isa-debug-exit","id":"x"}'),
    ("isa-no-hotplug-2", D % '{"driver":"isa-serial","id":"x"}'),
    ("not-pluggable", D % '{"driver":"i440FX","id":"x"}'),
    ("unknown-driver", D % '{"driver":"nope","id":"x"}'),
    ("driver-int", D % '{"driver":5}'),
    ("no-driver", '{"execute":"device_add"}'),
    ("bus-not-found", D % '{"driver":"edu","bus":"pci.1"}'),
    ("wrong-bus", D % '{"driver":"edu","bus":"isa.0"}'),
    ("bad-prop", D % '{"driver":"edu","id":"e5","foo":"1"}'),
    ("bad-value", D % '{"driver":"edu","id":"e6","dma_mask":"x"}'),
    ("bool-for-int", D % '{"driver":"edu","id":"e6","dma_mask":true}'),
    ("bad-id", D % '{"driver":"edu","id":"1x"}'),
    ("int-value", D % '{"driver":"edu","id":"e6","dma_mask":5}'),
    ("int-id-ignored", D % '{"driver":"edu","id":5}'),
    ("list-value-ignored", D % '{"driver":"edu","id":"e8","dma_mask":[1]}'),
    ("del-unknown", U % '{"id":"nosuch"}'),
    ("del", U % '{"id":"e6"}'),
    ("del-pending", U % '{"id":"e6"}'),
    ("del-path", U % '{"id":"/machine/peripheral/e1"}'),
    ("del-no-id", '{"execute":"device_del"}'),
    ("del-extra", U % '{"id":"e1","x":1}'),
    ("fill-bus", "".join(D % ('{"driver":"edu","id":"f%d"}' % i) for i in range(26))),
    ("bus-full", D % '{"driver":"edu","id":"full"}'),
    ("hmp-add-duplicate", H % "device_add edu,id=e8"),
    ("hmp-add-isa", H % "device_add isa-debug-exit"),
    ("hmp-add-unknown", H % "device_add foo"),
    ("hmp-del-unknown", H % "device_del nosuch"),
    ("hmp-del", H % "device_del e8"),
]


def run_case(emu, neg, raw):
    q = emu.qmp()
    out = [q.greeting]
    if neg:
        q.send_raw(b'{"execute":"qmp_capabilities"}')
        out.append(q.recv())
    q.send_raw(raw.encode("latin1") + b"\n" + SENTINEL)
    while True:
        try:
            line = q.recv_line(timeout=10)
        except Exception as e:  # noqa: BLE001
            out.append("EXC %r" % e)
            break
        m = json.loads(line)
        if m.get("id") == "sentinel":
            break
        out.append(line.decode("latin1"))
    q.close()
    return out


def masked(lines, tmp):
    res = []
    for m in lines:
        if isinstance(m, dict):
            m = json.dumps(m)
        if m.startswith("{"):
            obj = json.loads(m)
            if "timestamp" in obj:
                obj["timestamp"] = "T"
                m = json.dumps(obj)
            if "QMP" in obj:
                m = "GREETING"
            r = obj.get("return")
            if isinstance(r, dict) and "package" in r:
                m = "VERSION"
        m = m.replace(tmp, "TMP")
        import re
        m = re.sub(r'\\"\d+\.\d+\.\d+[^\\"]*\\r\\n"', '"VERSION\\r\\n"', m)
        m = re.sub(r'"\d+\.\d+\.\d+[^"]*\\r\\n"', '"VERSION\\r\\n"', m)
        res.append(m)
    return res


def compare_pc():
    import tempfile
    import subprocess
    with tempfile.TemporaryDirectory() as work:
        kernel = os.path.join(work, "hlt")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "../lib/mkkernel.py"),
                        kernel, "hlt-loop"], check=True)
        args = PC_ARGS + ["-kernel", kernel]
        v = Emu(args)
        q = Emu(args, binary=QEMU)
        try:
            v.qmp().close()
            q.qmp().close()
            for name, raw in PC_CASES:
                a = masked(run_case(v, True, raw), v.tmp)
                b = masked(run_case(q, True, raw), q.tmp)
                if a == b:
                    ok("compare/hotplug/" + name)
                else:
                    fail("compare/hotplug/" + name, "vireo %r\n    qemu  %r" % (a, b))
            compare_qom(v, q)
        finally:
            v.stop()
            q.stop()


def compare_qom(v, q):
    """Introspection on the machine the hotplug cases left (peripheral devices with ids, an
    anonymous one, ISA devices from the command line), beside QEMU 7.2. Lists are compared as
    sets: QEMU's order is its hash tables'. qom-list-types: Vireo lists only the types it has, so
    QEMU's answer restricted to those names must be Vireo's answer, entry for entry."""
    cv, cq = v.qmp(), q.qmp()
    cv.negotiate()
    cq.negotiate()

    def both(cmd, args=None):
        return cv.cmd(cmd, args), cq.cmd(cmd, args)

    def key(r):
        if "return" in r and isinstance(r["return"], list):
            return sorted(json.dumps(x, sort_keys=True) for x in r["return"])
        return r

    known = {t["name"] for t in cv.cmd("qom-list-types", {"abstract": True})["return"]}
    check("compare/qom/types-known", {"edu", "isa-serial", "PIIX4_PM", "pci-device"} <= known, repr(known))
    for args in ({}, {"abstract": True}, {"implements": "pci-device"},
                 {"implements": "pci-device", "abstract": True}, {"implements": "isa-device"},
                 {"implements": "device", "abstract": True}, {"implements": "conventional-pci-device"},
                 {"implements": "interface", "abstract": True}, {"implements": "machine"},
                 {"implements": "hotplug-handler", "abstract": True}, {"implements": "intctrl"},
                 {"implements": "acpi-dev-aml-interface", "abstract": True},
                 {"implements": "resettable", "abstract": True}, {"implements": "nosuch"},
                 {"abstract": "x"}):
        a, b = both("qom-list-types", args)
        if "return" in b:
            b = {"return": [e for e in b["return"] if e["name"] in known]}
        expect("compare/qom/list-types " + json.dumps(args, sort_keys=True), key(a), key(b))
    # apic and isa-i8259 differ from QEMU's: Vireo's APIC has no vapic (the kvmvapic option ROM)
    # nor a settable version, and one isa-i8259 is both 8259s (QEMU: two, master= says which)
    devices = sorted(t["name"] for t in cv.cmd("qom-list-types", {"implements": "device"})["return"]
                     if t["name"] not in ("apic", "isa-i8259"))
    for t in devices + ["nosuch", "pci-device", "pc-i440fx-7.2-machine", "conventional-pci-device"]:
        a, b = both("device-list-properties", {"typename": t})
        expect("compare/qom/device-list-properties " + t, key(a), key(b))
    a, b = both("device-list-properties")
    expect("compare/qom/device-list-properties no-typename", a, b)
    paths = ["/", "/machine/peripheral", "/machine/peripheral-anon", "/machine/peripheral/s1",
             "/machine/peripheral/dbg", "/machine/peripheral/f0", "/machine/peripheral-anon/device[0]",
             "f1", "/machine//peripheral/f2/", "/nosuch", "/machine/peripheral/nosuch", "nosuch"]
    for path in paths:
        a, b = both("qom-list", {"path": path})
        expect("compare/qom/list " + path, key(a), key(b))
        if "return" not in b:
            continue
        # every property's value
        bad = []
        for e in b["return"]:
            a2, b2 = both("qom-get", {"path": path, "property": e["name"]})
            if a2 != b2:
                bad.append((e["name"], a2, b2))
        check("compare/qom/get " + path, not bad, repr(bad[:4]))
    for args in ({"path": "/machine", "property": "type"}, {"path": "/machine", "property": "peripheral"},
                 {"path": "/machine/peripheral/f0", "property": "nosuch"},
                 {"path": "/nosuch", "property": "type"}, {"path": "/machine"}, {}):
        a, b = both("qom-get", args)
        expect("compare/qom/get " + json.dumps(args, sort_keys=True), a, b)
    a, b = both("qom-list")
    expect("compare/qom/list no-path", a, b)
    cv.close()
    cq.close()


# qom-set and the balloon's guest statistics (no guest driver: every statistic -1, last-update
# 0), beside QEMU 7.2, on a paused machine of their own
BALLOON_ARGS = ["-nodefaults", "-display", "none", "-S", "-accel", "tcg",
                "-device", "virtio-balloon-pci,id=bal", "-device", "edu,id=e1", "-device", "edu",
                "-device", "isa-serial,id=s1"]
B = "/machine/peripheral/bal"
BALLOON_CASES = [
    ("qom-get", {"path": B, "property": "guest-stats"}),
    ("qom-get", {"path": B, "property": "guest-stats-polling-interval"}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": 2}),
    ("qom-get", {"path": B, "property": "guest-stats-polling-interval"}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": -1}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": 4294967296}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": 1 << 64}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": "5"}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": 1.5}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": 4294967295}),
    ("qom-get", {"path": B, "property": "guest-stats-polling-interval"}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": 0}),
    ("qom-get", {"path": B, "property": "guest-stats-polling-interval"}),
    ("qom-set", {"path": B, "property": "guest-stats", "value": 1}),
    ("qom-set", {"path": B, "property": "nosuch", "value": 1}),
    ("qom-set", {"path": B, "property": "type", "value": "x"}),
    ("qom-set", {"path": B, "property": "hotplugged", "value": True}),
    ("qom-set", {"path": B, "property": "parent_bus", "value": "x"}),
    ("qom-set", {"path": B, "property": "virtio-backend", "value": "x"}),
    ("qom-set", {"path": B, "property": "addr", "value": "0x9"}),
    ("qom-set", {"path": B, "property": "deflate-on-oom", "value": True}),
    ("qom-set", {"path": "/machine/peripheral-anon/device[0]", "property": "addr", "value": "9"}),
    ("qom-set", {"path": "/machine/peripheral/e1", "property": "addr", "value": "9"}),
    ("qom-set", {"path": "/machine/peripheral/s1", "property": "iobase", "value": 5}),
    ("qom-set", {"path": "/machine/peripheral/nosuch", "property": "x", "value": 1}),
    ("qom-set", {"path": "/", "property": "type", "value": "x"}),
    ("qom-set", {"path": "/", "property": "nosuch", "value": 1}),
    ("qom-set", {"path": "/machine", "property": "peripheral", "value": "x"}),
    ("qom-set", {"path": "/machine/peripheral", "property": "bal", "value": "x"}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval"}),
    ("qom-set", {"path": B, "value": 2}),
    ("qom-set", {"path": B, "property": "guest-stats-polling-interval", "value": 2, "x": 1}),
]


def compare_balloon():
    v = Emu(BALLOON_ARGS)
    q = Emu(BALLOON_ARGS, binary=QEMU)
    try:
        cv, cq = v.qmp(), q.qmp()
        cv.negotiate()
        cq.negotiate()
        for i, (cmd, args) in enumerate(BALLOON_CASES):
            name = "compare/balloon-qom/%02d-%s %s" % (i, cmd, args.get("property"))
            expect(name, cv.cmd(cmd, args), cq.cmd(cmd, args))
    finally:
        v.stop()
        q.stop()


def main():
    if not os.path.exists(QEMU):
        skip("qmp-compare", QEMU + " not installed")
        return
    v = Emu(ARGS)
    q = Emu(ARGS, binary=QEMU)
    try:
        v.qmp().close()
        q.qmp().close()
        for name, neg, raw in CASES:
            a = masked(run_case(v, neg, raw), v.tmp)
            b = masked(run_case(q, neg, raw), q.tmp)
            if a == b:
                ok("compare/" + name)
            else:
                fail("compare/" + name, "vireo %r\n    qemu  %r" % (a, b))
        compare_cpu(v, q)
        # query-chardev: same set (order is QEMU's hash order)
        for e in (v, q):
            c = e.qmp()
            c.negotiate()
            e.chardevs = sorted(json.dumps(x, sort_keys=True).replace(e.tmp, "TMP")
                                for x in c.cmd("query-chardev")["return"])
            e.machines = c.cmd("query-machines")["return"]
            c.close()
        if v.chardevs == q.chardevs:
            ok("compare/query-chardev")
        else:
            fail("compare/query-chardev", "vireo %r qemu %r" % (v.chardevs, q.chardevs))
        vm = {m["name"]: m for m in v.machines}
        qm = {m["name"]: m for m in q.machines}
        same = all(k in qm and {x: y for x, y in vm[k].items() if x != "hotpluggable-cpus"} ==
                   {x: y for x, y in qm[k].items() if x != "hotpluggable-cpus"} for k in vm)
        if same:
            ok("compare/query-machines")
        else:
            fail("compare/query-machines", "%r vs %r" % (vm, {k: qm.get(k) for k in vm}))
        compare_pc()
        compare_balloon()
        # quit: SHUTDOWN event, then the reply, then EOF; both exit 0
        for e in (v, q):
            c = e.qmp()
            c.negotiate()
            c.send_raw('{"execute":"quit","id":9}')
            msgs = []
            try:
                while True:
                    msgs.append(c.recv())
            except EOFError:
                msgs.append("EOF")
            e.quit = masked(msgs, e.tmp)
            e.rc = e.wait()
        if v.quit == q.quit and v.rc == q.rc == 0:
            ok("compare/quit")
        else:
            fail("compare/quit", "vireo %r rc %r, qemu %r rc %r" % (v.quit, v.rc, q.quit, q.rc))
    finally:
        v.stop()
        q.stop()


main()
finish()
