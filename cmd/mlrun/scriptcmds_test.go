package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// scriptCmds are the custom commands of the txtar scripts.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"exitcode": cmdExitCode,
	"jsonget":  cmdJSONGet,
	"lsstore":  cmdLsStore,
	"flipbyte": cmdFlipByte,
	"writeraw": cmdWriteRaw,
	"webhook":  cmdWebhook,
}

// cmdJSONGet implements "jsonget [-env VAR] FILE PATH": decode the JSON in
// FILE (stdout and stderr name the last command's output) and print the
// value at PATH, a dot-separated list of object keys and array indexes; a
// final "#" (quoted in a script) gives the length of an array or object.
// Strings print bare, other values as JSON. With -env the value is also
// stored in $VAR.
// "! jsonget FILE PATH" succeeds when PATH does not exist.
func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	envVar := ""
	if len(args) > 0 && args[0] == "-env" {
		if len(args) < 2 {
			ts.Fatalf("usage: jsonget [-env VAR] FILE PATH")
		}
		envVar, args = args[1], args[2:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: jsonget [-env VAR] FILE PATH")
	}
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &v); err != nil {
		ts.Fatalf("jsonget: %s is not JSON: %v", args[0], err)
	}
	for _, key := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			if key == "#" {
				v = float64(len(x))
				continue
			}
			var ok bool
			if v, ok = x[key]; !ok {
				if neg {
					return
				}
				ts.Fatalf("jsonget: %s: no key %q (keys: %s)", args[1], key, strings.Join(sortedKeys(x), ", "))
			}
		case []any:
			if key == "#" {
				v = float64(len(x))
				continue
			}
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(x) {
				if neg {
					return
				}
				ts.Fatalf("jsonget: %s: no index %q in an array of %d", args[1], key, len(x))
			}
			v = x[i]
		default:
			if neg {
				return
			}
			ts.Fatalf("jsonget: %s: %q inside a %T", args[1], key, v)
		}
	}
	if neg {
		ts.Fatalf("jsonget: %s exists", args[1])
	}
	out, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		out = string(b)
	}
	fmt.Fprintln(ts.Stdout(), out)
	if envVar != "" {
		ts.Setenv(envVar, out)
	}
}

// cmdLsStore implements "lsstore DIR": print every file under DIR, sorted,
// with its size, mode and modification time, so that two listings compare
// equal only when nothing was added, removed or rewritten. A missing DIR
// prints nothing.
func cmdLsStore(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lsstore DIR")
	}
	root := ts.MkAbs(args[0])
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			lines = append(lines, fmt.Sprintf("%s/ %v", rel, info.Mode()))
			return nil
		}
		lines = append(lines, fmt.Sprintf("%s %d %v %d", rel, info.Size(), info.Mode(), info.ModTime().UnixNano()))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		ts.Fatalf("lsstore: %v", err)
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// cmdFlipByte implements "flipbyte FILE OFFSET": invert the bits of the
// byte at OFFSET of FILE (a glob matching one file), in place. It does not
// change the file's permissions: a read-only file must be made writable
// first, as an accident or an attacker would.
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	matches, err := filepath.Glob(ts.MkAbs(args[0]))
	if err != nil || len(matches) != 1 {
		ts.Fatalf("flipbyte: %s matches %d files, want 1 (%v)", args[0], len(matches), err)
	}
	off, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		ts.Fatalf("flipbyte: offset: %v", err)
	}
	f, err := os.OpenFile(matches[0], os.O_RDWR, 0)
	ts.Check(err)
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		ts.Fatalf("flipbyte: read byte %d of %s: %v", off, matches[0], err)
	}
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	ts.Check(err)
	ts.Check(f.Close())
}

// cmdWriteRaw implements "writeraw FILE QUOTED": write the Go-quoted string
// QUOTED ("a,b\r\n\xef...") to FILE, for bytes a txtar archive should not
// hold literally (CR, BOM, invalid UTF-8).
func cmdWriteRaw(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: writeraw FILE QUOTED")
	}
	data, err := strconv.Unquote(args[1])
	if err != nil {
		ts.Fatalf("writeraw: %s: %v", args[1], err)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(data), 0o644))
}
