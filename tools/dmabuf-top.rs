// SPDX-License-Identifier: GPL-2.0
//! dmabuf-top: who holds the dma-buf memory.
//!
//! Joins the Rust dma-buf core's ownership ledger
//! (`/sys/kernel/debug/dma_buf/owners`, format 1, see
//! `Documentation/dma-buf-rust.rst`) with every process's fds
//! (`/proc/PID/fdinfo`) and mappings (`/proc/PID/maps`), as Android's
//! `dmabuf_dump` does with the latter two, and shows:
//!
//! - per process: the buffers and bytes it holds by fd, by mapping, and
//!   either way, and its proportional share (each buffer's size split
//!   evenly between the processes holding it);
//! - per device: the buffers attached and mapped, and their bytes;
//! - per exporter (heap or driver): buffers and bytes;
//! - every buffer: exporter, name, the task that exported it (alive or
//!   not), its holders, its importers, kernel vmaps and open CPU accesses.
//!
//! Usage: `dmabuf-top [--once] [--json] [--sort bytes|count|name]
//! [--interval SECONDS]`. Without `--once` or `--json` the screen is
//! redrawn every interval (2 s) until interrupted. Needs root (debugfs).
//!
//! Build (std only, a static binary):
//! `rustc --edition 2021 -O -C target-feature=+crt-static -o dmabuf-top tools/dmabuf-top.rs`

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

const OWNERS: &str = "/sys/kernel/debug/dma_buf/owners";

/// One attachment line of the ledger.
#[derive(Clone, Default)]
struct Attachment {
    device: String,
    kind: String,
    pins: u64,
    maps: [u64; 4],
}

/// One buffer of the ledger, with what /proc says of it.
#[derive(Clone, Default)]
struct Buffer {
    ino: u64,
    size: u64,
    exporter: String,
    name: Option<String>,
    refs: u64,
    tgid: i64,
    comm: String,
    cgroup: u64,
    vmaps: u64,
    cpu: [u64; 4],
    attachments: Vec<Attachment>,
    /// pid -> (fds, mappings)
    holders: BTreeMap<i64, (u64, u64)>,
}

/// A process holding buffers.
#[derive(Default)]
struct Process {
    comm: String,
    fd_buffers: u64,
    fd_bytes: u64,
    map_buffers: u64,
    map_bytes: u64,
    buffers: u64,
    bytes: u64,
    pss: u64,
}

#[derive(Default)]
struct Device {
    attached: u64,
    attached_bytes: u64,
    mapped: u64,
    mapped_bytes: u64,
}

