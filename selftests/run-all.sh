#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: builds what changed (kernels, test modules, test programs),
# runs every test layer in the VM on the `test` kernel and on `stock-test`,
# compares the userspace results of the two, prints TAP lines and ends with
# "N passed, M failed". Exit status 0 only if nothing failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/common.sh"
cd "$here/.."

passed=0 failed=0 n=0
tap() { # tap OK|FAIL description
	n=$((n + 1))
	if [ "$1" = OK ]; then
		passed=$((passed + 1)); echo "ok $n - $2"
	else
		failed=$((failed + 1)); echo "not ok $n - $2"
	fi
}
finish() {
	echo "1..$n"
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}

out=$CACHE/check
mkdir -p "$out"
start=$(date +%s)

# 0. The crate's shape: bindings only in sys/, layers used downwards, no
# import cycles (scripts/check-layers.py).
if python3 scripts/check-layers.py >"$out/layers.log" 2>&1; then
	tap OK "crate layers: bindings only in sys/, no upward use, no import cycle ($(grep -o 'sys [0-9]* ([0-9]*%)' "$out/layers.log") of lines in sys/)"
else
	cat "$out/layers.log"; tap FAIL "crate layers (scripts/check-layers.py)"
fi

# 1. Build: host set-up, both debug kernels, test modules, test programs.
for k in test stock-test; do
	if ! scripts/build-kernel.sh "$k" >"$out/build-$k.log" 2>&1; then
		tail -n 30 "$out/build-$k.log"
		tap FAIL "build the $k kernel"
		finish
	fi
	tap OK "build the $k kernel"
	if scripts/build-kmods.sh "$k" >"$out/kmods-$k.log" 2>&1; then
		tap OK "build the test modules for $k"
	else
		cat "$out/kmods-$k.log"; tap FAIL "build the test modules for $k"
	fi
done
echo "# kernel source: $(cat "$CACHE/$SRC_TARBALL_STAMP")"
hdr=$CACHE/build-stock-test/usr-headers/include
bin=$CACHE/bin
mkdir -p "$bin"
if make -s -C "$SRC/tools/testing/selftests/dmabuf-heaps" OUTPUT="$bin" \
	KHDR_INCLUDES="-isystem $hdr" >"$out/upstream-heaps.cc.log" 2>&1 && [ -x "$bin/dmabuf-heap" ]; then
	tap OK "compile upstream tools/testing/selftests/dmabuf-heaps (unmodified, static)"
else
	cat "$out/upstream-heaps.cc.log"; tap FAIL "compile upstream tools/testing/selftests/dmabuf-heaps"
fi
for t in dmabuf_uapi dmabuf_kapi dmabuf_heaps dmabuf_stress; do
	if gcc -static -O2 -Wall -Werror -Wno-unused-result -pthread -I "$hdr" -o "$bin/$t" "selftests/$t.c" 2>"$out/$t.cc.log"; then
		tap OK "compile $t (static)"
	else
		cat "$out/$t.cc.log"; tap FAIL "compile $t (static)"
	fi
done
echo "# build: $(($(date +%s) - start)) s"

# 2. One boot per kernel runs the bench checks and the userspace suites.
for k in test stock-test; do
	t0=$(date +%s)
	selftests/vm-run --kernel "$k" --put selftests/guest-suite.sh --put "$bin/dmabuf_uapi" \
		--put "$bin/dmabuf_kapi" --put "$bin/dmabuf_heaps" --put "$bin/dmabuf-heap" -- sh /tmp/guest-suite.sh >"$out/run-$k.log" 2>&1
	rc=$?
	echo "# $k boot + suites: $(($(date +%s) - t0)) s"
	tr -d '\r' <"$out/run-$k.log" >"$out/run-$k.clean"
	if [ $rc = 0 ] && grep -q '^suite-done' "$out/run-$k.clean"; then
		tap OK "$k: VM run clean (no oops, WARN, lockdep, KASAN or kmemleak report)"
	else
		tail -n 60 "$out/run-$k.clean"
		tap FAIL "$k: VM run clean (vm-run exit $rc)"
	fi
	grep -E '^[a-z_]+: (not )?ok [0-9]+ ' "$out/run-$k.clean" >"$out/tap-$k.txt" || true
	while IFS= read -r line; do
		suite=${line%%: *}
		rest=${line#*: }
		desc=${rest#* [0-9]* - }
		case $rest in
		"ok "*) tap OK "$k/$suite: $desc" ;;
		*) tap FAIL "$k/$suite: $desc" ;;
		esac
	done <"$out/tap-$k.txt"
	suites="bench dmabuf_uapi dmabuf_kapi dmabuf_heaps upstream_heaps"
	[ "$k" = test ] && suites="$suites kunit rmmod"
	for s in $suites; do
		grep -q "^$s: " "$out/tap-$k.txt" || tap FAIL "$k/$s: produced results"
	done
