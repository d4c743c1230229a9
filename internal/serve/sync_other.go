//go:build !linux

package serve

import "os"

// datasync makes f's written bytes durable (File.Sync: fsync, or
// F_FULLFSYNC on macOS).
func datasync(f *os.File) error { return f.Sync() }
