package outpath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxLinks bounds the symbolic links followed while resolving one path,
// as the kernel's limit on link traversals does.
const maxLinks = 255

// target is where an output path leads.
type target struct {
	// path is absolute and free of symbolic links, except that its last
	// element may be an opaque link.
	path string
	// opaque means the last element of path is a kernel "magic" link such
	// as /proc/self/fd/1 to a pipe: its text names no file, but opening it
	// reaches one. It must be followed when opened and never replaced.
	opaque bool
}

// resolve returns where path leads when the kernel walks it: relative to
// the current directory, following every symbolic link, with ".." taken
// after the link before it is followed. Once an element does not exist, the
// rest of the path is applied lexically.
func resolve(path string) (target, error) {
	if !filepath.IsAbs(path) {
		wd, err := os.Getwd()
		if err != nil {
			return target{}, fmt.Errorf("current directory: %w", err)
		}
		// Not filepath.Join: it would clean "link/.." lexically.
		path = wd + "/" + path
	}
	links := 0
	dest, _, opaque, err := walk("/", path, &links)
	if err != nil {
		return target{}, err
	}
	return target{path: dest, opaque: opaque}, nil
}

// walk resolves path element by element from the link-free directory dir
// (or from the root when path is absolute). It returns the resolved path,
// whether some element was missing, and whether the last element is an
// opaque link. links counts the links followed so far.
func walk(dir, path string, links *int) (dest string, missing, opaque bool, err error) {
	dest = dir
	if filepath.IsAbs(path) {
		dest = "/"
	}
	for _, elem := range strings.Split(path, "/") {
		switch elem {
		case "", ".":
			continue
		case "..":
			dest, opaque = filepath.Dir(dest), false
			continue
		}
		next := filepath.Join(dest, elem)
		opaque = false
		if missing {
			dest = next
			continue
		}
		fi, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			dest, missing = next, true
			continue
		case err != nil:
			return "", false, false, err
		case fi.Mode()&fs.ModeSymlink == 0:
			dest = next
			continue
		}
		*links++
		if *links > maxLinks {
			return "", false, false, syscall.ELOOP
		}
		link, err := os.Readlink(next)
		if err != nil {
			return "", false, false, err
		}
		ldest, lmissing, lopaque, err := walk(dest, link, links)
		if err != nil {
			return "", false, false, err
		}
		if lmissing {
			if _, err := os.Stat(next); err == nil {
				// The link's text names nothing, yet the kernel reaches
				// a file through it: a magic link (pipe:[123], a deleted
				// file). Keep the link itself.
				dest, opaque = next, true
				continue
			}
		}
		dest, missing, opaque = ldest, lmissing, lopaque
	}
	return dest, missing, opaque, nil
}

// within reports whether the clean absolute path p is dir or lies inside it.
func within(p, dir string) bool {
	if dir == "/" || p == dir {
		return true
	}
	return strings.HasPrefix(p, dir+"/")
}
