// SPDX-License-Identifier: GPL-2.0
//
// Checks selftests/syzkaller/dmabuf_rs.txt with syzkaller's own packages.
// Built by check.sh inside a copy of a syzkaller tree whose sys/linux
// already holds dmabuf_rs.txt{,.const} and whose sys/gen was made by
// syz-sysgen from it.
//
//	checker desc SYZKALLER_DIR TXT  parse, syz-fmt form, consts, compile
//	                                 linux/amd64 (pkg/ast, pkg/compiler)
//	checker gen                     generate and mutate programs with our
//	                                 calls (prog, linux/amd64 target)
package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/syzkaller/pkg/ast"
	"github.com/google/syzkaller/pkg/compiler"
	"github.com/google/syzkaller/prog"
	_ "github.com/google/syzkaller/sys"
	"github.com/google/syzkaller/sys/targets"
)

func main() {
	switch {
	case len(os.Args) == 4 && os.Args[1] == "desc":
		checkDesc(os.Args[2], os.Args[3])
	case len(os.Args) == 2 && os.Args[1] == "gen":
		checkGen()
	default:
		fmt.Fprintf(os.Stderr, "usage: checker desc SYZKALLER_DIR TXT | checker gen\n")
		os.Exit(2)
	}
}

// checkDesc: the description on its own and within sys/linux.
func checkDesc(syz, txt string) {
	fails := 0
	var msgs []string
	eh := func(pos ast.Pos, msg string) { msgs = append(msgs, fmt.Sprintf("%v: %v", pos, msg)) }

	data, err := os.ReadFile(txt)
	if err != nil {
		panic(err)
	}
	desc := ast.Parse(data, filepath.Base(txt), eh)
	if desc == nil {
		fmt.Printf("FAIL parse:\n%v\n", strings.Join(msgs, "\n"))
		os.Exit(1)
	}
	fmt.Printf("ok   parse (%d top-level nodes)\n", len(desc.Nodes))
	if f := ast.Format(desc); !bytes.Equal(f, data) {
		os.WriteFile("/tmp/dmabuf_rs.formatted.txt", f, 0644)
		fmt.Printf("FAIL format: not in syz-fmt form, see /tmp/dmabuf_rs.formatted.txt\n")
		fails++
	} else {
		fmt.Printf("ok   format (ast.Format gives the file back byte for byte)\n")
	}

	// All of sys/linux plus ours (skipped in the glob if already there).
	files, _ := filepath.Glob(filepath.Join(syz, "sys", "linux", "*.txt"))
	all := &ast.Description{}
	for _, f := range files {
		if filepath.Base(f) == filepath.Base(txt) {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		d := ast.Parse(data, filepath.Base(f), eh)
		if d == nil {
			fmt.Printf("FAIL parse %v:\n%v\n", f, strings.Join(msgs, "\n"))
			os.Exit(1)
		}
		all.Nodes = append(all.Nodes, d.Nodes...)
	}
	all.Nodes = append(all.Nodes, desc.Nodes...)
	target := targets.List[targets.Linux][targets.AMD64]
	msgs = nil
	infos := compiler.ExtractConsts(all, target, eh)
	if infos == nil {
		fmt.Printf("FAIL const extraction (type check):\n%v\n", strings.Join(msgs, "\n"))
		os.Exit(1)
	}
	info := infos[filepath.Base(txt)]
	need := map[string]bool{}
	for _, c := range info.Consts {
		need[c.Name] = true
	}
	fmt.Printf("ok   type check; consts the file uses: %d; includes: %v\n", len(need), info.Includes)

	cf := compiler.DeserializeConstFile(txt+".const", eh)
	if cf == nil {
		fmt.Printf("FAIL reading %v.const:\n%v\n", txt, strings.Join(msgs, "\n"))
		os.Exit(1)
	}
	have := cf.Arch(targets.AMD64)
	var missing, extra []string
	for n := range need {
		if _, ok := have[n]; !ok {
			missing = append(missing, n)
		}
	}
	for n := range have {
		if !need[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) != 0 {
		fmt.Printf("FAIL .const: missing %v, unused %v\n", missing, extra)
		fails++
	} else {
		fmt.Printf("ok   .const has exactly the %d consts the file uses (amd64)\n", len(have))
	}
	// Compare with upstream's values where upstream has the same name.
	cfiles, _ := filepath.Glob(filepath.Join(syz, "sys", "linux", "*.const"))
	up := map[string]uint64{}
	for _, f := range cfiles {
		if filepath.Base(f) == filepath.Base(txt)+".const" {
			continue
		}
		cf := compiler.DeserializeConstFile(f, eh)
		if cf == nil {
			fmt.Printf("FAIL reading %v:\n%v\n", f, strings.Join(msgs, "\n"))
			os.Exit(1)
		}
		for n, v := range cf.Arch(targets.AMD64) {
			up[n] = v
		}
	}
	same, differ := 0, 0
	for n, v := range have {
		if uv, ok := up[n]; ok {
			if uv != v {
				fmt.Printf("FAIL const %v = %#x here, %#x in syzkaller's sys/linux\n", n, v, uv)
				differ++
			} else {
				same++
			}
		}
	}
	fmt.Printf("%s consts also in syzkaller's sys/linux/*.const: %d equal, %d differ\n",
		map[bool]string{true: "ok  ", false: "FAIL"}[differ == 0], same, differ)
	fails += differ

	// Compile linux/amd64 with upstream consts merged with ours.
	consts := map[string]uint64{}
	for n, v := range up {
		consts[n] = v
	}
	for n, v := range have {
		consts[n] = v
	}
	msgs = nil
	res := compiler.Compile(all, consts, target, eh)
	var ours []string
	for _, m := range msgs {
		if strings.Contains(m, filepath.Base(txt)) {
			ours = append(ours, m)
		}
	}
	if res == nil {
		fmt.Printf("FAIL compile linux/amd64:\n%v\n", strings.Join(msgs, "\n"))
		os.Exit(1)
	}
	if len(ours) != 0 {
		fmt.Printf("FAIL compiler warnings for our file:\n%v\n", strings.Join(ours, "\n"))
		fails++
	}
	n := 0
	for _, c := range res.Syscalls {
		if strings.Contains(c.Name, "dmabuf_rs") {
			n++
			fmt.Printf("     call %v (nr %v)\n", c.Name, c.NR)
		}
	}
	var unsup []string
	for u := range res.Unsupported {
		if strings.Contains(u, "dmabuf_rs") {
			unsup = append(unsup, u)
		}
	}
	if len(unsup) != 0 {
		fmt.Printf("FAIL unsupported on amd64: %v\n", unsup)
		fails++
	}
	fmt.Printf("ok   compile linux/amd64: %d syscalls in all, %d of ours\n", len(res.Syscalls), n)
	if fails != 0 {
		os.Exit(1)
	}
}

// checkGen: programs over our calls (plus sw_sync and sync_file ioctls,
// close and dup) must validate, encode and survive the text form.
func checkGen() {
	target, err := prog.GetTarget("linux", "amd64")
	if err != nil {
		panic(err)
	}
	want := func(name string) bool {
		return strings.Contains(name, "dmabuf_rs") || name == "openat$sw_sync" ||
			strings.HasPrefix(name, "ioctl$SW_SYNC_IOC_") || strings.HasPrefix(name, "ioctl$SYNC_IOC_") ||
			name == "close" || name == "dup"
	}
	enabled := map[*prog.Syscall]bool{}
	ours := 0
	for _, c := range target.Syscalls {
		if want(c.Name) {
			enabled[c] = true
			if strings.Contains(c.Name, "dmabuf_rs") {
				ours++
			}
		}
	}
	fmt.Printf("enabled %d calls, %d of them ours\n", len(enabled), ours)
	trans, disabled := target.TransitivelyEnabledCalls(enabled)
	for c, why := range disabled {
		fmt.Printf("FAIL disabled %v: %v\n", c.Name, why)
	}
	if len(disabled) != 0 {
		os.Exit(1)
	}
	ct := target.BuildChoiceTable(nil, trans)
	rs := rand.NewSource(1)
	seen := map[string]int{}
	links := map[string]int{}
	const N = 3000
	fails := 0
	var sample *prog.Prog
	for i := 0; i < N; i++ {
		p := target.Generate(rs, 12, ct)
		for j := 0; j < 3; j++ {
			p.Mutate(rs, 20, ct, nil, nil)
		}
		text := p.Serialize()
		exec0, err := p.SerializeForExec()
		if err != nil {
			fmt.Printf("FAIL exec encoding: %v\n%s\n", err, text)
			os.Exit(1)
		}
		// syzkaller's own round trip (prog/encoding_test.go): text form
		// read back NonStrict gives the same executor encoding.
		p1, err := target.Deserialize(text, prog.NonStrict)
		if err != nil {
			fmt.Printf("FAIL deserialize: %v\n%s\n", err, text)
			os.Exit(1)
		}
		exec1, err := p1.SerializeForExec()
		if err != nil || string(exec0) != string(exec1) {
			fmt.Printf("FAIL round trip changes the program (%v):\n%s\n", err, text)
			os.Exit(1)
		}
		// The verbose form (every field written) must also parse Strict.
		verbose := p.SerializeVerbose()
		p2, err := target.Deserialize(verbose, prog.Strict)
		if err != nil {
			fmt.Printf("FAIL strict deserialize: %v\n%s\n", err, verbose)
			os.Exit(1)
		}
		if exec2, err := p2.SerializeForExec(); err != nil || string(exec2) != string(exec0) {
			fmt.Printf("FAIL strict round trip changes the program (%v):\n%s\n", err, verbose)
			os.Exit(1)
		}
		producer := map[*prog.ResultArg]string{}
		for _, c := range p.Calls {
			seen[c.Meta.Name]++
			prog.ForeachArg(c, func(arg prog.Arg, _ *prog.ArgCtx) {
				if r, ok := arg.(*prog.ResultArg); ok {
					if r.Res != nil {
						if from, ok := producer[r.Res]; ok {
							links[from+" -> "+c.Meta.Name]++
						}
					}
					producer[r] = c.Meta.Name
				}
			})
			if c.Ret != nil {
				producer[c.Ret] = c.Meta.Name
			}
		}
		if sample == nil && len(p.Calls) >= 6 && strings.Contains(string(text), "EXPORT_SYNC_FILE") &&
			strings.Contains(string(text), "mmap$dmabuf_rs") {
			sample = p
		}
	}
	fmt.Printf("ok   %d programs generated and mutated 3 times each: validated (debug mode), executor encoding, text round trips (NonStrict and verbose Strict) give the same encoding\n", N)
	var names []string
	for n := range trans {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("     %6d  %v\n", seen[n], n)
		if seen[n] == 0 {
			fmt.Printf("FAIL %v never generated\n", n)
			fails++
		}
	}
	var ls []string
	for l, n := range links {
		// Links into our calls from our calls or from sw_sync/sync_file.
		from, to, _ := strings.Cut(l, " -> ")
		if strings.Contains(to, "dmabuf_rs") && (strings.Contains(from, "dmabuf_rs") || strings.Contains(from, "SYNC")) {
			ls = append(ls, fmt.Sprintf("%6d  %v", n, l))
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i][7:] < ls[j][7:] })
	fmt.Printf("resource links into our calls (producer -> consumer, over all programs):\n     %v\n", strings.Join(ls, "\n     "))
	if sample != nil {
		fmt.Printf("a sample program:\n%s", sample.Serialize())
	}
	if fails != 0 {
		os.Exit(1)
	}
}
