//go:build linux

package lineage

import (
	"io/fs"
	"syscall"
)

// statInfo extracts size, mtime, inode and ctime from a file's stat.
func statInfo(fi fs.FileInfo) ObjectInfo {
	info := ObjectInfo{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.Inode = st.Ino
		info.CTime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	}
	return info
}
