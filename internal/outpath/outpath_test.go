//go:build unix

package outpath

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mlrun-cli/mlrun/pipeline"
)

const objectContent = "object bytes\n"

// newRoot returns a resolved temporary directory holding a store .mlrun
// with one object, a sibling .mlrun-reports, a plain directory x and links:
//
//	.mlrun/objects/ab/cd      the object
//	.mlrun/refs/              empty
//	.mlrun-reports/           allowed
//	x/                        plain directory
//	linkdir  -> .mlrun/objects
//	linkfile -> .mlrun/objects/ab/cd
//	x/rel    -> ../.mlrun/objects/ab/cd
//	dangling -> .mlrun/refs/new
//	deep/link -> ../.mlrun/objects
//	chain1 -> chain2 -> linkdir
//	loop1 <-> loop2
//	alias -> .           (the root again)
func newRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".mlrun/objects/ab", ".mlrun/refs", ".mlrun-reports", "x", "deep"} {
		mustMkdir(t, filepath.Join(root, d))
	}
	if err := os.WriteFile(filepath.Join(root, ".mlrun/objects/ab/cd"), []byte(objectContent), 0o444); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{
		"linkdir":   ".mlrun/objects",
		"linkfile":  ".mlrun/objects/ab/cd",
		"x/rel":     "../.mlrun/objects/ab/cd",
		"dangling":  ".mlrun/refs/new",
		"deep/link": "../.mlrun/objects",
		"chain1":    "chain2",
		"chain2":    "linkdir",
		"loop1":     "loop2",
		"loop2":     "loop1",
		"alias":     ".",
	} {
		if err := os.Symlink(to, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every file under dir: its mode and its content or
// link target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			to, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + to
		}
		files[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// refMode is the mode os.WriteFile gives a new file with 0644 (the umask
// applied), created in dir.
func refMode(t *testing.T, dir string) fs.FileMode {
	t.Helper()
	p := filepath.Join(dir, "reference-mode")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range entries {
		ns = append(ns, e.Name())
	}
	return ns
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRefusedInsideStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string // relative to the root, joined without cleaning
		msg  string // the expected error text after `output path "<path>": `
	}{
		{"direct", ".mlrun/objects/ab/cd", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"dotdot", "x/../.mlrun/objects/ab/cd", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"symlinked dir", "linkdir/ab/cd", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"symlink file", "linkfile", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"relative symlink file", "x/rel", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"dangling symlink into store", "dangling", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"dotdot after symlink is physical", "deep/link/../objects/ab/cd", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"symlink chain", "chain1/ab/cd", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"through an alias of the root", "alias/alias/.mlrun/objects/ab/cd", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"new file in store", ".mlrun/objects/ab/new", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"missing parent", ".mlrun/new/deeper/file", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"missing parent then dotdot", ".mlrun/new/../objects/ab/cd", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"missing dir then dotdot into store", "nope/../.mlrun/x", "it resolves inside the lineage store <store>; write it elsewhere"},
		{"store itself", ".mlrun", "it resolves to the lineage store <store>; write it elsewhere"},
		{"store itself with slash", ".mlrun/", "it resolves to the lineage store <store>; write it elsewhere"},
		{"store itself via dotdot", ".mlrun/objects/..", "it resolves to the lineage store <store>; write it elsewhere"},
		{"store itself via symlinked dir", "linkdir/..", "it resolves to the lineage store <store>; write it elsewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t)
			store := filepath.Join(root, ".mlrun")
			g := NewGuard(store)
			before := snapshot(t, store)
			path := root + "/" + tt.path
			want := fmt.Sprintf("output path %q: %s", path, strings.ReplaceAll(tt.msg, "<store>", store))
			ops := map[string]func() error{
				"Check":      func() error { return g.Check(path) },
				"WriteFile":  func() error { return g.WriteFile(path, []byte("damage\n")) },
				"AppendFile": func() error { return g.AppendFile(path, []byte("damage\n")) },
			}
			for _, op := range []string{"Check", "WriteFile", "AppendFile"} {
				err := ops[op]()
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				if got := err.Error(); got != want {
					t.Errorf("%s: error\n got %s\nwant %s", op, got, want)
				}
				if code := pipeline.ExitCode(err); code != pipeline.ExitInvalid {
					t.Errorf("%s: exit code %d, want %d", op, code, pipeline.ExitInvalid)
				}
				if !errors.Is(err, ErrProtected) {
					t.Errorf("%s: error does not match ErrProtected", op)
				}
			}
			if after := snapshot(t, store); !mapsEqual(before, after) {
				t.Errorf("store changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestRelativeNames checks relative paths and the message naming the store
// as the user gave it, with its resolved path.
func TestRelativeNames(t *testing.T) {
	root := newRoot(t)
	t.Chdir(root)
	g := NewGuard(".mlrun")
	err := g.Check("x/../.mlrun/objects/ab/cd")
	want := fmt.Sprintf(`output path "x/../.mlrun/objects/ab/cd": it resolves inside the lineage store .mlrun (%s/.mlrun); write it elsewhere`, root)
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
	for _, p := range []string{"-", ".mlrun-reports/r.html", "x/out"} {
		if err := g.WriteFile(p, []byte("ok\n")); err != nil {
			t.Errorf("WriteFile(%q): %v", p, err)
		} else if got := readFile(t, filepath.Join(root, p)); got != "ok\n" {
			t.Errorf("%s: content %q", p, got)
		}
	}
}

func TestStoreNotCreatedYet(t *testing.T) {
	t.Parallel()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(root, "real"))
	if err := os.Symlink(".", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	byPath := NewGuard(filepath.Join(root, ".mlrun"))
	byAlias := NewGuard(filepath.Join(root, "alias", ".mlrun"))
	refused := []string{".mlrun", ".mlrun/objects/ab/cd", "alias/.mlrun/x"}
	for _, g := range []*Guard{byPath, byAlias} {
		for _, p := range refused {
			if err := g.Check(filepath.Join(root, p)); pipeline.ExitCode(err) != pipeline.ExitInvalid || !errors.Is(err, ErrProtected) {
				t.Errorf("Check(%s) = %v, want refused", p, err)
			}
		}
		if err := g.Check(filepath.Join(root, "real", "x")); err != nil {
			t.Errorf("Check(real/x) before the store exists: %v", err)
		}
	}
	// The store is created later as a link to real/: real/ is protected now.
	if err := os.Symlink("real", filepath.Join(root, ".mlrun")); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*Guard{byPath, byAlias} {
		if err := g.Check(filepath.Join(root, "real", "x")); !errors.Is(err, ErrProtected) {
			t.Errorf("Check(real/x) after .mlrun -> real: %v, want refused", err)
		}
	}
}

func TestAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
	}{
		{"sibling with the store's name as prefix", ".mlrun-reports/report.html"},
		{"sibling file with the store's name as prefix", ".mlrunx"},
		{"plain file", "out.html"},
		{"in a subdirectory", "x/out.html"},
		{"dotdot out of a subdirectory", "x/../out.html"},
		{"symlink chain ending outside the store", "alias/x/out.html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t)
			g := NewGuard(filepath.Join(root, ".mlrun"))
			p := root + "/" + tt.path
			if err := g.Check(p); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if err := g.WriteFile(p, []byte("one\n")); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			if err := g.AppendFile(p, []byte("two\n")); err != nil {
				t.Fatalf("AppendFile: %v", err)
			}
			if got := readFile(t, p); got != "one\ntwo\n" {
				t.Errorf("content %q", got)
			}
		})
	}
}

func TestNilAndZeroGuard(t *testing.T) {
	t.Parallel()
	root := newRoot(t)
	for name, g := range map[string]*Guard{"nil": nil, "zero": {}, "no dirs": NewGuard(), "empty dir": NewGuard("")} {
		p := filepath.Join(root, ".mlrun", "refs", name)
		if err := g.Check(p); err != nil {
			t.Errorf("%s: Check: %v", name, err)
		}
		if err := g.WriteFile(p, []byte("x")); err != nil {
			t.Errorf("%s: WriteFile: %v", name, err)
		}
		if err := g.AppendFile(p, []byte("y")); err != nil {
			t.Errorf("%s: AppendFile: %v", name, err)
		}
		if got := readFile(t, p); got != "xy" {
			t.Errorf("%s: content %q", name, got)
		}
		if err := g.WriteFile(filepath.Join(root, "x"), nil); !errors.Is(err, ErrFileType) {
			t.Errorf("%s: WriteFile(directory) = %v, want ErrFileType", name, err)
		}
	}
}

func TestInvalidPaths(t *testing.T) {
	t.Parallel()
	root := newRoot(t)
	g := NewGuard(filepath.Join(root, ".mlrun"))
	tests := []struct {
		name, path, want string
	}{
		{"empty", "", `output path is empty`},
		{"symlink loop", root + "/loop1", fmt.Sprintf(`output path %q: too many levels of symbolic links`, root+"/loop1")},
	}
	for _, tt := range tests {
		for _, op := range []func(string) error{
			g.Check,
			func(p string) error { return g.WriteFile(p, nil) },
			func(p string) error { return g.AppendFile(p, nil) },
		} {
			err := op(tt.path)
			if err == nil || err.Error() != tt.want {
				t.Errorf("%s: error\n got %v\nwant %s", tt.name, err, tt.want)
			}
			if code := pipeline.ExitCode(err); code != pipeline.ExitInvalid {
				t.Errorf("%s: exit code %d", tt.name, code)
			}
		}
	}
}

func TestWriteFileRegular(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) // makes dir/out (or not)
		path     string                         // written, relative to dir
		wantMode func(t *testing.T, dir string) fs.FileMode
	}{
		{
			name:     "new file",
			setup:    func(*testing.T, string) {},
			path:     "out",
			wantMode: refMode,
		},
		{
			name: "existing file keeps its mode",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "out"), []byte("old content, longer than the new\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, "out"), 0o640); err != nil {
					t.Fatal(err)
				}
			},
			path:     "out",
			wantMode: func(*testing.T, string) fs.FileMode { return 0o640 },
		},
		{
			name: "through a symlink to an existing file",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "out"), []byte("old\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("out", filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
			},
			path:     "link",
			wantMode: func(*testing.T, string) fs.FileMode { return 0o644 },
		},
		{
			name: "through a dangling symlink",
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink("out", filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
			},
			path:     "link",
			wantMode: refMode,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t)
			g := NewGuard(filepath.Join(root, ".mlrun"))
			dir := filepath.Join(root, "x")
			tt.setup(t, dir)
			want := refMode(t, dir)
			if tt.wantMode != nil {
				want = tt.wantMode(t, dir)
			}
			before := names(t, dir)
			if !slices.Contains(before, "out") {
				before = append(before, "out")
				slices.Sort(before)
			}
			if err := g.WriteFile(filepath.Join(dir, tt.path), []byte("new\n")); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			if got := readFile(t, out); got != "new\n" {
				t.Errorf("content %q", got)
			}
			fi, err := os.Lstat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != want {
				t.Errorf("mode %v, want %v", fi.Mode(), want)
			}
			if got := names(t, dir); !slices.Equal(got, before) {
				t.Errorf("directory holds %v, want %v (a temporary file left behind?)", got, before)
			}
			if tt.path == "link" {
				if fi, err := os.Lstat(filepath.Join(dir, "link")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
					t.Errorf("link is no longer a symlink: %v, %v", fi, err)
				}
			}
		})
	}
}

