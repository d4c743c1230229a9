package outpath

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// WriteFile writes data to path after Check. A missing path or a regular
// file (also through symbolic links) is replaced atomically: data goes to a
// temporary file in the resolved directory, which is fsynced and renamed
// onto the resolved path, so the link stays and its target gets the
// content; a new file has mode 0644 less the umask and an existing one
// keeps its permission bits, as with os.WriteFile. A character device is
// written in place (not created, not truncated). A FIFO is written in place
// when a process reads it, and fails at once with ErrNoReader when none
// does. A directory, socket, block device or other file is refused with
// ErrFileType and exit code 2; a special file is never replaced by a
// regular one. Parent directories are not created. A write that was
// killed leaves its temporary file (".NAME.XXXXXXXXXXXX.tmp") beside
// the output; the next write of the same file removes such files once
// they are an hour old.
func (g *Guard) WriteFile(path string, data []byte) error {
	return g.write(path, data, false)
}

// AppendFile appends data (e.g. one JSON line) to path after Check. A
// regular file is opened O_APPEND, created with mode 0644 less the umask
// when missing, and fsynced; a character device or FIFO is written as by
// WriteFile, and other files are refused the same way. AppendFile also
// refuses, with ErrFileType, a regular file with several hard links on the
// file system of a protected directory, since another of its names could
// be inside the store.
func (g *Guard) AppendFile(path string, data []byte) error {
	return g.write(path, data, true)
}

// write is WriteFile, or AppendFile when appending.
func (g *Guard) write(path string, data []byte, appending bool) error {
	t, err := g.check(path)
	if err != nil {
		return err
	}
	if strings.HasSuffix(path, "/") {
		return invalid(path, ErrFileType, "it ends in a slash, so it names a directory; name a file")
	}
	var fi fs.FileInfo
	if t.opaque {
		fi, err = os.Stat(t.path)
	} else {
		fi, err = os.Lstat(t.path)
	}
	var kind fs.FileMode
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fi = nil
	case err != nil:
		return fmt.Errorf("output path %q: %w", path, err)
	default:
		kind = fi.Mode().Type()
	}
	switch {
	case fi == nil || kind.IsRegular() && !t.opaque:
		if appending {
			err = g.appendRegular(t.path, fi != nil, data)
		} else {
			err = replace(t.path, fi, data)
		}
	case kind == fs.ModeDevice|fs.ModeCharDevice || kind == fs.ModeNamedPipe:
		err = inPlace(t, kind, data)
	default:
		return invalid(path, ErrFileType, "it is %s; mlrun writes only regular files, character devices and FIFOs", describe(kind))
	}
	if err != nil {
		var pe *pathError
		if errors.As(err, &pe) {
			pe.path = path
			return pipeline.WithExitCode(pipeline.ExitInvalid, err)
		}
		return fmt.Errorf("output path %q: %w", path, err)
	}
	return nil
}

// describe names a kind of file for an error message.
func describe(kind fs.FileMode) string {
	switch {
	case kind.IsRegular():
		return "a link to an open file that has no name"
	case kind&fs.ModeDir != 0:
		return "a directory"
	case kind&fs.ModeSocket != 0:
		return "a socket"
	case kind&fs.ModeDevice != 0 && kind&fs.ModeCharDevice == 0:
		return "a block device"
	case kind&fs.ModeSymlink != 0:
		return "a symbolic link that changed while it was resolved"
	default:
		return "a special file"
	}
}

