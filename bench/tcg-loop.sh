#!/bin/bash
# TCG: a 9-instruction integer loop (ALU, shifts, imul, a load-add-store, dec/jnz) run natively
# and translated, 50M iterations each, best of 5. Flat guest memory (no softmmu TLB yet), so this measures
# the translated code itself, not the memory path.
set -u
cd "$(dirname "$0")/.."
bin=${VIREO_BUILD:-build}/tests/test-tcg-diff
[ -x "$bin" ] || { echo "missing $bin (make all)" >&2; exit 1; }
"$bin" --bench
