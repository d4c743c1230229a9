package outpath

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// renameChecked renames oldpath to newpath after checking with Lstat that
// newpath does not exist; the error matches fs.ErrExist when it does.
func renameChecked(oldpath, newpath string) error {
	if _, err := os.Lstat(newpath); err == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EEXIST}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(oldpath, newpath)
}
