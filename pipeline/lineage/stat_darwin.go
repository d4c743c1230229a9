//go:build darwin

package lineage

import (
	"io/fs"
	"syscall"
)

// statInfo extracts size, mtime, inode and ctime from a file's stat (as
// stat_linux.go does; macOS names the change time Ctimespec).
func statInfo(fi fs.FileInfo) ObjectInfo {
	info := ObjectInfo{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.Inode = st.Ino
		info.CTime = st.Ctimespec.Sec*1e9 + st.Ctimespec.Nsec
	}
	return info
}
