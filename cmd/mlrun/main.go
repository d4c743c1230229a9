// Command mlrun runs credit-risk machine-learning pipelines declared in YAML,
// caches every step by the fingerprints of its inputs and configuration, and
// records everything in a content-addressed lineage store.
//
// Exit codes: 0 ok, 1 a check or gate failed, 2 invalid pipeline or usage,
// 3 runtime failure.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mlrun-cli/mlrun/pipeline"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Main runs the mlrun command line with the given arguments and streams and
// returns the process exit code. It is the single place that maps errors to
// exit codes.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(stdin, stdout, stderr)
	root := app.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return pipeline.ExitOK
	}
	code := pipeline.ExitCode(err)
	if !isSilent(err) {
		app.printError(err)
	}
	return code
}

// silentError carries an exit code whose message was already printed.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }
func (e *silentError) ExitCode() int { return e.code }

func isSilent(err error) bool {
	_, ok := err.(*silentError)
	return ok
}
