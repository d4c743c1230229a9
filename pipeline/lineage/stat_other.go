//go:build !linux && !darwin

package lineage

import "io/fs"

// statInfo extracts size and mtime from a file's stat; inode and ctime are
// left zero on systems other than Linux and macOS.
func statInfo(fi fs.FileInfo) ObjectInfo {
	return ObjectInfo{Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
}
