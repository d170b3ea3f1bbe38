#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that the crate's layout is its architecture (see the crate root,
dmabuf_rs_main.rs):

- only the bottom layer (sys.rs, sys/) names `bindings::`;
- a file uses only its own layer and the layers below it:
    uapi < sys < dma_buf < entry, heaps (entry and heaps do not use each
    other); the crate root may use everything;
- no two files import each other, directly or through others.

Imports are read from `crate::...` and `super::...` paths anywhere in a
file (use lines and expressions alike). Prints one line per problem and
exits 1 if there is any; run from anywhere.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATE_ROOT = "dmabuf_rs_main.rs"
RANK = {"uapi": 0, "sys": 1, "dma_buf": 2, "entry": 3, "heaps": 3}


def rust_files():
    out = [CRATE_ROOT]
    for top in RANK:
        if os.path.exists(os.path.join(ROOT, top + ".rs")):
            out.append(top + ".rs")
        for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
            for n in names:
                if n.endswith(".rs"):
                    out.append(os.path.relpath(os.path.join(dirpath, n), ROOT))
    return sorted(out)


def module_of(path):
    """Module path segments of a file: 'sys/dma_buf.rs' -> ['sys', 'dma_buf']."""
    if path == CRATE_ROOT:
        return []
    return path[:-3].split("/")


def file_of(segments, files):
    """The file defining the longest prefix of a module path."""
    for n in range(len(segments), 0, -1):
        cand = "/".join(segments[:n]) + ".rs"
        if cand in files:
            return cand
    return CRATE_ROOT


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def expand_uses(text):
    """Yields the module paths a file refers to: `crate::a::b` and
    `super::x`, with `{...}` groups of use lines expanded one level. In the
    KUnit module at the bottom of a file (`#[kunit_tests(...)] mod tests`),
    `super` is the file itself: yielded as `self`."""
    tests_at = text.find("#[kunit_tests(")
    for m in re.finditer(r"\b(crate|super)((?:::\w+)*)(::\{([^}]*)\})?", text):
        first = m.group(1)
        if first == "super" and 0 <= tests_at < m.start():
            first = "self"
        base = [first] + [s for s in m.group(2).split("::") if s]
        if m.group(4) is not None:
            for item in m.group(4).split(","):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self":
                    yield base + [s for s in item.split("::") if s]
                else:
                    yield base
        else:
            yield base


def layer(path):
    return path.split("/")[0].removesuffix(".rs") if path != CRATE_ROOT else None


def main():
    files = set(rust_files())
    problems = []
    edges = {f: set() for f in files}
    for f in sorted(files):
        text = strip_comments(open(os.path.join(ROOT, f)).read())
        mine = layer(f)
        if mine != "sys" and re.search(r"\bbindings::", text):
            problems.append(f"{f}: names bindings:: outside the bottom layer (sys/)")
        here = module_of(f)
        # Paths to child modules (`child::item` in `a.rs` for `a/child.rs`).
        children = {os.path.basename(c)[:-3] for c in files if c.startswith("/".join(here) + "/" if here else "@") and c.count("/") == len(here)}
        child_paths = [["crate"] + here + [m.group(1)] for m in re.finditer(r"(?<![:\w])(\w+)::", text) if m.group(1) in children]
        # A file `a/b.rs` is module a::b; `super` of its items is `a`.
        for path in list(expand_uses(text)) + child_paths:
            if path[0] == "self":
                segs = here + path[1:]
            elif path[0] == "super":
                if len(path) > 1 and path[1] == "super":
                    problems.append(f"{f}: uses super::super (name the module from crate:: instead)")
                    continue
                segs = here[:-1] + path[1:]
            else:
                segs = path[1:]
            target = file_of(segs, files)
            if target == f:
                continue
            edges[f].add(target)
            theirs = layer(target)
            if mine is None or theirs is None or theirs == mine:
                continue
            if RANK[theirs] >= RANK[mine]:
                problems.append(f"{f}: layer {mine} uses {target} of layer {theirs} (same or higher)")
    # Cycles between files.
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges[n]):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                problems.append("import cycle: " + " -> ".join(cyc))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(files):
        if n not in state:
            visit(n)
    for p in problems:
        print(p)
    counts = {}
    for f in files:
        lines = sum(1 for _ in open(os.path.join(ROOT, f)))
        counts[layer(f) or "root"] = counts.get(layer(f) or "root", 0) + lines
    total = sum(counts.values())
    print("# lines per layer: " + ", ".join(f"{k} {v} ({100 * v // total}%)" for k, v in sorted(counts.items())))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
