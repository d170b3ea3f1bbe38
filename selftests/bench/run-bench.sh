#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the Rust core against the C core, side by side
# (../shared/BENCHMARKS.md, Documentation/benchmarks.rst).
#
# Builds the non-debug `stock-bench` (upstream C core and heaps) and
# `bench` (ours) kernels and the test modules for them, compiles the static
# benchmark program, boots the two kernels alternately (stock, ours, stock,
# ours, ...) BENCH_BOOTS times each in instruction-count mode (-icount) and
# again in plain wall-time mode, then prints the table and ends with
# "worst ratio: R (operation, heap, size)". Everything a run produced (raw
# CSV, guest logs, the kernels' .configs, the QEMU command lines, table,
# chart) goes into one folder under $CACHE/bench/, printed at the end.
#
# Settings (environment): BENCH_BOOTS (4) boots per kernel
# and mode (16 boots of 85-130 s: about 28 minutes; 5 took 36),
# BENCH_BATCHES (30) timed batches per row, BENCH_MODES ("icount wall"),
# BENCH_OUT (results folder), BENCH_SKIP_BUILD=1 (boot the kernels as last
# built, without taking the build lock), BENCH_NOTE (a line for meta.txt),
# BENCH_APPEND (kernel parameters for the `bench` kernel's boots only, e.g.
# "dmabuf_rs.debug_misuse=1" to price the ledger's misuse detector),
# BENCH_TOOLCHAIN (default, or matched: the pair built with the rustc whose
# LLVM is clang's and CONFIG_RUST_INLINE_HELPERS, the kernels
# stock-bench-matched and bench-matched, reported under the usual names).
# It asserts nothing about speed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/common.sh"
cd "$REPO"

boots=${BENCH_BOOTS:-4}
batches=${BENCH_BATCHES:-30}
modes=${BENCH_MODES:-icount wall}
out=${BENCH_OUT:-$CACHE/bench/$(date -u +%Y-%m-%dT%H%M%SZ)}
# The guest's clock. Under plain TCG the guest's TSC is the host's, which
# the guest cannot calibrate (no HPET or PM timer, the emulated PIT is too
# slow): it marks the TSC unstable and falls back to refined-jiffies, a
# 4 ms clock that reads 0 for short batches. So tell it the host's TSC
# frequency; under -icount the TSC counts one tick per instruction (1 GHz).
# tsc=reliable keeps the watchdog from demoting it. Same for both kernels.
append_for() { # MODE
	if [ "$1" = icount ]; then
		echo "clocksource=tsc tsc=reliable tsc_early_khz=1000000"
	else
		echo "clocksource=tsc tsc=reliable tsc_early_khz=$host_tsc_khz"
	fi
}
case ${BENCH_TOOLCHAIN:-default} in
default) sfx="" ;;
matched) sfx=-matched ;;
*) die "BENCH_TOOLCHAIN is default or matched, not '$BENCH_TOOLCHAIN'" ;;
esac
kernels="stock-bench$sfx bench$sfx"

step() { printf '[bench] %s\n' "$*" >&2; }
t_start=$(date +%s)
mkdir -p "$out/logs" || die "cannot create the results folder $out"
step "results folder: $out"

# 1. Kernels and modules (only what changed is rebuilt).
for k in $kernels; do
	if [ "${BENCH_SKIP_BUILD:-0}" = 1 ]; then
		[ -f "$CACHE/build-$k/arch/x86/boot/bzImage" ] ||
			die "BENCH_SKIP_BUILD=1 but the $k kernel is not built: run scripts/build-kernel.sh $k"
		step "using the $k kernel as last built (BENCH_SKIP_BUILD=1)"
	else
		step "building the $k kernel (scripts/build-kernel.sh $k; log $out/logs/build-$k.log)"
		t0=$(date +%s)
		scripts/build-kernel.sh "$k" >"$out/logs/build-$k.log" 2>&1 || {
			tail -n 20 "$out/logs/build-$k.log" >&2
			die "building the $k kernel failed; see $out/logs/build-$k.log"
		}
		step "  $k kernel ready in $(($(date +%s) - t0)) s"
	fi
	step "building the test modules for $k (scripts/build-kmods.sh $k)"
	scripts/build-kmods.sh "$k" >"$out/logs/kmods-$k.log" 2>&1 || {
		cat "$out/logs/kmods-$k.log" >&2
		die "building the test modules for $k failed; see $out/logs/kmods-$k.log"
	}
	[ -f "$CACHE/kmod-$k/dmabuf_bench.ko" ] ||
		die "no dmabuf_bench.ko for $k in $CACHE/kmod-$k (is it in selftests/kmod/Kbuild?)"
	cp "$CACHE/build-$k/.config" "$out/config-${k%-matched}"
done
t_built=$(date +%s)

# 2. One static program for both kernels, against the installed uapi headers.
hdr=$CACHE/build-stock-bench$sfx/usr-headers/include
step "compiling selftests/bench/dmabuf-bench.c (static, -O2)"
gcc -static -O2 -Wall -Werror -Wno-unused-result -pthread -I "$hdr" \
	-o "$out/dmabuf-bench" selftests/bench/dmabuf-bench.c 2>"$out/logs/cc.log" || {
	cat "$out/logs/cc.log" >&2
	die "compiling the benchmark program failed"
}

