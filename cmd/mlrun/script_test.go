package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// update rewrites the expected output that scripts compare with cmp (files
// inside the txtar archives): go test ./cmd/mlrun -run TestScript -update.
var update = flag.Bool("update", false, "rewrite the cmp files inside testdata/script/*.txtar with the actual output")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"mlrun": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScript runs the end-to-end CLI scripts in testdata/script/*.txtar.
// Each script runs in a fresh temporary directory holding the files of its
// archive; $REPO is the repository root (for examples/), and $SHARED the
// shared data folder when it exists.
func TestScript(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: false,
		UpdateScripts:       *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("MLRUN_STORE", "")
			env.Setenv("MLRUN_CACHE_DIR", filepath.Join(env.WorkDir, ".cache", "mlrun"))
			shared := filepath.Join(repo, "..", "shared", "data")
			if _, err := os.Stat(filepath.Join(shared, "credit_data.csv")); err == nil {
				env.Setenv("SHARED_DATA", shared)
			}
			return nil
		},
		Cmds: scriptCmds,
		Condition: func(cond string) (bool, error) {
			if cond == "shareddata" {
				_, err := os.Stat(filepath.Join(repo, "..", "shared", "data", "credit_data.csv"))
				return err == nil, nil
			}
			return false, nil
		},
	})
}

// cmdExitCode implements "exitcode N prog args...": run prog and fail
// unless it exits with code N. Its output is kept for stdout/stderr checks.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N prog [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// scriptBinary returns the mlrun command that testscript.Main installed in
// $PATH (a copy of this test binary that runs Main when named mlrun).
func scriptBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("mlrun")
	if err != nil {
		t.Fatalf("mlrun is not in $PATH (TestMain installs it): %v", err)
	}
	if !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(bin))), "testscript-main") {
		t.Fatalf("mlrun in $PATH is %s, not the copy of the test binary installed by testscript.Main", bin)
	}
	return bin
}
