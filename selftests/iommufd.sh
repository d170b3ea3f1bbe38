#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make iommufd: upstream's iommufd selftest (tools/testing/selftests/iommu,
# built unmodified and static) on the Rust core and on the C core. 7.3's
# iommufd maps a dma-buf into an IOAS through a dynamic, pinned, revocable
# attachment (drivers/iommu/iommufd/pages.c); with CONFIG_IOMMUFD_TEST its
# mock exporter and mock domains let the cases dmabuf_simple and
# dmabuf_revoke (under each iommufd_ioas variant) drive that path without
# an IOMMU. The kernels are test-iommufd and stock-test-iommufd (test and
# stock-test with scripts/config/iommufd.config); the 8 dma-buf cases must
# pass and every case's verdict must be the same on both (the cases that
# fail, fail on both: none of them is a dma-buf case). The kernel patch
# fixes one upstream bug in the mock exporter (IOMMU_TEST_OP_DMABUF_GET
# returned 0 instead of the new fd, so every dma-buf case used fd 0). Not
# in make check yet (two more debug kernels, 3 minutes of boots each).
# Ends with "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scripts/common.sh"
cd "$here/.."

out=$CACHE/iommufd bin=$CACHE/iommufd/bin
mkdir -p "$out" "$bin"
passed=0 failed=0 n=0 start=$(date +%s)
tap() { # tap OK|FAIL description
	n=$((n + 1))
	case $1 in
	OK) passed=$((passed + 1)); echo "ok $n - $2" ;;
	*) failed=$((failed + 1)); echo "not ok $n - $2" ;;
	esac
}
step() { local t=$(($(date +%s) - start)); printf '# [%02d:%02d] %s\n' $((t / 60)) $((t % 60)) "$*"; }
kernels="test-iommufd stock-test-iommufd"

for k in $kernels; do
	step "building the $k kernel (about 8 minutes the first time, from a copy of its twin; log: $out/build-$k.log)"
	if scripts/build-kernel.sh "$k" >"$out/build-$k.log" 2>&1 && scripts/build-kmods.sh "$k" >>"$out/build-$k.log" 2>&1; then
		tap OK "build the $k kernel and its test modules"
	else
		tail -n 30 "$out/build-$k.log"; tap FAIL "build the $k kernel"
	fi
done
hdr=$CACHE/build-stock-test-iommufd/usr-headers/include
step "building tools/testing/selftests/iommu (static; needs libcap-dev)"
if make -s -C "$SRC/tools/testing/selftests/iommu" KHDR_INCLUDES="-isystem $hdr" LDFLAGS=-static \
	OUTPUT="$bin" >"$out/selftest.cc.log" 2>&1 && [ -x "$bin/iommufd" ]; then
	tap OK "compile upstream's iommufd selftest (unmodified, static)"
else
	cat "$out/selftest.cc.log"; tap FAIL "compile upstream's iommufd selftest"
fi

for k in $kernels; do
	step "$k: the iommufd selftest, every case"
	selftests/vm-run --kernel "$k" --timeout 900 --put "$bin/iommufd" -- \
		sh -c 'grep -q "^iommufd " /proc/modules || modprobe iommufd; ls -l /dev/iommu; /tmp/iommufd; echo "iommufd-exit $?"' \
		>"$out/run-$k.log" 2>&1
	rc=$?
	tr -d '\r' <"$out/run-$k.log" >"$out/run-$k.clean"
	# kselftest harness lines: "ok N FIXTURE.VARIANT.TEST" / "not ok ...",
	# "# SKIP" in the line for a skipped case.
	# One line per case: "NAME pass", "NAME fail" or "NAME skip".
	sed -nE 's/^(not ok|ok) [0-9]+ ([^ ]+)(.*)$/\2 \1\3/p' "$out/run-$k.clean" |
		sed -E 's/ (not )?ok # SKIP.*/ skip/; s/ not ok.*/ fail/; s/ ok.*/ pass/' | sort >"$out/verdicts-$k.txt"
	total=$(wc -l <"$out/verdicts-$k.txt")
	count() { grep -c " $1\$" "$out/verdicts-$k.txt"; }
	if [ $rc = 0 ] && [ "$total" -gt 0 ]; then
		tap OK "$k: the run is clean (no splat), $total cases: $(count pass) pass, $(count fail) fail, $(count skip) skip"
	else
		tail -n 30 "$out/run-$k.clean"; tap FAIL "$k: iommufd selftest run (vm-run exit $rc, $total cases)"
	fi
	dm=$(grep -E '\.dmabuf_(simple|revoke) ' "$out/verdicts-$k.txt")
	if [ "$(grep -c . <<<"$dm")" -ge 8 ] && ! grep -qv ' pass$' <<<"$dm"; then
		tap OK "$k: the dma-buf cases pass: $(tr '\n' ';' <<<"$dm")"
	else
		echo "$dm"; tap FAIL "$k: the dma-buf cases (dmabuf_simple, dmabuf_revoke) must pass"
	fi
done
if diff -u "$out/verdicts-stock-test-iommufd.txt" "$out/verdicts-test-iommufd.txt" >"$out/verdicts.diff"; then
	tap OK "every case's verdict is the same on the Rust core and the C core"
else
	cat "$out/verdicts.diff"; tap FAIL "verdicts differ between the Rust and the C core"
fi
echo "1..$n"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
