//go:build !linux

package load

import "io/fs"

// statOf extracts size and mtime from a file's stat; inode and ctime are
// left zero on systems other than Linux.
func statOf(fi fs.FileInfo) fileStat {
	return fileStat{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
}
