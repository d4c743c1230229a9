//go:build unix

package outpath

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The system calls outpath needs beyond package os, for systems with
// POSIX semantics; sys_windows.go has the Windows forms.

// oNoFollow makes open fail on a symbolic link as the last element.
const oNoFollow = syscall.O_NOFOLLOW

// writable reports whether this process may write the existing file p
// (access(2) with W_OK).
func writable(p string, _ fs.FileInfo) error { return unix.Access(p, unix.W_OK) }

// deviceOf returns the device number of the file system holding p.
func deviceOf(p string) (uint64, bool) {
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil {
		return 0, false
	}
	return uint64(st.Dev), true
}

// links returns the device and the number of hard links of the file fi
// describes (ok false when the system does not say).
func links(fi fs.FileInfo) (dev, nlink uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), uint64(st.Nlink), true
}

// openExisting opens the existing file p for writing with the extra flags,
// never creating it, truncating it, blocking in open (a FIFO without a
// reader fails with ENXIO) or making a terminal the controlling one. The
// returned file is in blocking mode; fi is its fstat. follow allows a
// symbolic link as the last element (an opaque link).
func openExisting(p string, flags int, follow bool) (*os.File, fs.FileInfo, error) {
	flags |= unix.O_WRONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	var fd int
	var err error
	for {
		fd, err = unix.Open(p, flags, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, nil, &fs.PathError{Op: "fcntl", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// syncDir fsyncs a directory so that a rename into it is durable; file
// systems that cannot are let be.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	return err
}