/// The ledger's escapes undone: `\xHH` is a byte, `""` is empty.
fn unescape(v: &str) -> String {
    if v == "\"\"" {
        return String::new();
    }
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1] == b'x' {
            if let Some(c) = v
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(c);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fields(line: &str) -> BTreeMap<&str, &str> {
    line.split(' ')
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

fn num(f: &BTreeMap<&str, &str>, k: &str) -> u64 {
    f.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn dirs(f: &BTreeMap<&str, &str>, k: &str) -> [u64; 4] {
    let mut d = [0; 4];
    if let Some(v) = f.get(k) {
        for (i, n) in v.split(',').take(4).enumerate() {
            d[i] = n.parse().unwrap_or(0);
        }
    }
    d
}

/// Parses the ledger.
fn parse_owners(text: &str) -> Result<Vec<Buffer>, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some("# dma_buf owners 1") => {}
        Some(l) => {
            return Err(format!(
                "{OWNERS}: unknown format ({l:?}); this tool reads format 1"
            ))
        }
        None => return Err(format!("{OWNERS} is empty")),
    }
    let mut bufs: Vec<Buffer> = Vec::new();
    for line in lines {
        let f = fields(line);
        if line.starts_with("buffer ") {
            let name = f.get("name").copied().unwrap_or("-");
            bufs.push(Buffer {
                ino: num(&f, "ino"),
                size: num(&f, "size"),
                exporter: unescape(f.get("exporter").copied().unwrap_or("")),
                name: (name != "-").then(|| unescape(name)),
                refs: num(&f, "refs"),
                tgid: num(&f, "tgid") as i64,
                comm: unescape(f.get("comm").copied().unwrap_or("")),
                cgroup: num(&f, "cgroup"),
                vmaps: num(&f, "vmaps"),
                cpu: dirs(&f, "cpu"),
                ..Default::default()
            });
        } else if line.starts_with("attachment ") {
            let ino = num(&f, "ino");
            if let Some(b) = bufs.iter_mut().rev().find(|b| b.ino == ino) {
                b.attachments.push(Attachment {
                    device: unescape(f.get("device").copied().unwrap_or("")),
                    kind: f.get("kind").copied().unwrap_or("").to_string(),
                    pins: num(&f, "pins"),
                    maps: dirs(&f, "maps"),
                });
            }
        }
    }
    Ok(bufs)
}

fn comm_of(pid: i64) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Every process's dma-buf fds and mappings, into the buffers' holders;
/// returns the processes' names.
fn scan_procs(bufs: &mut [Buffer]) -> BTreeMap<i64, String> {
    let mut names = BTreeMap::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return names;
    };
    let index: BTreeMap<u64, usize> = bufs.iter().enumerate().map(|(i, b)| (b.ino, i)).collect();
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        let mut found = false;
        if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fdinfo")) {
            for fd in fds.flatten() {
                let Ok(info) = fs::read_to_string(fd.path()) else {
                    continue;
                };
                if !info.lines().any(|l| l.starts_with("exp_name:")) {
                    continue;
                }
                let ino = info
                    .lines()
                    .find_map(|l| l.strip_prefix("ino:"))
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if let Some(&i) = ino.and_then(|ino| index.get(&ino)) {
                    bufs[i].holders.entry(pid).or_default().0 += 1;
                    found = true;
                }
            }
        }
        if let Ok(maps) = fs::read_to_string(format!("/proc/{pid}/maps")) {
            for l in maps
                .lines()
                .filter(|l| l.contains("/dmabuf:") || l.contains("anon_inode:dmabuf"))
            {
                let ino = l
                    .split_whitespace()
                    .nth(4)
                    .and_then(|v| v.parse::<u64>().ok());
                if let Some(&i) = ino.and_then(|ino| index.get(&ino)) {
                    bufs[i].holders.entry(pid).or_default().1 += 1;
                    found = true;
                }
            }
        }
        if found {
            names.insert(pid, comm_of(pid).unwrap_or_default());
        }
    }
    names
}

struct View {
    bufs: Vec<Buffer>,
    procs: BTreeMap<i64, Process>,
    devices: BTreeMap<String, Device>,
    exporters: BTreeMap<String, (u64, u64)>,
}

