//go:build unix

package lineage

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes flock(2) on f, shared or exclusive, without waiting: it
// reports false (and no error) when another open file holds a conflicting
// lock. flock locks belong to the open file, so two descriptors in one
// process exclude each other like two processes; the kernel drops them
// when the process dies.
func tryLock(f *os.File, exclusive bool) (bool, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR):
		return false, nil
	}
	return false, err
}

// unlock releases the lock tryLock took on f.
func unlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }
