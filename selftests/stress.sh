#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make stress [DURATION=SECONDS] [CYCLES=N]: the long versions of the race
# and unload tests that make check runs briefly (issue 8).
#
#  1. On the debug `test` kernel (lockdep, KASAN, kmemleak):
#     selftests/dmabuf_stress.c for DURATION seconds (default 600): racing
#     close/dup2, mmap, mremap, fork+exit with mappings, SCM_RIGHTS, SYNC,
#     SET_NAME, fdinfo, poll on sw_sync fences signalled by another thread,
#     EXPORT_SYNC_FILE, in-kernel attach/map/vmap and a holding importer,
#     and an rmmod loop that must keep failing; then the unload race (50
#     rounds) and CYCLES load/use/unload cycles (default 1000), judged by
#     kmemleak.
#  2. On the `kcsan` kernel (KCSAN and lockdep instead of KASAN; built
#     here, the first time about 20 minutes): the same DURATION of racing
#     threads, with any data-race report failing the run.
#  3. On the non-debug `bench` kernel, if it is built (make bench builds
#     it): the same CYCLES cycles, where the memory counters are exact, so
#     the second half of the cycles must not grow Slab or MemFree.
#
# Any splat, unexpected errno or growth fails it. Prints the operation
# counts. KCSAN instruments the C code (the kernel, the C glue and the
# test module), not Rust code: it sees races where one side is C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/common.sh"
cd "$here/.."

duration=${DURATION:-600}
cycles=${CYCLES:-1000}
bin=$CACHE/bin
mkdir -p "$bin"

log "building the test kernel and the test modules if needed"
scripts/build-kernel.sh test >/dev/null
scripts/build-kmods.sh test >/dev/null
hdr=$CACHE/build-test/usr-headers/include
for t in dmabuf_stress dmabuf_heaps; do
	gcc -static -O2 -Wall -Werror -Wno-unused-result -pthread -I "$hdr" -o "$bin/$t" "selftests/$t.c" ||
		die "compiling selftests/$t.c failed"
done

rc=0
log "test: ${duration}s of racing threads, then the unload race and $cycles load cycles"
selftests/vm-run --kernel test --timeout $((duration * 2 + cycles * 4 + 900)) \
	--put "$bin/dmabuf_stress" --put "$bin/dmabuf_heaps" -- \
	sh -c "/tmp/dmabuf_stress $duration && /tmp/dmabuf_heaps rmmod 50 $cycles" || rc=1

log "building the kcsan kernel and its test modules if needed"
if scripts/build-kernel.sh kcsan >/dev/null && scripts/build-kmods.sh kcsan >/dev/null; then
	log "kcsan: ${duration}s of racing threads"
	selftests/vm-run --kernel kcsan --timeout $((duration * 2 + 900)) --put "$bin/dmabuf_stress" -- \
		/tmp/dmabuf_stress "$duration" || rc=1
else
	log "building the kcsan kernel failed"
	rc=1
fi

if [ -f "$CACHE/build-bench/arch/x86/boot/bzImage" ]; then
	log "bench: $cycles load cycles on the non-debug kernel (memory growth)"
	selftests/vm-run --kernel bench --timeout $((cycles + 600)) --put "$bin/dmabuf_heaps" -- \
		/tmp/dmabuf_heaps rmmod 5 "$cycles" || rc=1
else
	log "SKIP the memory-growth cycles: the bench kernel is not built (make bench builds it)"
fi
[ $rc = 0 ] && log "stress: passed" || log "stress: FAILED (see the lines above)"
exit $rc
