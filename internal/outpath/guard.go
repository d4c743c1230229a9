package outpath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrProtected means an output path is, or lies inside, a protected
	// directory (the lineage store). Its exit code is 2.
	ErrProtected = errors.New("output path inside the lineage store")
	// ErrFileType means an output path names a directory, socket, block
	// device or other file that mlrun does not write, or a hard-linked file
	// that AppendFile will not append to. Its exit code is 2.
	ErrFileType = errors.New("output path is not a file mlrun can write")
	// ErrNoReader means an output path is a FIFO that no process has open
	// for reading. Its exit code is 3, as for other I/O failures: the same
	// command succeeds once a reader is there.
	ErrNoReader = errors.New("no process is reading the FIFO")
)

// Guard checks and writes output paths so that they never land inside its
// protected directories. The zero value, and a nil *Guard, protect nothing
// (but still never replace a special file). A Guard is not changed after
// NewGuard and is safe for concurrent use.
type Guard struct {
	dirs []protected
}

// protected is one directory a Guard keeps output out of.
type protected struct {
	name     string // as given to NewGuard, for messages
	raw      string // absolute but not cleaned, to resolve again later
	abs      string // absolute and lexically cleaned
	resolved string // resolved when NewGuard ran
}

// NewGuard returns a Guard that protects dirs, typically the lineage store
// directory. A directory is protected by its absolute cleaned path, by its
// resolved path (symbolic links followed) as of NewGuard and as of each
// check, and by its device and inode while it exists. A directory that does
// not exist yet is protected by its resolved parent and base name, so a
// store created later (even as a symbolic link) is still covered. Empty
// strings are ignored.
func NewGuard(dirs ...string) *Guard {
	g := &Guard{}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := protected{name: d, raw: d}
		if !filepath.IsAbs(d) {
			if wd, err := os.Getwd(); err == nil {
				p.raw = wd + "/" + d
			}
		}
		p.abs = filepath.Clean(p.raw)
		p.resolved = p.abs
		if t, err := resolve(p.raw); err == nil {
			p.resolved = t.path
		}
		g.dirs = append(g.dirs, p)
	}
	return g
}

// Check returns an error when path is, or lies inside, a protected
// directory once resolved: relative to the current directory, following the
// file itself when it is a symbolic link and every directory on the way,
// and appending the missing rest to the longest existing prefix when the
// path does not exist yet. The error wraps ErrProtected and has exit code 2
// (pipeline.ExitCode). A path that names what mlrun never writes (a
// directory, a socket, a block device) is refused too (ErrFileType, exit
// code 2), so that a command can check its output paths before it does its
// work; whether a FIFO has a reader only WriteFile and AppendFile find out.
func (g *Guard) Check(path string) error {
	t, err := g.check(path)
	if err != nil {
		return err
	}
	if strings.HasSuffix(path, "/") {
		return invalid(path, ErrFileType, "it ends in a slash, so it names a directory; name a file")
	}
	if fi, err := os.Stat(t.path); err == nil {
		switch kind := fi.Mode().Type(); {
		case kind.IsRegular(), kind == fs.ModeDevice|fs.ModeCharDevice, kind == fs.ModeNamedPipe:
		default:
			return invalid(path, ErrFileType, "it is %s; mlrun writes only regular files, character devices and FIFOs", describe(kind))
		}
	}
	return nil
}

// check is Check returning where path leads.
func (g *Guard) check(path string) (target, error) {
	if path == "" {
		return target{}, pipeline.Invalidf("output path is empty")
	}
	t, err := resolve(path)
	if err != nil {
		err = fmt.Errorf("output path %q: %w", path, err)
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENAMETOOLONG) {
			err = pipeline.WithExitCode(pipeline.ExitInvalid, err)
		}
		return target{}, err
	}
	if g == nil || len(g.dirs) == 0 {
		return t, nil
	}
	// The existing directories on the way, to compare by device and inode.
	var ancestors []os.FileInfo
	var ancestorPaths []string
	for d := t.path; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			ancestors = append(ancestors, fi)
			ancestorPaths = append(ancestorPaths, d)
		}
		if d == "/" {
			break
		}
	}
	for _, p := range g.dirs {
		roots := []string{p.abs, p.resolved}
		if now, err := resolve(p.raw); err == nil && now.path != p.resolved {
			roots = append(roots, now.path)
		}
		for _, root := range roots {
			if within(t.path, root) {
				return t, p.refuse(path, t.path == root, root)
			}
		}
		fi, err := os.Stat(p.raw)
		if err != nil {
			continue
		}
		for i, a := range ancestors {
			if os.SameFile(fi, a) {
				return t, p.refuse(path, ancestorPaths[i] == t.path, ancestorPaths[i])
			}
		}
	}
	return t, nil
}

// refuse returns the error for an output path that resolves to the
// protected directory (itself) or inside it, found as root.
func (p protected) refuse(path string, itself bool, root string) error {
	where := p.name
	if root != p.name {
		where = fmt.Sprintf("%s (%s)", p.name, root)
	}
	how := "inside"
	if itself {
		how = "to"
	}
	return invalid(path, ErrProtected, "it resolves %s the lineage store %s; write it elsewhere", how, where)
}

// devices returns the device numbers of the protected directories that
// exist.
func (g *Guard) devices() []uint64 {
	if g == nil {
		return nil
	}
	var devs []uint64
	for _, p := range g.dirs {
		if dev, ok := deviceOf(p.raw); ok {
			devs = append(devs, dev)
		}
	}
	return devs
}

// pathError is an error about one output path that matches its sentinel
// with errors.Is.
type pathError struct {
	path string
	msg  string
	kind error
}

func (e *pathError) Error() string { return fmt.Sprintf("output path %q: %s", e.path, e.msg) }

// Is reports whether target is the sentinel of e.
func (e *pathError) Is(target error) bool { return target == e.kind }

// invalid returns a pathError matching kind, with exit code 2.
func invalid(path string, kind error, format string, args ...any) error {
	return pipeline.WithExitCode(pipeline.ExitInvalid, &pathError{path: path, msg: fmt.Sprintf(format, args...), kind: kind})
}
