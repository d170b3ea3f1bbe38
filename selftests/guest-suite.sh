#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs in the guest (vm-run --put): the bench checks and the userspace
# suites, each line prefixed with its suite name for the host to parse.
#   guest-suite.sh [SUITE...]: only those suites (make mutants picks them);
#   the bench checks always run.
kind=$(cat /etc/dmabuf-rs-kernel)
only=" $* "
want() { [ "$only" = "  " ] || case $only in *" $1 "*) ;; *) return 1 ;; esac; }
n=0
check() { # check NAME CMD...
	n=$((n + 1))
	name=$1; shift
	if "$@" >/dev/null 2>&1; then echo "bench: ok $n - $name"; else echo "bench: not ok $n - $name"; fi
}
check "vgem loaded, /dev/dri/card0 present" test -e /dev/dri/card0
check "vivid loaded, /dev/video0 present" test -e /dev/video0
check "udmabuf loaded, /dev/udmabuf present" test -e /dev/udmabuf
check "test module loaded, /dev/dmabuf_test present" test -e /dev/dmabuf_test
# With initcall_debug (make check boots with it): the built-in core starts
# at subsys_initcall, as the C core's dma_buf_init does, so before the
# fs_initcall level (chr_dev_init) and every driver's module_init.
early_init() { # early_init FUNCTION: it was called before chr_dev_init
	dmesg | grep -E "calling  ($1|chr_dev_init)\+" | head -n 1 | grep -q "calling  $1+"
}
case $kind in
stock-*)
	check "the C heaps are in /dev/dma_heap" sh -c 'ls /dev/dma_heap | grep -qx system && ls /dev/dma_heap | grep -qx default_cma_region'
	check "this is the C core: no dmabuf_rs symbol in /proc/kallsyms" sh -c "! grep -q dmabuf_rs /proc/kallsyms"
	grep -q initcall_debug /proc/cmdline &&
		check "the core starts at subsys_initcall (dma_buf_init before chr_dev_init)" early_init dma_buf_init
	;;
test-builtin | kcfi | distro)
	[ "$kind" = kcfi ] &&
		check "kCFI is on: the core's exported functions have type-hash preambles (__cfi_dma_buf_export)" grep -q ' __cfi_dma_buf_export$' /proc/kallsyms
	grep -q initcall_debug /proc/cmdline &&
		check "the core starts at subsys_initcall (dmabuf_rs_subsys_init before chr_dev_init)" early_init dmabuf_rs_subsys_init
	check "the Rust core is built in (dmabuf_rs is no module, its glue is in the kernel's symbols)" sh -c "! grep -q '^dmabuf_rs ' /proc/modules && grep -qx '[0-9a-f]* T dmabuf_rs_file_ref_get' /proc/kallsyms"
	check "dma_buf_export is built in" grep -qx '[0-9a-f]* T dma_buf_export' /proc/kallsyms
	check "the heap parameter has upstream's name: /sys/module/dma_heap/parameters/mem_accounting" test -e /sys/module/dma_heap/parameters/mem_accounting
	[ "$kind" = test-builtin ] &&
		check "the misuse detector's parameter is dma_buf.debug_misuse" test -e /sys/module/dma_buf/parameters/debug_misuse
	;;
*)
	check "dmabuf_rs is loaded" grep -q '^dmabuf_rs ' /proc/modules
	check "dma_buf_export comes from dmabuf_rs" grep -q ' dma_buf_export	\[dmabuf_rs\]' /proc/kallsyms
	check "vgem uses dmabuf_rs" sh -c "grep '^dmabuf_rs ' /proc/modules | grep -q drm"
	;;
esac
# The seeded fuzzer first, on a fresh kernel (its outcomes, CMA ones among
# them, are compared between the kernels).
want fuzz && for s in 1 2 3 4; do
	/tmp/dmabuf_fuzz $s 3000 2>&1 | sed "s/^/fuzz: /"
done
# run_tap SUITE CMD...: CMD's output, each line prefixed "SUITE: ", then one
# more result: CMD exited 0 and its plan (1..N) counts the results it
# printed, so a run cut short or a crash fails.
run_tap() {
	suite=$1
	shift
	"$@" >/tmp/.tap-$suite 2>&1
	rc=$?
	sed "s/^/$suite: /" /tmp/.tap-$suite
	plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' /tmp/.tap-$suite | tail -n 1)
	got=$(grep -cE '^(not )?ok [0-9]+ ' /tmp/.tap-$suite)
	if [ "$rc" = 0 ] && [ -n "$plan" ] && [ "$plan" = "$got" ]; then v=ok; else v="not ok"; fi
	echo "$suite: $v $((got + 1)) - the run ended: exit status $rc, plan 1..${plan:-none}, $got results"
}
for t in dmabuf_uapi dmabuf_kapi dmabuf_heaps dmabuf_faults; do
	want $t && run_tap $t /tmp/$t
