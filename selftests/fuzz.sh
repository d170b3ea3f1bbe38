#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make fuzz [DURATION=SECONDS] [SEED=N] [KERNEL=test|stock-test|kcsan]
# [SKIP_BUILD=1]: runs the seeded fuzzer (selftests/dmabuf_fuzz.c) in one
# VM, seed after seed from SEED, 5000 operations each, until DURATION
# seconds of guest time have passed (the guest runs on the host's TSC, so
# that is real time), and reports the seeds and operations run. Any kernel splat,
# leaked fd or fuzzer failure stops it with a non-zero status; rerun one
# seed with `dmabuf_fuzz SEED 5000 -v` to see its operations.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/common.sh"
cd "$here/.."

duration=${DURATION:-600}
seed=${SEED:-1}
kernel=${KERNEL:-test}
ops=5000

if [ "${SKIP_BUILD:-0}" != 1 ]; then
	log "building the $kernel kernel and the test modules if needed"
	scripts/build-kernel.sh "$kernel" >/dev/null
	scripts/build-kmods.sh "$kernel" >/dev/null
fi
bin=$CACHE/bin
mkdir -p "$bin"
# Through a temporary name: a make stress may be running.
gcc -static -O2 -Wall -Werror -Wno-unused-result -I "$CACHE/build-$kernel/usr-headers/include" \
	-o "$bin/dmabuf_fuzz.$$" selftests/dmabuf_fuzz.c || die "compiling selftests/dmabuf_fuzz.c failed"
mv -f "$bin/dmabuf_fuzz.$$" "$bin/dmabuf_fuzz"

log "fuzzing $kernel for ${duration}s from seed $seed ($ops operations per seed)"
selftests/vm-run --kernel "$kernel" --append "$(host_clock_append "$bin")" --timeout $((duration * 3 + 600)) --put "$bin/dmabuf_fuzz" \
	--put selftests/fuzz-loop -- sh /tmp/fuzz-loop "$duration" "$seed" "$ops"
