package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/synth"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stderrHas  string
		stdoutRows int // data rows expected on stdout; -1 for none
	}{
		{"stdout", []string{"-rows", "3"}, 0, "", 3},
		{"zero rows", []string{"-rows", "0"}, 0, "", 0},
		{"no rows flag", []string{}, 2, "-rows N (N >= 0) is required", -1},
		{"negative rows", []string{"-rows", "-4"}, 2, "-rows N (N >= 0) is required", -1},
		{"bad flag", []string{"-rows", "x"}, 2, `invalid value "x" for flag -rows`, -1},
		{"extra argument", []string{"-rows", "3", "out.csv"}, 2, `unexpected argument "out.csv"`, -1},
		{"unwritable", []string{"-rows", "3", "-o", filepath.Join(dir, "missing", "x.csv")}, 1, "mlrun-synth: create ", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderrHas) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderrHas)
			}
			if tc.stdoutRows >= 0 {
				if n := strings.Count(stdout.String(), "\n"); n != tc.stdoutRows+1 {
					t.Errorf("%d lines on stdout, want %d", n, tc.stdoutRows+1)
				}
			} else if stdout.Len() > 0 {
				t.Errorf("unexpected stdout %q", stdout.String())
			}
		})
	}
}

// TestOutputFile checks that -o writes exactly what synth.Write produces and
// leaves no temporary file behind.
func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apps.csv")
	var stderr bytes.Buffer
	if code := run([]string{"-rows", "500", "-seed", "7", "-drift", "-o", path}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := synth.Write(&want, synth.Options{Rows: 500, Seed: 7, Drift: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("-o output differs from synth.Write")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only apps.csv", len(entries))
	}
}