done
# The dma_buf:* trace events of a fixed sequence (compared between the
# kernels), and memory-cgroup charging (this boot has mem_accounting on).
want trace && run_tap trace /tmp/dmabuf_trace
want memcg && run_tap memcg /tmp/dmabuf_heaps memcg
# A system-heap ALLOC of twice the RAM, its task OOM-killed or refused:
# the pages come back, to within a few of its cgroup's charge.
want oom && run_tap oom /tmp/dmabuf_heaps oom
# The BPF dma-buf iterator (make distro puts it in: its kernels have BTF).
if want bpf_iter && [ -e /tmp/dmabuf_iter.bpf.o ]; then
	/tmp/dmabuf_bpf_iter /tmp/dmabuf_iter.bpf.o 2>&1 | sed "s/^/bpf_iter: /"
fi
# Upstream's own selftest, built unmodified from the kernel source. Its
# lines are "ok N description" without a dash; add one for the parser.
upstream_heaps() {
	/tmp/dmabuf-heap >/tmp/.upstream-heaps 2>&1
	r=$?
	sed -E 's/^(not )?ok ([0-9]+) /\1ok \2 - /' /tmp/.upstream-heaps
	return $r
}
want upstream_heaps && run_tap upstream_heaps upstream_heaps
# Only when asked for by name (make mutants), first among those, as the
# misuse detector reports a site once per boot and c_heap below repeats one
# of the ledger's importer bugs: the ownership ledger (a Rust kernel's; with
# the misuse cases when the detector is on), which make check runs in boots
# of its own.
case $only in *" ledger "*)
	if grep -qx Y /sys/module/dmabuf_rs/parameters/debug_misuse /sys/module/dma_buf/parameters/debug_misuse 2>/dev/null; then
		DMABUF_TOP=/tmp/dmabuf-top run_tap ledger /tmp/dmabuf_ledger misuse
	else
		DMABUF_TOP=/tmp/dmabuf-top run_tap ledger /tmp/dmabuf_ledger
	fi
	;;
esac
# Then 20 s of the stress test, and
# the C heap with the importer that detaches while mapped (it registers a
# heap that stays, so make check runs it in a boot that unloads nothing).
case $only in *" stress "*) run_tap stress /tmp/dmabuf_stress 20 ;; esac
case $only in *" c_heap "*) run_tap c_heap /tmp/dmabuf_kapi c-heap ;; esac
# The heaps' CPU-access syncs through bounced mappings (the boot must have
# swiotlb=force; make check runs it in its export-error boot).
case $only in *" bounce "*) run_tap bounce /tmp/dmabuf_kapi bounce ;; esac
# The heaps' cgroup charges by policy (the boot must give the charge
# parameter system:none; make check runs it in a boot of its own).
case $only in *" charge "*) run_tap charge /tmp/dmabuf_charge /tmp/dmabuf_stress ;; esac
# The system heap's pool of zeroed pages (the boot must turn it on with
# page_pool_size=16384, as make check's pool boot does).
case $only in *" pool "*) run_tap pool /tmp/dmabuf_pool ;; esac
# And the calls that WARN on purpose (dma_buf_export with bad info, a
# failing vmap, begin_cpu_access of NULL; inside the expected-warnings
# window), their results as data lines.
case $only in *" export_errors "*) /tmp/dmabuf_kapi export-errors 2>&1 | sed 's/^/export_errors: data /' ;; esac
want rmmod && case $kind in
test | bench)
	run_tap rmmod /tmp/dmabuf_heaps rmmod
	;;
esac
# KUnit results of the core's suites (dmabuf*), from the kernel log. The
# module runs them at every load (the rmmod part reloads it many times):
# every run must give the same results, which are relayed once, a line per
# case ("kunit: ok N - SUITE: CASE"), with each suite's KTAP plan checked.
want kunit && dmesg | sed 's/^\[[^]]*\] //' | awk '
	function endrun() { if (nsig) { sig[++runs] = cur; if (runs == 1) first = body } cur = ""; body = ""; nsig = 0; delete seen }
	/# Subtest: / { name = $NF; if (name !~ /^dmabuf/) { name = ""; next }
		if (name in seen) endrun(); seen[name] = 1; suite = name; ncase = 0; plan = -1; next }
	suite != "" && /^ +1\.\.[0-9]+$/ { sub(/^ +1\.\./, ""); plan = $0 + 0; next }
	suite != "" && /^ +(not )?ok [0-9]+ / { ok = $1 == "ok"; c = ok ? $3 : $4; ncase++
		v = ok ? "ok" : "not ok"; cur = cur suite ":" c "=" v ";"; nsig++
		body = body v " - " suite ": " c "\n"; next }
	suite != "" && /^(not )?ok [0-9]+ / { ok = $1 == "ok"; s = ok ? $3 : $4
		if (s == suite) { v = ok ? "ok" : "not ok"; cur = cur suite "=" v ";"
			body = body v " - " suite ": the suite passes\n"
			body = body (ncase == plan ? "ok" : "not ok") " - " suite ": KTAP plan 1.." plan ", " ncase " cases ran\n" }
		suite = ""; next }
	END { endrun(); if (!runs) exit
		printf "%s", first
		same = 1; for (i = 2; i <= runs; i++) if (sig[i] != sig[1]) same = 0
		printf "%s - every run of the suites gave the same results (%d runs)\n", same ? "ok" : "not ok", runs }
' | awk '{ n++; sub(/^ok - /, "ok " n " - "); sub(/^not ok - /, "not ok " n " - "); print "kunit: " $0 }' 
echo "suite-done"
