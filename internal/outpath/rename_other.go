//go:build !linux

package outpath

// renameNoReplace renames oldpath to newpath unless newpath exists, in
// which case the error matches fs.ErrExist. It checks with Lstat first, so
// a narrow race remains where the system has no atomic form.
func renameNoReplace(oldpath, newpath string) error {
	return renameChecked(oldpath, newpath)
}
