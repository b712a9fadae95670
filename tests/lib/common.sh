# Shell helpers for tests: source it, then call ok/fail/skip.
VIREO_ROOT=${VIREO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VIREO_BUILD=${VIREO_BUILD:-build}
case "$VIREO_BUILD" in /*) ;; *) VIREO_BUILD=$VIREO_ROOT/$VIREO_BUILD ;; esac
VIREO=${VIREO:-$VIREO_BUILD/qemu-system-x86_64}
VIREO_CACHE=${VIREO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vireo}
_fails=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: ${2:-}"; _fails=$((_fails + 1)); }
skip() { echo "skip $1: ${2:-}"; }
finish() { [ $_fails -eq 0 ]; }