fn build_view(mut bufs: Vec<Buffer>) -> View {
    let names = scan_procs(&mut bufs);
    let mut procs: BTreeMap<i64, Process> = BTreeMap::new();
    let mut devices: BTreeMap<String, Device> = BTreeMap::new();
    let mut exporters: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for b in &bufs {
        let share = if b.holders.is_empty() {
            0
        } else {
            b.size / b.holders.len() as u64
        };
        for (&pid, &(fds, maps)) in &b.holders {
            let p = procs.entry(pid).or_default();
            p.comm = names.get(&pid).cloned().unwrap_or_default();
            if fds > 0 {
                p.fd_buffers += 1;
                p.fd_bytes += b.size;
            }
            if maps > 0 {
                p.map_buffers += 1;
                p.map_bytes += b.size;
            }
            p.buffers += 1;
            p.bytes += b.size;
            p.pss += share;
        }
        for a in &b.attachments {
            let d = devices.entry(a.device.clone()).or_default();
            d.attached += 1;
            d.attached_bytes += b.size;
            if a.maps.iter().sum::<u64>() > 0 {
                d.mapped += 1;
                d.mapped_bytes += b.size;
            }
        }
        let e = exporters.entry(b.exporter.clone()).or_default();
        e.0 += 1;
        e.1 += b.size;
    }
    View {
        bufs,
        procs,
        devices,
        exporters,
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn json(v: &View) -> String {
    let mut o = String::new();
    let total: u64 = v.bufs.iter().map(|b| b.size).sum();
    let _ = write!(
        o,
        "{{\"format\":1,\"buffers\":{},\"bytes\":{},",
        v.bufs.len(),
        total
    );
    o.push_str("\"processes\":[");
    for (i, (pid, p)) in v.procs.iter().enumerate() {
        let _ = write!(
            o,
            "{}{{\"pid\":{},\"comm\":{},\"buffers\":{},\"bytes\":{},\"fd_buffers\":{},\"fd_bytes\":{},\"map_buffers\":{},\"map_bytes\":{},\"pss\":{}}}",
            if i > 0 { "," } else { "" },
            pid,
            json_str(&p.comm),
            p.buffers,
            p.bytes,
            p.fd_buffers,
            p.fd_bytes,
            p.map_buffers,
            p.map_bytes,
            p.pss
        );
    }
    o.push_str("],\"devices\":[");
    for (i, (name, d)) in v.devices.iter().enumerate() {
        let _ = write!(
            o,
            "{}{{\"device\":{},\"attached\":{},\"attached_bytes\":{},\"mapped\":{},\"mapped_bytes\":{}}}",
            if i > 0 { "," } else { "" },
            json_str(name),
            d.attached,
            d.attached_bytes,
            d.mapped,
            d.mapped_bytes
        );
    }
    o.push_str("],\"exporters\":[");
    for (i, (name, (n, bytes))) in v.exporters.iter().enumerate() {
        let _ = write!(
            o,
            "{}{{\"exporter\":{},\"buffers\":{},\"bytes\":{}}}",
            if i > 0 { "," } else { "" },
            json_str(name),
            n,
            bytes
        );
    }
    o.push_str("],\"list\":[");
    for (i, b) in v.bufs.iter().enumerate() {
        let _ = write!(
            o,
            "{}{{\"ino\":{},\"size\":{},\"exporter\":{},\"name\":{},\"refs\":{},\"exported_by\":{{\"tgid\":{},\"comm\":{},\"alive\":{},\"cgroup\":{}}},\"vmaps\":{},\"cpu_open\":[{},{},{},{}],\"holders\":[",
            if i > 0 { "," } else { "" },
            b.ino,
            b.size,
            json_str(&b.exporter),
            b.name.as_deref().map_or("null".to_string(), json_str),
            b.refs,
            b.tgid,
            json_str(&b.comm),
            alive(b.tgid),
            b.cgroup,
            b.vmaps,
            b.cpu[0],
            b.cpu[1],
            b.cpu[2],
            b.cpu[3]
        );
        for (j, (pid, (fds, maps))) in b.holders.iter().enumerate() {
            let _ = write!(
                o,
                "{}{{\"pid\":{},\"fds\":{},\"maps\":{}}}",
                if j > 0 { "," } else { "" },
                pid,
                fds,
                maps
            );
        }
        o.push_str("],\"importers\":[");
        for (j, a) in b.attachments.iter().enumerate() {
            let _ = write!(
                o,
                "{}{{\"device\":{},\"kind\":{},\"pins\":{},\"maps\":[{},{},{},{}]}}",
                if j > 0 { "," } else { "" },
                json_str(&a.device),
                json_str(&a.kind),
                a.pins,
                a.maps[0],
                a.maps[1],
                a.maps[2],
                a.maps[3]
            );
        }
        o.push_str("]}");
    }
    o.push_str("]}\n");
    o
}

fn alive(tgid: i64) -> bool {
    fs::metadata(format!("/proc/{tgid}")).is_ok()
}

fn kib(b: u64) -> u64 {
    b.div_ceil(1024)
}

#[derive(Clone, Copy)]
enum Sort {
    Bytes,
    Count,
    Name,
}

fn table(v: &View, sort: Sort) -> String {
    let mut o = String::new();
    let total: u64 = v.bufs.iter().map(|b| b.size).sum();
    let _ = writeln!(o, "dma-buf: {} buffers, {} KiB\n", v.bufs.len(), kib(total));
    let _ = writeln!(
        o,
        "PROCESSES\n{:>7} {:<16} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "PID", "COMM", "BUFFERS", "KIB", "FD-KIB", "MAP-KIB", "PSS-KIB"
    );
    let mut procs: Vec<_> = v.procs.iter().collect();
    match sort {
        Sort::Bytes => procs.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0))),
        Sort::Count => procs.sort_by(|a, b| b.1.buffers.cmp(&a.1.buffers).then(a.0.cmp(b.0))),
        Sort::Name => procs.sort_by(|a, b| a.1.comm.cmp(&b.1.comm).then(a.0.cmp(b.0))),
    }
    for (pid, p) in procs {
        let _ = writeln!(
            o,
            "{:>7} {:<16} {:>7} {:>9} {:>9} {:>9} {:>9}",
            pid,
            p.comm,
            p.buffers,
            kib(p.bytes),
            kib(p.fd_bytes),
            kib(p.map_bytes),
            kib(p.pss)
        );
    }
    let _ = writeln!(
        o,
        "\nDEVICES\n{:<24} {:>8} {:>9} {:>7} {:>9}",
        "DEVICE", "ATTACHED", "KIB", "MAPPED", "MAP-KIB"
    );
    let mut devs: Vec<_> = v.devices.iter().collect();
    devs.sort_by(|a, b| {
        b.1.attached_bytes
            .cmp(&a.1.attached_bytes)
            .then(a.0.cmp(b.0))
    });
    for (name, d) in devs {
        let _ = writeln!(
            o,
            "{:<24} {:>8} {:>9} {:>7} {:>9}",
            name,
            d.attached,
            kib(d.attached_bytes),
            d.mapped,
            kib(d.mapped_bytes)
        );
    }
    let _ = writeln!(
        o,
        "\nEXPORTERS\n{:<24} {:>7} {:>9}",
        "EXPORTER", "BUFFERS", "KIB"
    );
    let mut exps: Vec<_> = v.exporters.iter().collect();
    exps.sort_by(|a, b| (b.1).1.cmp(&(a.1).1).then(a.0.cmp(b.0)));
    for (name, (n, bytes)) in exps {
        let _ = writeln!(o, "{:<24} {:>7} {:>9}", name, n, kib(*bytes));
    }
    let _ = writeln!(
        o,
        "\nBUFFERS\n{:>8} {:>9} {:<20} {:<16} {:<24} {:<16} {:<20} KERNEL",
        "INO", "KIB", "EXPORTER", "NAME", "EXPORTED BY", "HOLDERS", "IMPORTERS"
    );
    let mut bufs: Vec<_> = v.bufs.iter().collect();
    bufs.sort_by(|a, b| b.size.cmp(&a.size).then(a.ino.cmp(&b.ino)));
    for b in bufs {
        let by = format!(
            "{} {}{}",
            b.tgid,
            b.comm,
            if alive(b.tgid) { "" } else { " (exited)" }
        );
        let holders = if b.holders.is_empty() {
            "-".to_string()
        } else {
            b.holders
                .keys()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let importers = if b.attachments.is_empty() {
            "-".to_string()
        } else {
            b.attachments
                .iter()
                .map(|a| a.device.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let cpu: u64 = b.cpu.iter().sum();
        let _ = writeln!(
            o,
            "{:>8} {:>9} {:<20} {:<16} {:<24} {:<16} {:<20} vmaps={} cpu={}{}",
            b.ino,
            kib(b.size),
            b.exporter,
            b.name.as_deref().unwrap_or("-"),
            by,
            holders,
            importers,
            b.vmaps,
            cpu,
            if b.holders.is_empty() {
                " (no process holds it)"
            } else {
                ""
            }
        );
    }
    o
}

fn usage() -> ExitCode {
    eprintln!("usage: dmabuf-top [--once] [--json] [--sort bytes|count|name] [--interval SECONDS]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let (mut once, mut as_json, mut sort, mut interval) = (false, false, Sort::Bytes, 2u64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--once" => once = true,
            "--json" => as_json = true,
            "--sort" => {
                sort = match args.next().as_deref() {
                    Some("bytes") => Sort::Bytes,
                    Some("count") => Sort::Count,
                    Some("name") => Sort::Name,
                    _ => return usage(),
                }
            }
            "--interval" => match args.next().and_then(|v| v.parse().ok()) {
                Some(s) if s > 0 => interval = s,
                _ => return usage(),
            },
            "-h" | "--help" => {
                println!("dmabuf-top: who holds the dma-buf memory (see the source's header)");
                usage();
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    loop {
        let text = match fs::read_to_string(OWNERS) {
            Ok(t) => t,
            Err(e) => {
                let why = match e.kind() {
                    io::ErrorKind::PermissionDenied => "run it as root",
                    io::ErrorKind::NotFound => {
                        "debugfs must be mounted (mount -t debugfs none /sys/kernel/debug), and the kernel must run the Rust dma-buf core (the C core has no ledger)"
                    }
                    _ => "",
                };
                eprintln!("dmabuf-top: cannot read {OWNERS}: {e}; {why}");
                return ExitCode::FAILURE;
            }
        };
        let bufs = match parse_owners(&text) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("dmabuf-top: {e}");
                return ExitCode::FAILURE;
            }
        };
        let view = build_view(bufs);
        let out = if as_json {
            json(&view)
        } else {
            table(&view, sort)
        };
        let mut stdout = io::stdout().lock();
        if !(once || as_json) {
            let _ = stdout.write_all(b"\x1b[H\x1b[2J");
        }
        if stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
        if once || as_json {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_secs(interval));
    }
}
