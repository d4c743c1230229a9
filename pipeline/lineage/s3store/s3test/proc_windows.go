//go:build windows

package s3test

import "os/exec"

// setProcessGroup does nothing on Windows: the server is killed alone.
func setProcessGroup(*exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
