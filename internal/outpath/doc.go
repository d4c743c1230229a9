// Package outpath is the one way mlrun writes a file whose path the user
// chose: report --out, predict --out, --junit, --summary, a report step's
// out: and alert files. It guarantees two things: such a path never damages
// the lineage store, and it never replaces a device, FIFO or other special
// file with a regular one.
//
// A Guard holds the protected directories (the store). Check resolves an
// output path the way the kernel will walk it — the current directory for a
// relative path, every symbolic link on the way (a ".." after a link goes to
// the link target's parent, not the lexical one), and, when the path does
// not exist yet, its longest existing prefix with the rest appended — and
// refuses the path, with exit code 2, when it is a protected directory or
// lies inside one. A protected directory is also recognised by its device
// and inode, so a bind mount or a different spelling on a case-insensitive
// file system does not get past it.
//
// WriteFile then writes by the kind of file it finds at the resolved path:
//
//   - missing or a regular file: the data goes to a temporary file in the
//     same directory, is fsynced, and is renamed onto the resolved path,
//     then the directory is fsynced. Readers see the old or the new content,
//     never a mix; the replaced inode is never written, so another hard link
//     to it (even one inside the store) keeps its content. A new file gets
//     mode 0644 less the umask, an existing one keeps its permission bits
//     (as os.WriteFile). A symbolic link on the way is not replaced: the
//     file it points to gets the new content and the link stays a link.
//   - a character device (/dev/null, a terminal, /dev/stdout on a terminal):
//     written in place, never created or truncated.
//   - a FIFO: opened without blocking, so that a FIFO nobody reads fails at
//     once with ErrNoReader instead of hanging, then written in place.
//     /dev/stdout piped to another process is such a FIFO.
//   - anything else (a directory, socket, block device): refused with exit
//     code 2 and ErrFileType.
//
// AppendFile does the same but appends: a regular file is opened O_APPEND
// (created 0644 less the umask when missing) and fsynced. Because appending
// writes the inode itself, it refuses a regular file with more than one hard
// link on the file system of a protected directory: one of its names could
// be inside the store.
//
// Parent directories are not created. The path "-" is an ordinary file
// name here: callers that mean standard output handle it themselves.
package outpath
