//go:build linux

package load

import (
	"io/fs"
	"syscall"
)

// statOf extracts size, mtime, inode and ctime from a file's stat (the
// fields of the lineage store's fingerprint memo).
func statOf(fi fs.FileInfo) fileStat {
	s := fileStat{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Inode = st.Ino
		s.CTime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return s
}
