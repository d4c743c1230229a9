//go:build windows

package outpath

import (
	"io/fs"
	"os"
	"syscall"
)

// The Windows forms of sys_unix.go. Windows has no FIFOs in the file
// system and no O_NOFOLLOW: the path was resolved (links included) just
// before, so only a link swapped in between is followed.

const oNoFollow = 0

// writable refuses a file with the read-only attribute (mode 0444 in Go),
// as os.WriteFile would.
func writable(p string, fi fs.FileInfo) error {
	if fi != nil && fi.Mode().Perm()&0o200 == 0 {
		return syscall.ERROR_ACCESS_DENIED
	}
	return nil
}

// deviceOf: Windows has no device numbers in os.FileInfo; the hard-link
// check of AppendFile (see links) is then not made.
func deviceOf(string) (uint64, bool) { return 0, false }

func links(fs.FileInfo) (dev, nlink uint64, ok bool) { return 0, 0, false }

// openExisting opens the existing file p for writing with the extra flags
// (os.O_APPEND), never creating or truncating it.
func openExisting(p string, flags int, follow bool) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|flags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// syncDir: a directory cannot be flushed on Windows (NTFS journals the
// rename itself).
func syncDir(string) error { return nil }
