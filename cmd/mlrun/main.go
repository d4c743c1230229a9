// Command mlrun runs credit-risk machine-learning pipelines declared in YAML,
// caches every step by the fingerprints of its inputs and configuration, and
// records everything in a content-addressed lineage store.
//
// Exit codes: 0 ok, 1 a check or gate failed, 2 invalid pipeline or usage,
// 3 runtime failure.
package main

import (
	"context"
	"errors"
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
	app.args = args
	root := app.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return pipeline.ExitOK
	}
	var coded pipeline.ExitCoder
	if app.cmd == nil && cmd != nil && !errors.As(err, &coded) {
		// No command ran (app.cmd is set just before): cobra refused the
		// command line, an unknown command or a wrong number of
		// arguments. That is a usage error, as a bad flag is.
		err = usageError(cmd, err)
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
