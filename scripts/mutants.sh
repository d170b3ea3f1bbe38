#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make mutants [MUTANTS="name ..."] [SKIP_BUILD=1] [FRESH=1]: break one
# rule of the core at a time (selftests/mutants/*.patch), rebuild only the
# module, boot the test kernel with it and run the suites the mutant
# names; a mutant is killed when a result differs from the unmutated
# module's, a result fails, or the boot is not clean (a splat, a hang).
# Not part of make check.
#
# Each patch starts with comment lines before its diff:
#   Rule: the rule it breaks
#   Source: where the rule is stated (Documentation/ or the C core's line)
#   Suites: the guest-suite.sh suites that can see it (kunit, dmabuf_uapi,
#           dmabuf_kapi, dmabuf_heaps, dmabuf_faults, trace, memcg, oom,
#           upstream_heaps, fuzz, stress, c_heap, ledger, export_errors,
#           bounce, charge, pool)
#   Boot: kernel parameters the suites need (bounce: swiotlb=force;
#         charge: dmabuf_rs.charge=system:none dmabuf_rs.mem_accounting=0;
#         pool: dmabuf_rs.page_pool_size=16384); the
#         unmutated module runs those suites once with them too
#   Equivalent: why no test can see it (then it is not run)
# Results are kept per mutant and crate version in $CACHE/mutants/res,
# so an interrupted run resumes where it stopped; survivors run again
# when the tests change, FRESH=1 runs every mutant again. Prints a table
# and "N killed, M survived" (and how many are equivalent or broken).
set -uo pipefail
. "$(dirname "$0")/common.sh"
cd "$REPO"

out=$CACHE/mutants
mkdir -p "$out/res" "$out/bin" "$out/logs"
start=$(date +%s)
step() { local t=$(($(date +%s) - start)); printf '# [%02d:%02d] %s\n' $((t / 60)) $((t % 60)) "$*"; }
crate="Kbuild Makefile Kconfig .kunitconfig *.rs sys dma_buf entry heaps uapi"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
	step "the test kernel and its modules (built if needed)"
	scripts/build-kernel.sh test >"$out/logs/build-test.log" 2>&1 && scripts/build-kmods.sh test >>"$out/logs/build-test.log" 2>&1 ||
		{ tail -n 30 "$out/logs/build-test.log"; die "building the test kernel failed (log: $out/logs/build-test.log)"; }
fi
O=$CACHE/build-test
hdr=$O/usr-headers/include
for t in dmabuf_uapi dmabuf_kapi dmabuf_heaps dmabuf_faults dmabuf_trace dmabuf_fuzz dmabuf_stress dmabuf_ledger dmabuf_charge dmabuf_pool; do
	gcc -static -O2 -Wall -Werror -Wno-unused-result -pthread -I "$hdr" -o "$out/bin/$t" "selftests/$t.c" ||
		die "compiling selftests/$t.c failed"
done
rustc --edition 2021 -O -C strip=symbols -C target-feature=+crt-static -o "$out/bin/dmabuf-top" tools/dmabuf-top.rs ||
	die "compiling tools/dmabuf-top.rs failed"
make -s -C "$SRC/tools/testing/selftests/dmabuf-heaps" OUTPUT="$out/bin" KHDR_INCLUDES="-isystem $hdr" >/dev/null 2>&1 ||
	die "compiling upstream's dmabuf-heaps selftest failed"

# build DIR [PATCH]: the crate, patched, built against the test kernel.
build() {
	rm -rf "$1" && mkdir -p "$1"
	# shellcheck disable=SC2086
	cp -r $crate "$1/" || return 1
	if [ -n "${2:-}" ]; then
		patch -d "$1" -p1 -s --no-backup-if-mismatch <"$2" >"$1.patch.log" 2>&1 || return 2
	fi
	make -s -C "$O" M="$1" LLVM=$LLVM_SUFFIX modules >"$1.build.log" 2>&1 || return 3
}

