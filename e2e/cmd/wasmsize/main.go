// Command wasmsize prints how much of a Go wasm module's code each package
// takes, from the module's name section (go tool nm does not read wasm):
//
//	go run ./e2e/cmd/wasmsize plugin.wasm | head -30
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: wasmsize module.wasm")
		os.Exit(2)
	}
	b, err := os.ReadFile(os.Args[1])
	if err == nil {
		err = run(b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmsize:", err)
		os.Exit(1)
	}
}

type reader struct{ b []byte }

func (r *reader) uleb() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		panic(errors.New("bad LEB128"))
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) name() string { return string(r.bytes(r.uleb())) }

func run(b []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed module: %v", p)
		}
	}()
	if !bytes.HasPrefix(b, []byte("\x00asm\x01\x00\x00\x00")) {
		return errors.New("not a wasm module")
	}
	r := &reader{b[8:]}
	var imported uint64
	var bodies []int
	names := map[uint64]string{}
	sections := map[string]int{}
	for len(r.b) > 0 {
		id := r.b[0]
		r.b = r.b[1:]
		sec := &reader{r.bytes(r.uleb())}
		size := len(sec.b)
		switch id {
		case 0:
			name := sec.name()
			sections["custom "+name] += size
			if name != "name" {
				continue
			}
			for len(sec.b) > 0 {
				sub := sec.b[0]
				sec.b = sec.b[1:]
				body := &reader{sec.bytes(sec.uleb())}
				if sub != 1 {
					continue
				}
				for n := body.uleb(); n > 0; n-- {
					idx := body.uleb()
					names[idx] = body.name()
				}
			}
		case 2:
			sections["import"] += size
			for n := sec.uleb(); n > 0; n-- {
				sec.name()
				sec.name()
				kind := sec.b[0]
				sec.b = sec.b[1:]
				switch kind {
				case 0:
					sec.uleb()
					imported++
				case 1:
					sec.b = sec.b[1:]
					if flags := sec.uleb(); flags&1 != 0 {
						sec.uleb()
					}
					sec.uleb()
				case 2:
					if flags := sec.uleb(); flags&1 != 0 {
						sec.uleb()
					}
					sec.uleb()
				case 3:
					sec.b = sec.b[2:]
				}
			}
		case 10:
			sections["code"] += size
			for n := sec.uleb(); n > 0; n-- {
				l := sec.uleb()
				sec.bytes(l)
				bodies = append(bodies, int(l))
			}
		case 11:
			sections["data"] += size
		default:
			sections[fmt.Sprintf("section %d", id)] += size
		}
	}
	byPkg := map[string]int{}
	for i, size := range bodies {
		if os.Getenv("WASMSIZE_NAMES") != "" {
			fmt.Println(names[imported+uint64(i)])
		}
		byPkg[pkgOf(names[imported+uint64(i)])] += size
	}
	fmt.Printf("%d bytes in all\n", len(b))
	printSorted(sections)
	fmt.Println("code by package:")
	printSorted(byPkg)
	return nil
}

// pkgOf is the package of a symbol as Go's wasm linker names it, with '/'
// written '_': "crypto_ecdsa.Sign" → "crypto/ecdsa". A first element with
// a dot is a domain ("github.com_tidwall_gjson.Get").
func pkgOf(sym string) string {
	if sym == "" {
		return "(unnamed)"
	}
	from := 0
	if u := strings.IndexByte(sym, '_'); u > 0 && strings.Contains(sym[:u], ".") && sym[u-1] != '.' {
		from = u
	}
	if dot := strings.IndexByte(sym[from:], '.'); dot >= 0 {
		sym = sym[:from+dot]
	}
	return strings.ReplaceAll(sym, "_", "/")
}

func printSorted(m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	for _, k := range keys {
		fmt.Printf("%10d  %s\n", m[k], k)
	}
}
