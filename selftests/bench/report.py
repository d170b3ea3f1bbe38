#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Table and chart of one `make bench` run (selftests/bench/run-bench.sh).

    report.py RESULTS_DIR

Reads results.csv, info.csv, footprint.csv and meta.txt from RESULTS_DIR,
prints the table and writes table.txt, chart.svg and worst.txt there.
Python standard library only.

Per row (mode, op, heap, size): the median ns/op of each boot; the median
of those per kernel; the ratio ours/stock of the two medians; a 95%
interval of the ratio over boots (Welch's t on the logarithms of the
per-boot medians); the distance to the floor measured in the same boot
(per-boot median of the row / per-boot median of the floor, median over
boots).
"""
import csv
import math
import os
import statistics
import sys
from collections import defaultdict

STOCK, OURS = "stock-bench", "bench"
# Rows where no dma-buf code runs: controls of the rig, not in the worst ratio.
CONTROLS = ("floor: memset", "floor: anon mmap+touch+munmap", "floor: dup+close (memfd)")
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}
# B9 rows shown in the table (the chart has every chunk).
B9_TABLE = {0, 100, 1000, 10000, 15000, 50000, 99000}


def t975(df):
    if df >= 30:
        return 1.96 if df > 120 else 2.042
    best = max(d for d in T975 if d <= max(1, math.floor(df)))
    return T975[best]


# Rows of an opt-in feature of the Rust core (B11, the system heap's pool of
# zeroed pages, on for them only), against stock without it: gains and
# costs of the feature, not parity rows, so not in the worst ratio.
OPT_IN = ("B11 ",)


def is_control(op):
    return op.startswith(CONTROLS) or "(memfd floor)" in op


def b9_live(op):
    if op.startswith("B9 ALLOC @"):
        return int(op.split("@")[1].split()[0])
    return None


def floor_of(op, heap, size, mode):
    """(floor op, floor heap, floor size, multiplier) or None."""
    ioctl_dmabuf = ("floor: unknown ioctl (dma-buf fd)", "system", 4096)
    ioctl_heap = ("floor: unknown ioctl (heap fd)", "system", 0)
    vfs = ("floor: dup+close (memfd)", "-", 0)
    if op.startswith("B11 pool worker"):
        return ("floor: memset", "-", 1 << 20, 1)
    if op.startswith("B11 close"):
        return vfs + (1,)
    if op.startswith(("B1 ", "B2 ALLOC", "B10 ", "B11 ALLOC")):
        if size >= 1 << 20:
            return ("floor: memset", "-", size, 1)
        return ioctl_heap + (1,)
    if op.startswith("B2 close") or op.startswith("B9 close"):
        return vfs + (1,)
    if op.startswith("B3 "):
        return ("floor: anon mmap+touch+munmap", "-", size, 1)
    if op.startswith("B4 "):
        return ioctl_dmabuf + (2,)
    if op.startswith("B5 "):
        return ioctl_dmabuf + (1,)
    if op.startswith("B8 ") and "(memfd floor)" not in op:
        return (op + " (memfd floor)", "-", size, 1)
    if op.startswith("B9 ALLOC"):
        return ioctl_heap + (1,)
    return None


def fmt_ns(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return "%.2f ms" % (v / 1e6)
    if v >= 1e4:
        return "%.1f us" % (v / 1e3)
    return "%.0f" % v if v >= 100 else "%.1f" % v


def fmt_size(s):
    if s == 0:
        return "-"
    for unit, n in (("M", 1 << 20), ("K", 1 << 10)):
        if s >= n and s % n == 0:
            return "%d%s" % (s // n, unit)
    return str(s)


def main():
    out = sys.argv[1]
    rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
    info = list(csv.reader(open(os.path.join(out, "info.csv"))))
    meta = open(os.path.join(out, "meta.txt")).read() if os.path.exists(os.path.join(out, "meta.txt")) else ""

    # The guest's clock per boot; a coarse clock voids that boot's wall rows.
    clock = {}
    for r in info:
        if len(r) < 5:
            continue
        mode, k, b, key, val = r[0], r[1], r[2], r[3], ",".join(r[4:])
        c = clock.setdefault((mode, k, b), {})
        if key in ("clocksource", "clock_min_step_ns", "clock_repeats_of_20000", "available_clocksource",
                   "sleep_200ms_ns"):
            c[key] = val
        elif key == "dmesg" and "tsc: Detected" in val:
            c["tsc"] = val.split("Detected")[1].strip()
        elif key == "uname":
            c["uname"] = val
    coarse = set()
    for key, c in clock.items():
        step = int(c.get("clock_min_step_ns", "0") or 0)
        if not c.get("clocksource", "").startswith("tsc") or step > 1000:
            coarse.add(key)

    # Per-boot medians.
    samples = defaultdict(list)
    for r in rows:
        if not r["ns"]:
            continue
        if r["mode"] == "wall" and (r["mode"], r["kernel"], r["boot"]) in coarse:
            continue
        key = (r["mode"], r["op"], r["heap"], int(r["size"]))
        samples[(key, r["kernel"], r["boot"])].append(float(r["ns"]))
    boot_med = defaultdict(dict)  # key -> kernel -> {boot: median}
    for (key, k, b), v in samples.items():
        boot_med[key].setdefault(k, {})[b] = statistics.median(v)

    def row_stats(key):
        s = boot_med[key].get(STOCK, {})
        o = boot_med[key].get(OURS, {})
        ms = statistics.median(s.values()) if s else None
        mo = statistics.median(o.values()) if o else None
        ratio = lo = hi = None
        if ms and mo:
            ratio = mo / ms
            ls = [math.log(x) for x in s.values() if x > 0]
            lo_ = [math.log(x) for x in o.values() if x > 0]
            if len(ls) >= 2 and len(lo_) >= 2:
                vs, vo = statistics.variance(ls) / len(ls), statistics.variance(lo_) / len(lo_)
                d = statistics.mean(lo_) - statistics.mean(ls)
                se = math.sqrt(vs + vo)
                if se > 0:
                    df = (vs + vo) ** 2 / ((vs ** 2) / (len(ls) - 1) + (vo ** 2) / (len(lo_) - 1))
                else:
                    df = len(ls) + len(lo_) - 2
                lo, hi = math.exp(d - t975(df) * se), math.exp(d + t975(df) * se)
        # Distance to the floor, per boot, then the median over boots.
        dist = {}
        fl = floor_of(key[1], key[2], key[3], key[0])
        if fl:
            fkey = (key[0], fl[0], fl[1], fl[2])
            for k in (STOCK, OURS):
                fb = boot_med.get(fkey, {}).get(k, {})
                rb = boot_med[key].get(k, {})
                d = [rb[b] / (fl[3] * fb[b]) for b in rb if b in fb and fb[b] > 0]
                dist[k] = statistics.median(d) if d else None
        return dict(ms=ms, mo=mo, ratio=ratio, lo=lo, hi=hi, floor=fl, dist=dist,
                    nb=(len(s), len(o)))

    order = {"floor": 0, "B1": 1, "B2": 2, "B3": 3, "B4": 4, "B5": 5, "B6": 6, "B7": 7, "B8": 8, "B9": 9, "B10": 10, "B11": 11}

    def sort_key(key):
        mode, op, heap, size = key
        first = op.split()[0]
        grp = order.get(first if first != "floor:" else "floor", 99)
        live = b9_live(op)
        return (mode != "icount", grp, op.startswith("B9"), heap, live if live is not None else 1 << 30, op, size)

    table = []
    for key in sorted(boot_med, key=sort_key):
        live = b9_live(key[1])
        st = row_stats(key)
        st["key"] = key
        st["control"] = is_control(key[1])
        st["b9live"] = live
        table.append(st)

    lines = []
    hdr = "%-38s %-18s %5s %6s %10s %10s %22s %15s" % (
        "operation", "heap", "size", "mode", "stock ns", "ours ns", "ours/stock [95%]", "x floor s/o")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    worst = worst_sig = None
    for st in table:
        mode, op, heap, size = st["key"]
        if st["b9live"] is not None and st["b9live"] not in B9_TABLE:
            continue
        if st["ratio"] is None:
            rtxt = "not measured"
        elif st["lo"] is None:
            rtxt = "%.2f [n/a]" % st["ratio"]
        else:
            rtxt = "%.2f [%.2f-%.2f]" % (st["ratio"], st["lo"], st["hi"])
        if st["floor"]:
            ds, do = st["dist"].get(STOCK), st["dist"].get(OURS)
            ftxt = "%s/%s" % ("%.1f" % ds if ds else "-", "%.1f" % do if do else "-")
        else:
            ftxt = "-"
        name = op + (" *" if st["control"] else "")
        lines.append("%-38s %-18s %5s %6s %10s %10s %22s %15s" % (
            name, heap, fmt_size(size), mode, fmt_ns(st["ms"]), fmt_ns(st["mo"]), rtxt, ftxt))
        parity = not st["control"] and not op.startswith(OPT_IN)
        if parity and st["ratio"] is not None and (worst is None or st["ratio"] > worst["ratio"]):
            worst = st
        if parity and st["lo"] is not None and st["lo"] > 1.0 and \
                (worst_sig is None or st["lo"] > worst_sig["lo"]):
            worst_sig = st
    lines.append("")
    lines.append("ns are per operation (median of each boot's batches, then median over boots);")
    lines.append("* = control row (no dma-buf code runs; its ratio shows the rig's noise).")
    lines.append("x floor s/o = the row divided by its floor in the same boot (stock/ours): unknown ioctl")
    lines.append("on the same kind of fd (x2 for the SYNC pair), dup+close of a memfd for close, memset of")
    lines.append("the size for ALLOC of >= 1 MiB, anonymous mmap+touch for B3, the memfd twin for B8.")
    lines.append("B11: the Rust core with its opt-in pool of zeroed pages on (stock has none), not in the")
    lines.append("worst ratio; its worker's zeroing per MiB is against memset of 1 MiB.")

    # B9 footprint.
    fp = defaultdict(lambda: defaultdict(list))  # (heap, field) -> kernel -> [bytes/buffer]
    counts = {}
    no_slab = False
    if os.path.exists(os.path.join(out, "footprint.csv")):
        for r in csv.reader(open(os.path.join(out, "footprint.csv"))):
            if len(r) < 6:
                continue
            k, b, heap, count, field, nbytes = r[:6]
            if field == "no-slabinfo":
                no_slab = True
                continue
            count = int(count)
            if count <= 0:
                continue
            counts[heap] = count
            fp[(heap, field)][k].append(int(nbytes) / count)
    lines.append("")
    lines.append("B9 footprint: bytes per live 4 KiB buffer (meminfo deltas%s), median over boots" %
                 ("; /proc/slabinfo is absent in the non-debug kernels (no CONFIG_SLUB_DEBUG), so meminfo only"
                  if no_slab else " and slabinfo deltas"))
    lines.append("%-18s %8s %-22s %10s %10s %7s" % ("heap", "buffers", "field", "stock", "ours", "ratio"))
    footprint_rows = []
    for (heap, field), per in sorted(fp.items(), key=lambda x: (x[0][0], not x[0][1].startswith(("MemFree", "Slab")), x[0][1])):
        s = statistics.median(per[STOCK]) if per.get(STOCK) else None
        o = statistics.median(per[OURS]) if per.get(OURS) else None
        if field.startswith("slab:") and max(abs(s or 0), abs(o or 0)) < 1:
            continue
        if not field.startswith("slab:") and field not in ("MemFree", "Slab", "SUnreclaim", "PageTables", "VmallocUsed") \
                and max(abs(s or 0), abs(o or 0)) < 1:
            continue
        label = "MemFree (all)" if field == "MemFree" else field
        lines.append("%-18s %8d %-22s %10s %10s %7s" % (
            heap, counts.get(heap, 0), label, "%.0f" % s if s is not None else "-",
            "%.0f" % o if o is not None else "-", "%.2f" % (o / s) if s and o is not None else "-"))
        footprint_rows.append((heap, field, s, o))
    lines.append("MemFree (all) includes the 4096 bytes of the buffer itself.")

    # The clock.
    lines.append("")
    lines.append("guest clock per boot (mode kernel boot: clocksource, smallest CLOCK_MONOTONIC step,")
    lines.append("a 200 ms nanosleep as the guest timed it, TSC frequency the guest used):")
    for key in sorted(clock, key=lambda k: (k[0], k[2], k[1])):
        c = clock[key]
        sl = c.get("sleep_200ms_ns")
        lines.append("  %-6s %-11s %s: %-11s step %5s ns, sleep %s ms, %s%s" % (
            key[0], key[1], key[2], c.get("clocksource", "?"), c.get("clock_min_step_ns", "?"),
            "%.1f" % (int(sl) / 1e6) if sl else "?", c.get("tsc", "?"),
            "  COARSE: wall rows of this boot left out" if key in coarse else ""))
    unames = sorted({c.get("uname") for c in clock.values() if c.get("uname")})
    if unames:
        lines.append("guest kernels: " + ", ".join(unames))
    errs = open(os.path.join(out, "errors.txt")).read().strip() if os.path.exists(os.path.join(out, "errors.txt")) else ""
    if errs:
        lines.append("")
        lines.append("not measured / errors:")
        lines.extend("  " + e for e in errs.splitlines())
    if worst:
        w = worst["key"]
        wline = "worst ratio: %.2f (%s, %s, %s)" % (worst["ratio"], w[1], w[2], fmt_size(w[3]) if w[3] else "-")
    else:
        wline = "worst ratio: none (nothing measured on both kernels)"
    if worst_sig:
        w = worst_sig["key"]
        lines.append("")
        lines.append("highest lower bound above 1.00: %.2f [%.2f-%.2f] (%s, %s, %s, %s)" % (
            worst_sig["ratio"], worst_sig["lo"], worst_sig["hi"], w[1], w[2], fmt_size(w[3]) if w[3] else "-", w[0]))
        n_above = sum(1 for st in table if not st["control"] and st["lo"] is not None and st["lo"] > 1.0
                      and (st["b9live"] is None or st["b9live"] in B9_TABLE))
        lines.append("rows whose whole interval is above 1.00: %d" % n_above)
    lines.append("")
    lines.append(wline)
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    open(os.path.join(out, "table.txt"), "w").write(meta + "\n" + text)
    open(os.path.join(out, "worst.txt"), "w").write(wline + "\n")
    write_svg(os.path.join(out, "chart.svg"), table, boot_med, meta, wline)


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(path, table, boot_med, meta, wline):
    rows = [st for st in table if st["ratio"] is not None and not st["control"] and st["b9live"] is None]
    W, left, right, top, rh = 1100, 420, 40, 70, 15
    plot_w = W - left - right
    vals = [v for st in rows for v in (st["ratio"], st["lo"], st["hi"]) if v]
    lo_v = min(vals + [0.8]) * 0.9
    hi_v = max(vals + [1.2]) * 1.1
    lmin, lmax = math.log10(lo_v), math.log10(hi_v)

    def x(v):
        return left + (math.log10(v) - lmin) / (lmax - lmin) * plot_w

    h1 = top + rh * len(rows) + 50
    # B9 panel.
    b9 = defaultdict(dict)  # (heap, kernel) -> live -> median ns/op over boots
    for key, per in boot_med.items():
        live = b9_live(key[1])
        if live is None:
            continue
        for k, bm in per.items():
            b9[(key[2], k)][live] = statistics.median(bm.values())
    p2_top, p2_h = h1 + 60, 300
    H = p2_top + p2_h + 80
    o = []
    o.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'font-family="DejaVu Sans, Arial, sans-serif" font-size="11">' % (W, H, W, H))
    o.append('<rect width="100%" height="100%" fill="white"/>')
    date = next((l[6:] for l in meta.splitlines() if l.startswith("date: ")), "")
    kv = next((l[15:] for l in meta.splitlines() if l.startswith("kernel source: ")), "")
    o.append('<text x="10" y="22" font-size="15" font-weight="bold">dma-buf: Rust core (bench) / C core (stock-bench), '
             'median ns per op, ratio with 95% interval over boots</text>')
    o.append('<text x="10" y="40" fill="#444">%s · %s · %s · left of 1.00 = Rust faster</text>' % (
        esc(date), esc(kv), esc(wline)))
    # Grid.
    cand = (0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5, 2) if hi_v / lo_v < 5 else \
        (0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2, 5, 10)
    ticks = [t for t in cand if lo_v <= t <= hi_v]
    ybot = top + rh * len(rows)
    for t in ticks:
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="%s"/>' % (
            x(t), top - 8, x(t), ybot, "#c00" if t == 1.0 else "#ddd", "1.5" if t == 1.0 else "1"))
        o.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#333">%.2f</text>' % (x(t), ybot + 14, t))
        o.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#333">%.2f</text>' % (x(t), top - 12, t))
    o.append('<text x="%.1f" y="%d" text-anchor="middle">ratio ours/stock (log scale)</text>' % (
        left + plot_w / 2, ybot + 30))
    for i, st in enumerate(rows):
        mode, op, heap, size = st["key"]
        y = top + rh * i + rh / 2
        if i % 2 == 0:
            o.append('<rect x="5" y="%.1f" width="%d" height="%d" fill="#f4f4f4"/>' % (y - rh / 2, W - 10, rh))
        label = "%s · %s · %s · %s" % (op, heap.replace("default_cma_region", "cma"), fmt_size(size), mode)
        o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 8, y + 4, esc(label)))
        above = st["ratio"] > 1.0
        color = "#c0392b" if above else "#1f618d"
        if st["lo"]:
            o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>' % (
                x(max(st["lo"], lo_v)), y, x(min(st["hi"], hi_v)), y, color))
        o.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>' % (x(st["ratio"]), y, color))
        o.append('<text x="%.1f" y="%.1f" fill="%s">%.2f</text>' % (
            min(x(st["hi"] or st["ratio"]) + 6, W - 35), y + 4, color, st["ratio"]))
    # Panel 2: B9 ns/alloc against live buffers.
    o.append('<text x="10" y="%d" font-size="14" font-weight="bold">B9: ns per ALLOC (4 KiB, log scale) against the '
             'number of live buffers, median over boots</text>' % (p2_top - 25))
    pts = [v for d in b9.values() for v in d.values() if v > 0]
    if pts:
        lives = [lv for d in b9.values() for lv in d]
        xmax = max(lives) * 1.1 if lives else 10
        ymin, ymax = min(pts) / 1.5, max(pts) * 1.5
        px0, px1, py0, py1 = left - 300, W - right - 160, p2_top + p2_h, p2_top

        def bx(lv):
            return px0 + math.log10(max(lv, 1)) / math.log10(xmax) * (px1 - px0)

        def by(v):
            return py0 - (math.log10(v) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin)) * (py0 - py1)

        o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (px0, py1, px1 - px0, py0 - py1))
        for t in (1, 10, 100, 1000, 10000, 100000):
            if t <= xmax:
                o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (bx(t), py1, bx(t), py0))
                o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (bx(t), py0 + 14, "{:,}".format(t)))
        yt = [m * 10 ** e for e in range(0, 10) for m in (1, 2, 5) if ymin <= m * 10 ** e <= ymax]
        for v in yt:
            o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (px0, by(v), px1, by(v)))
            o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (px0 - 5, by(v) + 4, fmt_ns(v)))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">live buffers before the chunk (log scale; '
                 'chunk 0 is the first 10 allocations)</text>' % ((px0 + px1) / 2, py0 + 32))
        styles = {("system", STOCK): ("#7f8c8d", "6,3"), ("system", OURS): ("#1f618d", ""),
                  ("default_cma_region", STOCK): ("#e59866", "6,3"), ("default_cma_region", OURS): ("#c0392b", "")}
        ly = py1 + 10
        for (heap, k), d in sorted(b9.items()):
            color, dash = styles.get((heap, k), ("#000", ""))
            pl = " ".join("%.1f,%.1f" % (bx(lv), by(v)) for lv, v in sorted(d.items()))
            o.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2" %s/>' % (
                pl, color, 'stroke-dasharray="%s"' % dash if dash else ""))
            name = "%s, %s" % ("cma" if heap != "system" else "system", "stock C" if k == STOCK else "ours (Rust)")
            o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" %s/>' % (
                px1 + 10, ly, px1 + 35, ly, color, 'stroke-dasharray="%s"' % dash if dash else ""))
            o.append('<text x="%d" y="%d">%s</text>' % (px1 + 40, ly + 4, esc(name)))
            ly += 18
    else:
        o.append('<text x="20" y="%d">no B9 data</text>' % (p2_top + 20))
    o.append("</svg>")
    open(path, "w").write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
