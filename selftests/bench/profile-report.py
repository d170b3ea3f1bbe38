#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Per-function instruction profile of one bench row (selftests/bench/profile.sh).

    profile-report.py [--top N] OUT_DIR KERNEL...

For each KERNEL, reads from OUT_DIR:
  counts-KERNEL.txt   the insn-profile plugin's output: kernel instructions
                      per address between the guest's markers
  logs/KERNEL.log     the guest's output: T (timings), K (_text address),
                      S (module text symbols, from /proc/kallsyms), E lines
  System.map-KERNEL   the kernel's System.map
and prints, per kernel, the instructions per operation (kernel and user),
how they compare with the guest's own instruction clock, the share of
each place (vmlinux, each module) and the top N functions; then, with
two or more kernels, the differences per function between the first
kernel and each other one, largest first. Writes report.txt and one
functions-KERNEL.csv (every function, per operation) to OUT_DIR.

An address belongs to the nearest text symbol at or below it (System.map
for vmlinux, kallsyms for modules), so a function's count includes any
code up to the next symbol; names that share an address are joined with
" = ". Rust names are demangled with llvm-cxxfilt when it is installed.
Python standard library only.
"""
import bisect
import os
import shutil
import subprocess
import sys
from collections import defaultdict


def die(msg):
    sys.stderr.write("profile-report.py: %s\n" % msg)
    sys.exit(1)


def read_counts(path):
    meta, counts = {}, []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                w = line[1:].split()
                if len(w) == 2:
                    meta[w[0]] = w[1]
                continue
            a, n = line.split()
            counts.append((int(a, 16), int(n)))
    if "pairs" not in meta:
        die("%s is not an insn-profile output" % path)
    return meta, counts


def read_log(path):
    info = {"T": {}, "S": [], "E": [], "K": None, "I": {}}
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("S,"):
                _, a, name, mod = line.split(",", 3)
                info["S"].append((int(a, 16), name, mod.strip("[]")))
            elif line.startswith("K,_text,"):
                info["K"] = int(line.split(",")[2], 16)
            elif line.startswith("T,"):
                w = line.split(",")
                info["T"][w[1]] = w[2:]
            elif line.startswith("E,"):
                info["E"].append(line[2:])
            elif line.startswith("I,profile,"):
                info["I"]["profile"] = line.split(",")[2:]
    return info


def read_system_map(path):
    syms, text, end = [], None, None
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) < 3:
                continue
            if w[2] == "_text":
                text = int(w[0], 16)
            elif w[2] == "_end":
                end = int(w[0], 16)
            if w[1] in "tTwW":
                syms.append((int(w[0], 16), w[2], "vmlinux"))
    return syms, text, end


def demangle(names):
    """Rust (v0 and legacy) names through llvm-cxxfilt; others unchanged."""
    rust = sorted({n for n in names if n.startswith(("_R", "_ZN"))})
    out = {n: n for n in names}
    tool = shutil.which("llvm-cxxfilt-19") or shutil.which("llvm-cxxfilt")
    if not rust or not tool:
        return out
    try:
        r = subprocess.run([tool], input="\n".join(rust) + "\n", capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return out
    for n, d in zip(rust, r.stdout.splitlines()):
        out[n] = d
    return out


class Profile:
    def __init__(self, out_dir, kernel):
        self.kernel = kernel
        self.meta, counts = read_counts(os.path.join(out_dir, "counts-%s.txt" % kernel))
        log = read_log(os.path.join(out_dir, "logs", "%s.log" % kernel))
        if "profiled" not in log["T"]:
            die("%s: the guest did not finish the profiled run (no T,profiled line in logs/%s.log)%s"
                % (kernel, kernel, "; it said: " + log["E"][0] if log["E"] else ""))
        self.ops = int(log["T"]["profiled"][0])
        self.clock_ns = int(log["T"]["profiled"][1])
        self.pairs_expected = int(log["T"]["profiled"][2])
        self.ref = log["T"].get("ref")  # row, batches, k, ns/op
        self.errors = log["E"]
        self.profile = log["I"].get("profile")
        syms, text, end = read_system_map(os.path.join(out_dir, "System.map-%s" % kernel))
        self.note = ""
        if log["K"] is not None and text is not None and log["K"] != text:
            shift = log["K"] - text
            syms = [(a + shift, n, m) for a, n, m in syms]
            end = end + shift if end is not None else None
            self.note = "vmlinux moved by %+#x from System.map (KASLR?); symbols shifted" % shift
        syms += log["S"]
        names = demangle({s[1] for s in syms})
        # Aliases (the same address under several names, as functions the
        # compiler merged for their identical code) are shown together.
        alias = defaultdict(list)
        for a, n, m in syms:
            if names[n] not in alias[(a, m)]:
                alias[(a, m)].append(names[n])
        syms = sorted((a, " = ".join(sorted(ns)), m) for (a, m), ns in alias.items())
        addrs = [s[0] for s in syms]
        # Function -> [count, places]; by place.
        raw = defaultdict(int)
        self.by_place = defaultdict(int)
        self.kernel_total = 0
        for a, n in counts:
            i = bisect.bisect_right(addrs, a) - 1
            if i < 0 or (syms[i][2] == "vmlinux" and end is not None and a >= end):
                # Below every symbol, or past vmlinux in code without a
                # kallsyms symbol (BPF, trampolines, a module not listed).
                name, place = "[unknown %#x]" % (a & ~0xfff), "?"
            else:
                name, place = syms[i][1], syms[i][2]
            raw[(name, place)] += n
            self.by_place[place] += n
            self.kernel_total += n
        # A name is a function's key; the same name in two places of one
        # kernel (static functions) is told apart by its place.
        places = defaultdict(set)
        for name, place in raw:
            places[name].add(place)
        self.funcs = {}
        self.where = {}
        for (name, place), n in raw.items():
            key = name if len(places[name]) == 1 else "%s [%s]" % (name, place)
            self.funcs[key] = self.funcs.get(key, 0) + n
            self.where[key] = place
        self.user_total = int(self.meta.get("user", 0))

    def per_op(self, n):
        return n / self.ops


def fmt(x):
    return "{:,.1f}".format(x)


def short(name, width):
    return name if len(name) <= width else name[: width - 3] + "..."


def report(out_dir, kernels, top):
    profs = [Profile(out_dir, k) for k in kernels]
    p0 = profs[0]
    lines = []
    say = lines.append
    if p0.profile:
        op, row, heap, size, n = p0.profile[:5]
        say("insn-profile of %s (%s), heap %s, %s-byte buffers, %s operations per kernel" % (row, op, heap, size, n))
    say("instructions counted exactly per guest address (QEMU -icount, insn-profile plugin); per operation below")
    say("")
    for p in profs:
        say("== %s ==" % p.kernel)
        say("marker pairs: %s (expected %d), unpaired markers: %s%s" % (
            p.meta.get("pairs"), p.pairs_expected, p.meta.get("unpaired"),
            "" if int(p.meta.get("pairs", 0)) == p.pairs_expected else "   <-- MISMATCH"))
        if int(p.meta.get("unattributed", 0)):
            say("WARNING: %s kernel instructions not attributed (table full: raise slots=)" % p.meta["unattributed"])
        if p.note:
            say("NOTE: " + p.note)
        if p.errors:
            say("guest errors: " + "; ".join(p.errors))
        tot = p.kernel_total + p.user_total
        say("instructions per operation: %s kernel + %s user = %s" % (
            fmt(p.per_op(p.kernel_total)), fmt(p.per_op(p.user_total)), fmt(p.per_op(tot))))
        clk = p.clock_ns / p.ops
        say("  the guest's clock around the profiled operations: %s ns/op (profile / clock = %.3f)" % (
            fmt(clk), p.per_op(tot) / clk if clk else float("nan")))
        if p.ref:
            r = float(p.ref[3])
            say("  the row timed as make bench does (median of %s batches of %s): %s ns/op (profile / row = %.3f)" % (
                p.ref[1], p.ref[2], fmt(r), p.per_op(tot) / r if r else float("nan")))
        say("by place: " + ", ".join("%s %s (%.1f%%)" % (pl, fmt(p.per_op(n)), 100.0 * n / max(1, p.kernel_total))
                                     for pl, n in sorted(p.by_place.items(), key=lambda x: -x[1])))
        say("top %d functions, kernel instructions per operation:" % top)
        say("  %12s %6s  %s" % ("per op", "%", "function [place]"))
        for name, n in sorted(p.funcs.items(), key=lambda x: -x[1])[:top]:
            say("  %12s %5.1f%%  %s [%s]" % (fmt(p.per_op(n)), 100.0 * n / max(1, p.kernel_total),
                                          short(name, 110), p.where[name]))
        say("")
        with open(os.path.join(out_dir, "functions-%s.csv" % p.kernel), "w") as f:
            f.write("function,place,instructions,per_op\n")
            for name, n in sorted(p.funcs.items(), key=lambda x: -x[1]):
                f.write('"%s",%s,%d,%.3f\n' % (name.replace('"', '""'), p.where[name], n, p.per_op(n)))
    for p in profs[1:]:
        say("== %s against %s: kernel instructions per operation, by function, largest difference first ==" % (
            p.kernel, p0.kernel))
        a, b = p0.per_op(p0.kernel_total), p.per_op(p.kernel_total)
        say("total: %s -> %s (%+.1f, x%.3f)" % (fmt(a), fmt(b), b - a, b / a if a else float("nan")))
        keys = set(p0.funcs) | set(p.funcs)
        rows = [(k, p0.per_op(p0.funcs.get(k, 0)), p.per_op(p.funcs.get(k, 0))) for k in keys]
        rows.sort(key=lambda r: (-abs(r[2] - r[1]), r[0]))
        w0, w1 = max(12, len(p0.kernel)), max(12, len(p.kernel))
        say("  %*s %*s %12s  %s" % (w0, p0.kernel, w1, p.kernel, "difference", "function [place: %s | %s]" % (
            p0.kernel, p.kernel)))
        shown = 0
        for k, x, y in rows[:top]:
            say("  %*s %*s %+12.1f  %s [%s | %s]" % (w0, fmt(x), w1, fmt(y), y - x, short(k, 100),
                                                  p0.where.get(k, "-"), p.where.get(k, "-")))
            shown += y - x
        rest = [r for r in rows[top:]]
        if rest:
            say("  %*s %*s %+12.1f  (the other %d functions)" % (
                w0, "", w1, "", sum(y - x for _, x, y in rest), len(rest)))
        say("")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "report.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


def main():
    args = sys.argv[1:]
    top = 40
    if len(args) >= 2 and args[0] == "--top":
        top = int(args[1])
        args = args[2:]
    if len(args) < 2:
        die("usage: profile-report.py [--top N] OUT_DIR KERNEL...")
    report(args[0], args[1:], top)


if __name__ == "__main__":
    main()
