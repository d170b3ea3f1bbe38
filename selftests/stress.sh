#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make stress [DURATION=SECONDS] [CYCLES=N] [KERNELS="test kcsan bench"]
# [FUZZ=0]: the long versions of the race and unload tests that make check
# runs briefly (issue 8).
#
#  1. On the debug `test` kernel (lockdep, KASAN, kmemleak):
#     selftests/dmabuf_stress.c for DURATION seconds (default 600): racing
#     close/dup2, mmap, mremap, fork+exit with mappings, SCM_RIGHTS, SYNC,
#     SET_NAME, fdinfo, poll on sw_sync fences signalled by another thread,
#     EXPORT_SYNC_FILE, in-kernel attach/map/vmap and a holding importer,
#     and an rmmod loop that must keep failing; alongside it, in the same
#     guest and for the same time, the seeded fuzzer (selftests/fuzz-loop,
#     as make fuzz; FUZZ=0 leaves it out). Then the unload race (50
#     rounds, a thread opening the heap nodes and closing buffers while
#     the core is removed and loaded) and CYCLES load/use/unload cycles
#     (default 1000), judged by kmemleak.
#  2. On the `kcsan` kernel (KCSAN and lockdep instead of KASAN, and
#     DEBUG_KOBJECT_RELEASE with the debug-objects checks; built here, the
#     first time about 20 minutes): the same DURATION of racing threads and
#     fuzzer, with any data-race report failing the run; then the unload
#     race, where every kobject's release comes 1-4 s late, so a heap node
#     or module memory freed under a pending release is reported, in 20
#     rounds, and at most 30 load cycles: each successful rmmod waits for
#     the module's delayed release and each load runs under KCSAN, so a
#     removal costs about 40 s here (50 rounds had not finished after 34
#     minutes).
#  3. On the non-debug `bench` kernel, if it is built (make bench builds
#     it): the same CYCLES cycles, where the memory counters are exact, so
#     the second half of the cycles must not grow Slab or MemFree.
#
# The guests run on the host's TSC (clocksource=tsc with the host's
# frequency, as make bench does): a TCG guest cannot calibrate it and
# otherwise falls back to a jiffies clock that loses ticks while the host
# is busy, so that DURATION seconds of guest time took up to twice as long
# and under-counted the real time. The guest prints its clocksource.
#
# KERNELS picks the steps (two make stress runs with different KERNELS may
# run at once, each booting its own guest); SKIP_BUILD=1 boots the kernels
# and test modules as last built (without waiting for another build to
# finish). Any splat, unexpected errno or growth fails it. Prints the operation counts. KCSAN instruments the C
# code (the kernel, the C glue and the test module), not Rust code: it
# sees races where one side is C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/common.sh"
cd "$here/.."

duration=${DURATION:-600}
cycles=${CYCLES:-1000}
kernels=${KERNELS:-test kcsan bench}
fuzz=${FUZZ:-1}
skip_build=${SKIP_BUILD:-0}
bin=$CACHE/bin
mkdir -p "$bin"
# The heap charges its pages to the allocating cgroup (dmabuf_stress
# checks they all come back).
clock=(--append "$(host_clock_append "$bin") dma_heap.mem_accounting=1 dmabuf_rs.mem_accounting=1")
want() { case " $kernels " in *" $1 "*) return 0 ;; esac; return 1; }

# The guest's command: the racing threads for $duration seconds with the
# fuzzer alongside, then (if $1 is not empty) `dmabuf_heaps rmmod $1`.
guest_cmd() {
	local c="echo \"clocksource: \$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)\"; "
	[ "$fuzz" = 1 ] && c="${c}sh /tmp/fuzz-loop $duration 1 5000 >/tmp/fuzz.log 2>&1 & f=\$!; "
	c="$c/tmp/dmabuf_stress $duration; r=\$?"
	[ "$fuzz" = 1 ] && c="$c; wait \$f || r=1; grep -v '^ok ' /tmp/fuzz.log"
	[ -n "${1:-}" ] && c="$c; [ \$r = 0 ] && /tmp/dmabuf_heaps rmmod $1 || r=1"
	echo "$c; exit \$r"
}
puts=(--put "$bin/dmabuf_stress" --put "$bin/dmabuf_heaps" --put "$bin/dmabuf_fuzz" --put selftests/fuzz-loop)

compile() {
	local hdr=$CACHE/build-$1/usr-headers/include t
	for t in dmabuf_stress dmabuf_heaps dmabuf_fuzz; do
		# Through a temporary name: another make stress may be running.
		gcc -static -O2 -Wall -Werror -Wno-unused-result -pthread -I "$hdr" -o "$bin/$t.$$" "selftests/$t.c" ||
			die "compiling selftests/$t.c failed"
		mv -f "$bin/$t.$$" "$bin/$t"
	done
}

rc=0
if want test; then
	if [ "$skip_build" != 1 ]; then
		log "building the test kernel and the test modules if needed"
		scripts/build-kernel.sh test >/dev/null
		scripts/build-kmods.sh test >/dev/null
	fi
	compile test
	log "test: ${duration}s of racing threads$([ "$fuzz" = 1 ] && echo " and the fuzzer"), then the unload race and $cycles load cycles"
	selftests/vm-run --kernel test "${clock[@]}" --timeout $((duration * 2 + cycles * 4 + 900)) "${puts[@]}" -- \
		sh -c "$(guest_cmd "50 $cycles")" || rc=1
fi

if want kcsan; then
	[ "$skip_build" = 1 ] || log "building the kcsan kernel and its test modules if needed"
	if [ "$skip_build" = 1 ] || { scripts/build-kernel.sh kcsan >/dev/null && scripts/build-kmods.sh kcsan >/dev/null; }; then
		compile kcsan
		kcycles=$((cycles < 30 ? cycles : 30))
		log "kcsan: ${duration}s of racing threads$([ "$fuzz" = 1 ] && echo " and the fuzzer"), then the unload race and $kcycles load cycles with late kobject releases"
		selftests/vm-run --kernel kcsan "${clock[@]}" --timeout $((duration * 2 + kcycles * 10 + 2400)) "${puts[@]}" -- \
			sh -c "$(guest_cmd "20 $kcycles")" || rc=1
	else
		log "building the kcsan kernel failed"
		rc=1
	fi
fi

if want bench; then
	if [ -f "$CACHE/build-bench/arch/x86/boot/bzImage" ]; then
		compile bench
		log "bench: $cycles load cycles on the non-debug kernel (memory growth)"
		selftests/vm-run --kernel bench "${clock[@]}" --timeout $((cycles + 600)) --put "$bin/dmabuf_heaps" -- \
			/tmp/dmabuf_heaps rmmod 5 "$cycles" || rc=1
	else
		log "SKIP the memory-growth cycles: the bench kernel is not built (make bench builds it)"
	fi
fi
[ $rc = 0 ] && log "stress: passed" || log "stress: FAILED (see the lines above)"
exit $rc