done

# The exports carry the upstream namespace.
if awk '$2 == "dma_buf_export" && $3 ~ /dmabuf_rs/ && $5 == "DMA_BUF"' "$CACHE/build-test/Module.symvers" | grep -q .; then
	tap OK "test: dma_buf_export is exported by dmabuf_rs in namespace DMA_BUF"
else
	tap FAIL "test: dma_buf_export is exported by dmabuf_rs in namespace DMA_BUF"
fi

# 3. Differential: the userspace suites must give the same results.
# Heaps are listed in directory order, which differs between the two
# kernels: compare the results without their numbers, sorted.
norm() { grep "^$1: " "$2" | sed -E 's/^([a-z_]+: (not )?ok) [0-9]+ /\1 /; s/before=[0-9]+ after=[0-9]+/before=N after=N/' | sort; }
for s in dmabuf_uapi dmabuf_kapi dmabuf_heaps upstream_heaps; do
	if diff <(norm "$s" "$out/tap-test.txt") <(norm "$s" "$out/tap-stock-test.txt") >"$out/diff-$s.txt"; then
		tap OK "differential: $s identical on test and stock-test"
	else
		cat "$out/diff-$s.txt"
		tap FAIL "differential: $s differs between test and stock-test"
	fi
done

# 4. One minute of racing threads on the Rust kernel.
selftests/vm-run --kernel test --put "$bin/dmabuf_stress" -- /tmp/dmabuf_stress 60 >"$out/stress.log" 2>&1
rc=$?
tr -d '\r' <"$out/stress.log" | grep -E '^(not )?ok [0-9]+ - ' >"$out/stress.tap"
while IFS= read -r line; do
	case $line in
	"ok "*) tap OK "test/stress: ${line#* - }" ;;
	*) tap FAIL "test/stress: ${line#* - }" ;;
	esac
done <"$out/stress.tap"
if [ $rc = 0 ] && [ -s "$out/stress.tap" ]; then
	tap OK "test/stress: 60 s of races, kernel silent (lockdep, KASAN, kmemleak)"
else
	tail -n 40 "$out/stress.log"; tap FAIL "test/stress: 60 s of races (vm-run exit $rc)"
fi

# 5. The bench catches splats: a deliberate WARN must fail the run.
selftests/vm-run --kernel test -- insmod /lib/dmabuf-rs/dmabuf_test_warn.ko >"$out/warn.log" 2>&1
rc=$?
if [ $rc = 125 ] && grep -q 'dmabuf_test_warn: deliberate warning\|WARNING:' "$out/warn.log"; then
	tap OK "vm-run fails (125) on a deliberate WARN"
else
	tail -n 20 "$out/warn.log"; tap FAIL "vm-run fails (125) on a deliberate WARN (got $rc)"
fi

# 5b. An importer bug: the last reference to a vmapped buffer goes. The
# core must WARN and hand the mapping back to the exporter before its
# release (C stops with BUG(), so this runs on the Rust kernel only).
selftests/vm-run --kernel test -- sh -c 'insmod /lib/dmabuf-rs/dmabuf_test_warn_vmap.ko; sleep 1; dmesg | grep dmabuf_test_warn_vmap' >"$out/warn-vmap.log" 2>&1
rc=$?
if [ $rc = 125 ] && grep -q 'dmabuf_test_warn_vmap: vunmap before release' "$out/warn-vmap.log" &&
	! grep -q 'KASAN:\|BUG:\|Oops' "$out/warn-vmap.log"; then
	tap OK "test: releasing a vmapped buffer warns and vunmaps through the exporter first"
else
	tail -n 30 "$out/warn-vmap.log"; tap FAIL "test: releasing a vmapped buffer (rc $rc)"
fi

# 6. dma_buf_export with bad export info: WARN (as upstream) and EINVAL.
for k in test stock-test; do
	selftests/vm-run --kernel "$k" --put "$bin/dmabuf_kapi" -- /tmp/dmabuf_kapi export-errors >"$out/experr-$k.log" 2>&1
	rc=$?
	got=$(grep -c 'export error [0-2]: EINVAL' "$out/experr-$k.log")
	if [ $rc = 125 ] && [ "$got" = 3 ]; then
		tap OK "$k: dma_buf_export refuses bad export info with WARN + EINVAL (3 cases)"
	else
		grep '^export error' "$out/experr-$k.log"; tap FAIL "$k: dma_buf_export error paths (rc $rc, $got/3 EINVAL)"
	fi
done

echo "# total: $(($(date +%s) - start)) s"
finish
