#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# profile.sh OP HEAP SIZE [N] [KERNELS]
#
# Where does one bench row spend its instructions, function by function,
# on each kernel? Boots each of KERNELS ("stock-bench bench" by default;
# "stock-test test" works too) once under QEMU -icount with the
# insn-profile TCG plugin (insn-profile.c), runs the row's operation OP
# N times (1000 by default) between the plugin's markers
# (dmabuf-bench profile), symbolizes the kernel addresses with the
# kernel's System.map and the modules' /proc/kallsyms, and prints per
# kernel the instructions per operation and the top functions, then the
# differences per function between the first kernel and the others
# (profile-report.py). See Documentation/benchmarks.rst, "Profiling a row".
#
#   OP    ioctl-floor ioctl-floor-heap alloc-close alloc close mmap-touch
#         sync sync-importer set-name export-sync-file import-sync-file
#         attach-map vmap-first vmap-repeat dup-close fdinfo
#         (prof_ops in dmabuf-bench.c names the row of each)
#   HEAP  system or default_cma_region (or cma)
#   SIZE  bytes, or with a K or M suffix: 4K, 64K, 1M
#
# Settings (environment): PROFILE_OUT (results folder, default
# $CACHE/profile/<date>-OP-HEAP-SIZE), PROFILE_SMP (vCPUs, 2 as in make
# bench), PROFILE_TOP (functions listed, 40), PROFILE_BATCHES (batches
# of the reference timing, 10), PROFILE_TIMEOUT (seconds per boot, 1800).
# It builds no kernel: the kernels and their test modules must be built
# (make bench builds stock-bench and bench, make check the test ones).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/common.sh"
cd "$REPO"

usage() {
	die "usage: selftests/bench/profile.sh OP HEAP SIZE [N] [KERNELS]  (e.g. attach-map system 4K 1000 \"stock-test test\"); OP is one of: $(ops | tr '\n' ' ')"
}
# The operations dmabuf-bench's profile mode knows (its prof_ops table).
ops() { sed -n 's/^\t{ "\([a-z-]*\)", ".*/\1/p' "$here/dmabuf-bench.c"; }

[ $# -ge 3 ] && [ $# -le 5 ] || usage
op=$1 heap=$2 size=$3 n=${4:-1000} kernels=${5:-stock-bench bench}
ops | grep -qx -- "$op" || die "unknown operation '$op'; one of: $(ops | tr '\n' ' ')"
case $heap in system | default_cma_region | cma) ;; *) die "unknown heap '$heap' (system, default_cma_region or cma)" ;; esac
[[ $size =~ ^[1-9][0-9]*[KkMm]?$ ]] || die "bad size '$size' (bytes, or with K or M: 4K, 1M)"
[[ $n =~ ^[1-9][0-9]*$ ]] || die "bad count N '$n' (a positive number of operations)"
[ -n "$kernels" ] || usage
smp=${PROFILE_SMP:-2}
top=${PROFILE_TOP:-40}
batches=${PROFILE_BATCHES:-10}
timeout=${PROFILE_TIMEOUT:-1800}
out=${PROFILE_OUT:-$CACHE/profile/$(date -u +%Y-%m-%dT%H%M%SZ)-$op-$heap-$size}

step() { printf '[profile] %s\n' "$*" >&2; }

for k in $kernels; do
	O=$CACHE/build-$k
	[ -f "$O/arch/x86/boot/bzImage" ] ||
		die "the $k kernel is not built: scripts/build-kernel.sh $k (make bench builds stock-bench and bench)"
	[ -f "$O/System.map" ] || die "no System.map in $O: rebuild the $k kernel"
	[ -d "$O/usr-headers/include" ] || die "no installed uapi headers in $O/usr-headers: rebuild the $k kernel"
	[ -f "$CACHE/kmod-$k/dmabuf_bench.ko" ] ||
		die "no dmabuf_bench.ko for $k in $CACHE/kmod-$k: scripts/build-kmods.sh $k"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is not installed (scripts/setup-host.sh)"

mkdir -p "$out/logs" || die "cannot create the results folder $out"
step "results folder: $out"
t_start=$(date +%s)

step "compiling the QEMU plugin selftests/bench/insn-profile.c"
gcc -O2 -shared -fPIC -Wall -Werror -o "$out/insn-profile.so" "$here/insn-profile.c" -lpthread \
	2>"$out/logs/cc.log" || {
	cat "$out/logs/cc.log" >&2
	die "compiling the plugin failed"
}

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	if git rev-parse -q HEAD >/dev/null 2>&1; then
		echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Kbuild dma_buf heaps sys entry uapi || echo ' (core sources modified)')"
	fi
	echo "operation: $op, heap: $heap, size: $size, N: $n"
	echo "kernels: $kernels (as last built)"
	echo "vCPUs: $smp; reference batches: $batches"
	echo "qemu: $(qemu-system-x86_64 --version | head -n1)"
} >"$out/meta.txt"

nk=$(echo $kernels | wc -w) i=0
for k in $kernels; do
	i=$((i + 1))
	mkdir -p "$out/$k"
	step "compiling dmabuf-bench against the $k kernel's uapi headers"
	gcc -static -O2 -Wall -Werror -Wno-unused-result -pthread -I "$CACHE/build-$k/usr-headers/include" \
		-o "$out/$k/dmabuf-bench" "$here/dmabuf-bench.c" 2>>"$out/logs/cc.log" || {
		cat "$out/logs/cc.log" >&2
		die "compiling the benchmark program for $k failed"
	}
	cp "$CACHE/build-$k/System.map" "$out/System.map-$k"
	rm -f "$out/counts-$k.txt"
	step "[$i/$nk] booting $k under -icount with the profiler: $op on $heap, $size, N=$n (a debug kernel takes 3-5 minutes)"
	t0=$(date +%s)
	set +e
	selftests/vm-run --kernel "$k" --icount --smp "$smp" --timeout "$timeout" \
		--append "clocksource=tsc tsc=reliable tsc_early_khz=1000000" \
		--plugin "$out/insn-profile.so,out=$out/counts-$k.txt" \
		--qemu-cmdline "$out/qemu-$k.cmdline" \
		--put "$here/guest-profile.sh" --put "$out/$k/dmabuf-bench" \
		-- sh /tmp/guest-profile.sh "$op" "$heap" "$size" "$n" --batches "$batches" 2>&1 |
		tr -d '\r' | tee "$out/logs/$k.log" |
		sed -u -n 's/^P,\(.*\)/[profile]     \1/p; s/^E,\(.*\)/[profile]     error: \1/p; s/^T,\(.*\)/[profile]     \1/p; s/^vm-run: \(.*\)/[profile]     vm-run: \1/p' >&2
	rc=${PIPESTATUS[0]}
	set -e
	step "  $k took $(($(date +%s) - t0)) s"
	if [ "$rc" != 0 ] || ! grep -q '^T,profiled,' "$out/logs/$k.log"; then
		tail -n 20 "$out/logs/$k.log" >&2
		die "the $k boot failed (vm-run exit $rc); see $out/logs/$k.log"
	fi
	[ -s "$out/counts-$k.txt" ] || die "the plugin wrote no $out/counts-$k.txt (did QEMU exit normally?)"
done

step "symbolizing and comparing (profile-report.py)"
python3 "$here/profile-report.py" --top "$top" "$out" $kernels || die "profile-report.py failed on $out"
step "time: $(($(date +%s) - t_start)) s"
step "results: $out (report.txt, functions-*.csv, counts-*.txt, logs/)"