# run KO SUITES LOG [BOOT]: boots the test kernel with the module KO (and
# the kernel parameters BOOT) and runs the suites; the normalized results
# go to LOG.tap. Returns vm-run's status.
run() {
	local ko=$1 suites=$2 log=$3 boot=${4:-} puts=() t
	for t in "$out"/bin/*; do puts+=(--put "$t"); done
	# shellcheck disable=SC2086
	selftests/vm-run --kernel test --timeout 600 \
		--append "dmabufrs.core=/tmp/dmabuf_rs.ko dma_heap.mem_accounting=1 dmabuf_rs.mem_accounting=1 dmabuf_rs.debug_misuse=1${boot:+ $boot}" \
		--put "$ko" --put selftests/guest-suite.sh "${puts[@]}" -- sh /tmp/guest-suite.sh $suites >"$log" 2>&1
	local rc=$?
	tr -d '\r' <"$log" | grep -E '^[a-z_]+: ((not )?ok [0-9]+ |data |hash )' |
		sed -E 's/^([a-z_]+: (not )?ok) [0-9]+ /\1 /; s/before=-?[0-9]+ after=-?[0-9]+/before=N after=N/; s/: [0-9]+ operations in [0-9]+ s,/:/' |
		sort >"$log.tap"
	return $rc
}

field() { sed -n "s/^# $2: //p" "$1" | head -n 1; }

# Two hashes of the working tree (mutants excluded): the crate alone, and
# the tests and scripts. The unmutated module runs once per pair.
hash_of() {
	# shellcheck disable=SC2086
	git ls-files -co --exclude-standard -- "$@" | grep -v '^selftests/mutants/' |
		while read -r f; do [ -f "$f" ] && sha256sum "$f"; done | sha256sum | cut -c1-16
}
# shellcheck disable=SC2086
crate_hash=$(hash_of $crate)
test_hash=$(hash_of selftests scripts)
src_hash=$crate_hash-$test_hash
base=$out/baseline-$src_hash
all_suites="kunit dmabuf_uapi dmabuf_kapi dmabuf_heaps dmabuf_faults trace memcg oom upstream_heaps fuzz stress c_heap ledger export_errors"
# baseline FILE SUITES [BOOT]: the unmutated module's results, in FILE.tap.
baseline() {
	[ -s "$1.tap" ] && return 0
	step "baseline: the unmutated module${3:+ booted with $3}, suites: $2"
	if [ "$(cat "$out/base-src.hash" 2>/dev/null)" != "$src_hash" ]; then
		build "$out/base-src" || die "the unmutated crate does not build; see $out/base-src.build.log"
		echo "$src_hash" >"$out/base-src.hash"
	fi
	run "$out/base-src/dmabuf_rs.ko" "$2" "$1.log" "${3:-}" ||
		{ tail -n 40 "$1.log"; die "the baseline run failed (vm-run exit $?); log: $1.log"; }
	if grep -v '# TODO' "$1.log.tap" | grep -q ': not ok '; then
		grep ': not ok ' "$1.log.tap"; die "the baseline has failures: fix them first"
	fi
	mv "$1.log.tap" "$1.tap"
}
baseline "$base" "$all_suites"

killed=0 survived=0 equivalent=0 broken=0
table=""
for m in selftests/mutants/*.patch; do
	name=$(basename "$m" .patch)
	if [ -n "${MUTANTS:-}" ]; then case " $MUTANTS " in *" $name "*) ;; *) continue ;; esac; fi
	# A verdict holds for this patch of this crate; a survivor is run again
	# whenever the tests change (a new test may kill it), a killed mutant
	# is not (tests are added, not weakened; FRESH=1 runs every mutant).
	key=$( { cat "$m"; echo "$crate_hash"; } | sha256sum | cut -c1-16)
	res=$out/res/$name
	old_verdict=$(sed -n 2p "$res" 2>/dev/null)
	if [ "${FRESH:-0}" = 1 ] || [ "$(head -n 1 "$res" 2>/dev/null)" != "$key" ] ||
		{ [ "$old_verdict" = survived ] && [ "$(sed -n 4p "$res")" != "$test_hash" ]; }; then
		suites=$(field "$m" Suites)
		boot=$(field "$m" Boot)
		want=$base
		if [ -n "$boot" ]; then
			want=$base-$(printf '%s/%s' "$boot" "$suites" | sha256sum | cut -c1-8)
			baseline "$want" "$suites" "$boot"
		fi
		eq=$(field "$m" Equivalent)
		log=$out/logs/$name.log
		if [ -n "$eq" ]; then
			verdict="equivalent" why=$eq
		else
			step "$name: $(field "$m" Rule) [suites: ${suites:-all}]"
			build "$out/mut-src" "$m"
			case $? in
			0)
				run "$out/mut-src/dmabuf_rs.ko" "${suites:-$all_suites}" "$log" "$boot"
				rc=$?
				# The baseline's lines of the suites that ran.
				pat=$(printf '%s\n' ${suites:-$all_suites} bench | sed 's/.*/^&: /' | paste -sd'|')
				grep -E "$pat" "$want.tap" >"$log.want"
				bad=$(grep -v '# TODO' "$log.tap" | grep -m1 ': not ok ' || true)
				diff_line=$(diff "$log.want" "$log.tap" | grep -m1 '^[<>]' || true)
				if [ $rc != 0 ]; then
					verdict=killed why="vm-run exit $rc: $(grep -a -m1 -E '^vm-run: |^guest: ' "$log" || echo "see $log")"
				elif [ -n "$bad" ]; then
					verdict=killed why="$bad"
				elif [ -n "$diff_line" ]; then
					verdict=killed why="differs from the baseline: $diff_line"
				else
					verdict=survived why="every selected suite gave the baseline's results"
				fi
				;;
			2) verdict=broken why="the patch does not apply: $(head -n 2 "$out/mut-src.patch.log" | tr '\n' ' ')" ;;
			*) verdict=broken why="the mutant does not build: $(grep -m1 'error' "$out/mut-src.build.log")" ;;
			esac
		fi
		printf '%s\n%s\n%s\n%s\n' "$key" "$verdict" "$why" "$test_hash" >"$res"
	fi
	verdict=$(sed -n 2p "$res") why=$(sed -n 3p "$res")
	case $verdict in
	killed) killed=$((killed + 1)) ;;
	survived) survived=$((survived + 1)) ;;
	equivalent) equivalent=$((equivalent + 1)) ;;
	*) broken=$((broken + 1)) ;;
	esac
	table="$table$(printf '%-44s %-10s %s' "$name" "$verdict" "$why" | cut -c1-220)
"
done
printf '%s' "$table"
echo "# total: $(($(date +%s) - start)) s; $equivalent equivalent (not run), $broken broken (fix the patch)"
echo "$killed killed, $survived survived"
[ "$survived" = 0 ] && [ "$broken" = 0 ]
