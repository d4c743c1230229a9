// Command mlrun-synth writes deterministic synthetic loan applications as CSV
// (see package internal/synth for the columns). It is a development tool for
// examples, tests and benchmarks.
//
// Usage:
//
//	mlrun-synth -rows N [-seed S] [-drift] [-o FILE]
//
// Without -o the CSV goes to standard output. Exit status: 0 on success,
// 2 for bad flags, 1 when writing fails.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mlrun-cli/mlrun/internal/synth"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, writes the CSV and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mlrun-synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rows := fs.Int("rows", -1, "number of data rows (required)")
	seed := fs.Uint64("seed", 42, "random seed")
	drift := fs.Bool("drift", false, "generate a shifted production batch")
	out := fs.String("o", "", "output file (default standard output)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mlrun-synth -rows N [-seed S] [-drift] [-o FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mlrun-synth: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *rows < 0 {
		fmt.Fprintln(stderr, "mlrun-synth: -rows N (N >= 0) is required")
		fs.Usage()
		return 2
	}
	opts := synth.Options{Rows: *rows, Seed: *seed, Drift: *drift}
	if *out == "" {
		if err := synth.Write(stdout, opts); err != nil {
			fmt.Fprintf(stderr, "mlrun-synth: %v\n", err)
			return 1
		}
		return 0
	}
	if err := writeFile(*out, opts); err != nil {
		fmt.Fprintf(stderr, "mlrun-synth: %v\n", err)
		return 1
	}
	return 0
}

// writeFile writes the CSV to a temporary file beside path and renames it
// into place, so a failed run never leaves a truncated file under path.
func writeFile(path string, opts synth.Options) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := synth.Write(bw, opts); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	return nil
}
