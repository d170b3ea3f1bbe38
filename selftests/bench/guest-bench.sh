#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the bench guest (selftests/bench/run-bench.sh): facts about
# the boot, then the benchmark program. Records as dmabuf-bench prints them.
mode=$1
shift
echo "I,kernel,$(cat /etc/dmabuf-rs-kernel)"
echo "I,uname,$(uname -r)"
echo "I,cmdline,$(cat /proc/cmdline)"
# How the clock was set up: TSC calibration, clocksource switches.
dmesg | grep -iE 'tsc|clocksource' | sed 's/,/;/g; s/^/I,dmesg,/'
grep -q '^dmabuf_bench ' /proc/modules || echo "E,-,-,0,dmabuf_bench.ko is not loaded"
[ -e /proc/slabinfo ] || echo "I,slabinfo,absent"
/tmp/dmabuf-bench "$mode" "$@"