// TestWriteFileReplacesInode checks that WriteFile replaces the file
// rather than writing into it: an open reader and another hard link keep
// the old content, so a hard link to a store file is never damaged.
func TestWriteFileReplacesInode(t *testing.T) {
	t.Parallel()
	root := newRoot(t)
	g := NewGuard(filepath.Join(root, ".mlrun"))
	out := filepath.Join(root, "x", "out")
	other := filepath.Join(root, "x", "other")
	if err := os.WriteFile(out, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(out, other); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := g.WriteFile(out, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, out); got != "new\n" {
		t.Errorf("content %q", got)
	}
	if got := readFile(t, other); got != "old\n" {
		t.Errorf("other hard link now %q", got)
	}
	if b, err := io.ReadAll(r); err != nil || string(b) != "old\n" {
		t.Errorf("open reader got %q, %v", b, err)
	}

	// A hard link to a store object: written (as root) or refused as
	// read-only (0444, as os.WriteFile would); the object is intact.
	obj := filepath.Join(root, ".mlrun", "objects", "ab", "cd")
	link := filepath.Join(root, "x", "object-link")
	if err := os.Link(obj, link); err != nil {
		t.Fatal(err)
	}
	err = g.WriteFile(link, []byte("damage\n"))
	if err != nil && !errors.Is(err, fs.ErrPermission) {
		t.Errorf("WriteFile(hard link to object): %v", err)
	}
	if got := readFile(t, obj); got != objectContent {
		t.Errorf("store object now %q", got)
	}
}

func TestWriteFileReadOnly(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root may write any file")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "ro")
	if err := os.WriteFile(p, []byte("keep\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := (*Guard)(nil).WriteFile(p, []byte("new\n")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("error %v, want a permission error", err)
	}
	if got := readFile(t, p); got != "keep\n" {
		t.Errorf("content %q", got)
	}
}

func TestRefusedKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, p string)
		path  string // relative to the root; "p" is made by setup
		want  string // after `output path "<path>": `
	}{
		{
			name:  "directory",
			setup: func(t *testing.T, p string) { mustMkdir(t, p) },
			path:  "p",
			want:  "it is a directory; mlrun writes only regular files, character devices and FIFOs",
		},
		{
			name: "symlink to a directory",
			setup: func(t *testing.T, p string) {
				if err := os.Symlink("x", p); err != nil {
					t.Fatal(err)
				}
			},
			path: "p",
			want: "it is a directory; mlrun writes only regular files, character devices and FIFOs",
		},
		{
			name:  "trailing slash",
			setup: func(*testing.T, string) {},
			path:  "p/",
			want:  "it ends in a slash, so it names a directory; name a file",
		},
		{
			name: "socket",
			setup: func(t *testing.T, p string) {
				l, err := net.Listen("unix", p)
				if err != nil {
					t.Skipf("unix socket: %v", err)
				}
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				t.Cleanup(func() { l.Close() })
			},
			path: "p",
			want: "it is a socket; mlrun writes only regular files, character devices and FIFOs",
		},
		{
			name: "block device",
			setup: func(t *testing.T, p string) {
				// Device 0:0 does not exist: nothing could be written even if
				// the refusal failed.
				if err := unix.Mknod(p, unix.S_IFBLK|0o600, 0); err != nil {
					t.Skipf("mknod: %v", err)
				}
			},
			path: "p",
			want: "it is a block device; mlrun writes only regular files, character devices and FIFOs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := newRoot(t)
			p := filepath.Join(root, "p")
			tt.setup(t, p)
			g := NewGuard(filepath.Join(root, ".mlrun"))
			before := snapshot(t, root)
			path := root + "/" + tt.path
			want := fmt.Sprintf("output path %q: %s", path, tt.want)
			for op, write := range map[string]func(string, []byte) error{"WriteFile": g.WriteFile, "AppendFile": g.AppendFile} {
				err := write(path, []byte("data\n"))
				if err == nil || err.Error() != want {
					t.Errorf("%s: error\n got %v\nwant %s", op, err, want)
				}
				if code := pipeline.ExitCode(err); code != pipeline.ExitInvalid {
					t.Errorf("%s: exit code %d", op, code)
				}
				if !errors.Is(err, ErrFileType) {
					t.Errorf("%s: error does not match ErrFileType", op)
				}
			}
			if after := snapshot(t, root); !mapsEqual(before, after) {
				t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestDevNull(t *testing.T) {
	t.Parallel()
	const null = "/dev/null"
	fi, err := os.Lstat(null)
	if err != nil || fi.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice {
		t.Skipf("%s is not a character device here: %v", null, err)
	}
	g := NewGuard(filepath.Join(t.TempDir(), ".mlrun"))
	if err := g.WriteFile(null, []byte("gone\n")); err != nil {
		t.Errorf("WriteFile: %v", err)
	}
	if err := g.AppendFile(null, []byte("gone\n")); err != nil {
		t.Errorf("AppendFile: %v", err)
	}
	fi, err = os.Lstat(null)
	if err != nil || fi.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice {
		t.Errorf("%s is no longer a character device: %v, %v", null, fi, err)
	}
}

// TestProcFdPipe writes to /proc/self/fd/N of a pipe, as /dev/stdout is
// when standard output is piped: its link text ("pipe:[123]") names no
// file, and the pipe must be written, not a file created.
func TestProcFdPipe(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc/self/fd")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	p := fmt.Sprintf("/proc/self/fd/%d", w.Fd())
	g := NewGuard(filepath.Join(t.TempDir(), ".mlrun"))
	if err := g.WriteFile(p, []byte("piped\n")); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	if err := g.AppendFile(p, []byte("again\n")); err != nil {
		t.Fatalf("AppendFile: %v", err)
	}
	w.Close()
	if b, err := io.ReadAll(r); err != nil || string(b) != "piped\nagain\n" {
		t.Errorf("read %q, %v", b, err)
	}
}

func TestFIFONoReader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	g := NewGuard(filepath.Join(dir, ".mlrun"))
	for op, write := range map[string]func(string, []byte) error{"WriteFile": g.WriteFile, "AppendFile": g.AppendFile} {
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- write(fifo, []byte("lost\n")) }()
		select {
		case err := <-done:
			if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
				t.Errorf("%s took %v", op, elapsed)
			}
			want := fmt.Sprintf("output path %q: no process is reading the FIFO %s (open it for reading first)", fifo, fifo)
			if err == nil || err.Error() != want {
				t.Errorf("%s: error\n got %v\nwant %s", op, err, want)
			}
			if !errors.Is(err, ErrNoReader) {
				t.Errorf("%s: error does not match ErrNoReader", op)
			}
			if code := pipeline.ExitCode(err); code != pipeline.ExitRuntime {
				t.Errorf("%s: exit code %d, want %d", op, code, pipeline.ExitRuntime)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s blocks on a FIFO without a reader", op)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		t.Errorf("FIFO is no longer a FIFO: %v, %v", fi, err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"fifo"}) {
		t.Errorf("directory holds %v", got)
	}
}

func TestFIFOWithReader(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("opening a FIFO O_RDWR is Linux behaviour")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// O_RDWR opens at once and makes a reader, so the write below cannot
	// race the reader's open. The data is larger than a pipe's buffer: the
	// write must wait for the reader goroutine.
	r, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	g := NewGuard(filepath.Join(dir, ".mlrun"))
	for op, write := range map[string]func(string, []byte) error{"WriteFile": g.WriteFile, "AppendFile": g.AppendFile} {
		got := make(chan []byte, 1)
		go func() {
			buf := make([]byte, len(data))
			if _, err := io.ReadFull(r, buf); err != nil {
				t.Errorf("%s: read: %v", op, err)
			}
			got <- buf
		}()
		if err := write(fifo, data); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		select {
		case b := <-got:
			if !bytes.Equal(b, data) {
				t.Errorf("%s: reader got different data", op)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: reader got nothing", op)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		t.Errorf("FIFO is no longer a FIFO: %v, %v", fi, err)
	}
}

func TestAppendFile(t *testing.T) {
	t.Parallel()
	root := newRoot(t)
	g := NewGuard(filepath.Join(root, ".mlrun"))
	dir := filepath.Join(root, "x")
	p := filepath.Join(dir, "alerts.jsonl")
	for _, line := range []string{`{"n":1}` + "\n", `{"n":2}` + "\n"} {
		if err := g.AppendFile(p, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := readFile(t, p), "{\"n\":1}\n{\"n\":2}\n"; got != want {
		t.Errorf("content %q, want %q", got, want)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := refMode(t, dir); fi.Mode() != want {
		t.Errorf("mode %v, want %v", fi.Mode(), want)
	}
	// Through a symlink: the target grows, the link stays.
	link := filepath.Join(dir, "link")
	if err := os.Symlink("alerts.jsonl", link); err != nil {
		t.Fatal(err)
	}
	if err := g.AppendFile(link, []byte("{\"n\":3}\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); !strings.HasSuffix(got, "{\"n\":2}\n{\"n\":3}\n") {
		t.Errorf("content %q", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link is no longer a symlink: %v, %v", fi, err)
	}
}

// TestAppendFileHardLink checks that AppendFile refuses a file with several
// links on the store's file system (one could be a store file), and that a
// Guard protecting nothing appends to it.
func TestAppendFileHardLink(t *testing.T) {
	t.Parallel()
	root := newRoot(t)
	store := filepath.Join(root, ".mlrun")
	obj := filepath.Join(store, "audit.log") // a store file that is not read-only
	if err := os.WriteFile(obj, []byte(objectContent), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "x", "log")
	if err := os.Link(obj, p); err != nil {
		t.Fatal(err)
	}
	err := NewGuard(store).AppendFile(p, []byte("damage\n"))
	want := fmt.Sprintf(`output path %q: %s has 2 hard links on the file system of the lineage store, and one could be inside it; mlrun appends only to files with a single link`, p, p)
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrFileType) || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Errorf("error %v: want ErrFileType with exit code 2", err)
	}
	if got := readFile(t, obj); got != objectContent {
		t.Errorf("store file now %q", got)
	}

	other := filepath.Join(root, "x", "other")
	if err := os.WriteFile(other, []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(other, other+".2"); err != nil {
		t.Fatal(err)
	}
	if err := (*Guard)(nil).AppendFile(other, []byte("b\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, other+".2"); got != "a\nb\n" {
		t.Errorf("content %q", got)
	}
}

func TestMissingParent(t *testing.T) {
	t.Parallel()
	root := newRoot(t)
	g := NewGuard(filepath.Join(root, ".mlrun"))
	p := filepath.Join(root, "nope", "out")
	if err := g.Check(p); err != nil {
		t.Errorf("Check: %v", err)
	}
	for op, write := range map[string]func(string, []byte) error{"WriteFile": g.WriteFile, "AppendFile": g.AppendFile} {
		if err := write(p, nil); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: error %v, want not exist", op, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("parent created: %v", err)
	}
}