// replace writes data to the resolved regular path p through a temporary
// file and a rename. old is what p is now (nil when it does not exist).
func replace(p string, old fs.FileInfo, data []byte) error {
	if old != nil {
		// Replacing a read-only file is possible (the directory is
		// writable) but os.WriteFile would refuse it: so do we.
		if err := writable(p, old); err != nil {
			return &fs.PathError{Op: "open", Path: p, Err: err}
		}
	}
	dir := filepath.Dir(p)
	f, err := createTemp(dir, filepath.Base(p))
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if old != nil {
		if err := f.Chmod(old.Mode().Perm()); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := commit(f.Name(), p); err != nil {
		return err
	}
	committed = true
	sweepStale(dir, filepath.Base(p), f.Name(), time.Now())
	return syncDir(dir)
}

// staleAge is how old a temporary file of ours must be before a later
// write of the same file removes it: a process killed between creating
// and renaming it leaves it behind, and a live writer renames its own
// within moments.
const staleAge = time.Hour

// sweepStale removes the temporary files createTemp named after base in
// dir, other than keep, last modified staleAge or more before now: what
// killed writes of the same file left. Errors are ignored (the write has
// succeeded; a file that cannot be removed stays, as before).
func sweepStale(dir, base, keep string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || !isTempSuffix(rest) || filepath.Join(dir, name) == keep || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) >= staleAge {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// tempPrefix is what the names of the temporary files of base start with:
// a dot, base (its first 64 bytes) and a dot.
func tempPrefix(base string) string {
	if len(base) > 64 {
		base = base[:64]
	}
	return "." + base + "."
}

// isTempSuffix reports whether s is what createTemp puts after the base
// name: 12 characters of rand.Text (base32: A-Z, 2-7) and ".tmp".
func isTempSuffix(s string) bool {
	r, ok := strings.CutSuffix(s, ".tmp")
	if !ok || len(r) != 12 {
		return false
	}
	for _, c := range r {
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// commit renames the temporary file tmp onto p, unless p has become
// something other than a regular file meanwhile.
func commit(tmp, p string) error {
	err := renameNoReplace(tmp, p)
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &pathError{kind: ErrFileType, msg: fmt.Sprintf("%s became %s while it was written; not replaced", p, describe(fi.Mode().Type()))}
	}
	return os.Rename(tmp, p)
}

// createTemp creates a new file for writing in dir, named after base, with
// mode 0644 less the umask (the kernel applies it, as for os.WriteFile).
func createTemp(dir, base string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, tempPrefix(base)+rand.Text()[:12]+".tmp")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create temporary file: %w", err)
		}
		return f, nil
	}
}

// appendRegular appends data to the resolved regular file p, creating it
// when it did not exist.
func (g *Guard) appendRegular(p string, exists bool, data []byte) error {
	var f *os.File
	created := false
	if !exists {
		var err error
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL|oNoFollow, 0o644)
		switch {
		case err == nil:
			created = true
		case !errors.Is(err, fs.ErrExist):
			return err
		}
		// Another process created it meanwhile: append to it below.
	}
	if f == nil {
		var err error
		var fi fs.FileInfo
		f, fi, err = openExisting(p, os.O_APPEND, false)
		if err != nil {
			return err
		}
		if err := g.appendable(p, fi); err != nil {
			f.Close()
			return err
		}
	}
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && created {
		err = syncDir(filepath.Dir(p))
	}
	return err
}

// appendable checks that the file opened as p, described by fi, is a
// regular file that may be appended to.
func (g *Guard) appendable(p string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &pathError{kind: ErrFileType, msg: fmt.Sprintf("%s became %s while it was opened; not written", p, describe(fi.Mode().Type()))}
	}
	dev, nlink, ok := links(fi)
	if !ok || nlink <= 1 {
		return nil
	}
	for _, d := range g.devices() {
		if dev == d {
			return &pathError{kind: ErrFileType, msg: fmt.Sprintf(
				"%s has %d hard links on the file system of the lineage store, and one could be inside it; "+
					"mlrun appends only to files with a single link", p, nlink)}
		}
	}
	return nil
}

// inPlace writes data to the existing character device or FIFO t, of the
// given kind, without creating or truncating it.
func inPlace(t target, kind fs.FileMode, data []byte) error {
	f, fi, err := openExisting(t.path, 0, t.opaque)
	if errors.Is(err, syscall.ENXIO) && kind == fs.ModeNamedPipe {
		return fmt.Errorf("%w %s (open it for reading first)", ErrNoReader, t.path)
	}
	if err != nil {
		return err
	}
	if got := fi.Mode().Type(); got != kind {
		f.Close()
		return &pathError{kind: ErrFileType, msg: fmt.Sprintf("%s became %s while it was opened; not written", t.path, describe(got))}
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
