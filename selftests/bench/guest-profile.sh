#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the profile guest (selftests/bench/profile.sh): where the
# kernel and its modules are, then one row under the insn-profile plugin.
#   guest-profile.sh OP HEAP SIZE N
echo "I,kernel,$(cat /etc/dmabuf-rs-kernel)"
echo "I,uname,$(uname -r)"
echo "I,cmdline,$(cat /proc/cmdline)"
grep -q '^dmabuf_bench ' /proc/modules || echo "E,-,-,0,dmabuf_bench.ko is not loaded"
# kmemleak's periodic scan (debug kernels) would land in the counts if it
# ran between the markers; vm-run's own scan at the end still runs.
[ -w /sys/kernel/debug/kmemleak ] && echo scan=off >/sys/kernel/debug/kmemleak
# For the symbols: vmlinux's _text (System.map has it at its link
# address, unless KASLR moved it) and every module's text symbols.
awk '$3 == "_text" && NF == 3 { print "K,_text," $1 }' /proc/kallsyms
awk 'NF == 4 && $2 ~ /^[tTwW]$/ { print "S," $1 "," $3 "," $4 }' /proc/kallsyms
/tmp/dmabuf-bench profile "$@"