gcc -O2 -Wall -Werror -o "$out/tsc-khz" selftests/bench/tsc-khz.c 2>>"$out/logs/cc.log" ||
	die "compiling selftests/bench/tsc-khz.c failed; see $out/logs/cc.log"
host_tsc_khz=$("$out/tsc-khz") || die "cannot measure the host's TSC frequency"
step "host TSC: $host_tsc_khz kHz (given to the wall-time guests as tsc_early_khz)"

# What was measured.
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel source: $(cat "$CACHE/$SRC_TARBALL_STAMP" 2>/dev/null || echo unknown)"
	if git rev-parse -q HEAD >/dev/null 2>&1; then
		echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Kbuild dma_buf heaps sys entry uapi || echo ' (core sources modified)')"
	else
		echo "commit: unknown (not a git checkout)"
	fi
	[ "${BENCH_SKIP_BUILD:-0}" != 1 ] || echo "kernels: as last built (BENCH_SKIP_BUILD=1; they may predate this commit)"
	[ -z "${BENCH_NOTE:-}" ] || echo "note: $BENCH_NOTE"
	echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GiB"
	echo "qemu: $(qemu-system-x86_64 --version | head -n1)"
	echo "boots: $boots per kernel and mode; batches: $batches per row; modes: $modes"
	echo "kernel command line added: icount: $(append_for icount); wall: $(append_for wall)"
	[ -z "${BENCH_APPEND:-}" ] || echo "bench kernel only: $BENCH_APPEND"
	[ -z "$sfx" ] || echo "toolchain: rustc $MATCHED_RUST (LLVM $(rustc +"$MATCHED_RUST" --version --verbose | sed -n 's/^LLVM version: //p')) and CONFIG_RUST_INLINE_HELPERS=y (kernels $kernels)"
} >"$out/meta.txt"
diff -u "$out/config-stock-bench" "$out/config-bench" >"$out/config.diff" || true

# 3. Boots, alternating kernels.
echo "mode,op,heap,size,kernel,boot,batch,k,batch_ns,ns" >"$out/results.csv"
: >"$out/info.csv"
: >"$out/footprint.csv"
: >"$out/errors.txt"
nm=$(echo $modes | wc -w)
total=$((nm * boots * 2)) n=0
for mode in $modes; do
	flag=()
	[ "$mode" = icount ] && flag=(--icount)
	for b in $(seq 1 "$boots"); do
		for k in $kernels; do
			n=$((n + 1))
			# The name the results and the report use.
			name=${k%-matched}
			log=$out/logs/$mode-$name-$b.log
			step "[$n/$total] $mode: $k, boot $b of $boots"
			t0=$(date +%s)
			set +e
			extra=""
			[ "$name" = bench ] && extra=${BENCH_APPEND:+ $BENCH_APPEND}
			selftests/vm-run --kernel "$k" "${flag[@]}" --timeout 1200 --append "$(append_for "$mode")$extra" \
				--qemu-cmdline "$out/qemu-$name-$mode.cmdline" \
				--put "$here/guest-bench.sh" --put "$out/dmabuf-bench" \
				-- sh /tmp/guest-bench.sh "$mode" --batches "$batches" 2>&1 |
				tr -d '\r' | tee "$log" |
				sed -u -n 's/^P,\(.*\)/[bench]     \1/p; s/^E,\(.*\)/[bench]     cannot measure: \1/p' >&2
			rc=${PIPESTATUS[0]}
			set -e
			step "  $k boot $b ($mode) took $(($(date +%s) - t0)) s"
			if [ "$rc" != 0 ] || ! grep -q '^P,done' "$log"; then
				echo "$mode $k boot $b: vm-run exit $rc, see $log" >>"$out/errors.txt"
				step "  this boot failed (vm-run exit $rc); its rows are left out. Last lines:"
				tail -n 15 "$log" >&2
			fi
			awk -F, -v m="$mode" -v k="$name" -v b="$b" 'BEGIN { OFS = "," }
				$1 == "R" && NF == 7 { print m, $2, $3, $4, k, b, $5, $6, $7, ($6 > 0 ? $7 / $6 : "") }' \
				"$log" >>"$out/results.csv"
			awk -F, -v m="$mode" -v k="$name" -v b="$b" 'BEGIN { OFS = "," }
				$1 == "I" { sub(/^I,/, ""); print m, k, b, $0 }' "$log" >>"$out/info.csv"
			awk -F, -v k="$name" -v b="$b" 'BEGIN { OFS = "," }
				$1 == "M" { print k, b, $2, $3, $4, $5 }' "$log" >>"$out/footprint.csv"
			grep '^E,' "$log" | sed "s/^/$mode $name boot $b: /" >>"$out/errors.txt" || true
		done
	done
done
t_ran=$(date +%s)

# 4. Table and chart.
step "computing the table and the chart"
python3 "$here/report.py" "$out" || die "report.py failed on $out"
step "time: $((t_built - t_start)) s kernels and modules, $((t_ran - t_built)) s boots, $(($(date +%s) - t_start)) s in all"
step "results: $out (results.csv, table.txt, chart.svg, config-*, qemu-*.cmdline, logs/)"
# The last line, for scripts.
cat "$out/worst.txt"
