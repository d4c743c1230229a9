package pipeline

import (
	"errors"
	"fmt"
)

// Exit codes shared by every mlrun command.
const (
	// ExitOK means success.
	ExitOK = 0
	// ExitCheckFailed means a validation rule, gate or monitor check failed.
	ExitCheckFailed = 1
	// ExitInvalid means an invalid pipeline file, input or command-line usage.
	ExitInvalid = 2
	// ExitRuntime means a runtime failure (I/O, a corrupt store, a bug).
	ExitRuntime = 3
)

// ExitCoder is implemented by errors that know the exit code they map to.
type ExitCoder interface {
	error
	ExitCode() int
}

type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }
func (e *codedError) ExitCode() int { return e.code }

// WithExitCode wraps err so that ExitCode(err) returns code.
func WithExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: code, err: err}
}

// Invalidf returns an error with exit code 2 (invalid pipeline, input or usage).
func Invalidf(format string, args ...any) error {
	return &codedError{code: ExitInvalid, err: fmt.Errorf(format, args...)}
}

// ExitCode maps err to a process exit code: 0 for nil, the code of the first
// ExitCoder in the chain, otherwise 3 (runtime failure).
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var c ExitCoder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return ExitRuntime
}
