//go:build unix

package load

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// guard is how long a compile or run of a stream may take: a test that
// blocks opening a FIFO fails after it instead of hanging.
const guard = 10 * time.Second

// within runs fn and fails the test if it has not returned after guard.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(guard):
		t.Fatalf("%s: still running after %v (blocked opening a FIFO?)", what, guard)
	}
}

// mkfifo makes a FIFO at path. At cleanup it opens the FIFO for reading
// without blocking, so that a writer still waiting for a reader (the test
// failed before reading) is let go.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
}

// writeFIFO writes content to the FIFO at path once a reader opens it, and
// returns the channel of the write's error.
func writeFIFO(path, content string) <-chan error {
	errc := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			errc <- err
			return
		}
		_, err = f.WriteString(content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		errc <- err
	}()
	return errc
}

func TestStreamCompileErrors(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	dir := setup(t)
	mkfifo(t, filepath.Join(dir, "data", "fifo"))
	sock := filepath.Join(dir, "data", "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Logf("no unix socket: %v", err)
	} else {
		defer ln.Close()
	}
	const hint = "; give max_bytes: to read a device, FIFO or other stream up to a limit"
	tests := []struct {
		src  string
		want []string
	}{
		{"path: /dev/zero", []string{`p.yaml:1:7: path "/dev/zero": not a regular file (a character device)` + hint}},
		{"path: /dev/zero\nmax_bytes: 1000", []string{`p.yaml:1:7: path "/dev/zero": longer than max_bytes (1000 bytes)`}},
		{"path: /dev/zero\nmax_bytes: 1KiB", []string{`p.yaml:1:7: path "/dev/zero": longer than max_bytes (1024 bytes)`}},
		{"path: data/fifo", []string{`p.yaml:1:7: path "data/fifo": not a regular file (a FIFO)` + hint}},
		{"path: data/fifo\ncolumns: {x: int}\ndelimiter: ';'", []string{`p.yaml:1:7: path "data/fifo": not a regular file (a FIFO)` + hint}},
		// A bad max_bytes is reported, not the FIFO's need of one.
		{"path: data/fifo\nmax_bytes: 0", []string{`p.yaml:2:12: max_bytes must be a positive number of bytes, got 0`}},
		{"path: data\nmax_bytes: 1000", []string{"p.yaml:1:7: " + filepath.Join(dir, "data") + " is a directory, not a CSV file"}},
	}
	if ln != nil {
		tests = append(tests, struct {
			src  string
			want []string
		}{"path: data/sock", []string{`p.yaml:1:7: path "data/sock": not a regular file (a socket)` + hint}})
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			var (
				c   *Compiled
				got []string
			)
			within(t, "compile", func() { c, got = compileStep(t, dir, tt.src) })
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}

func TestStreamFIFO(t *testing.T) {
	dir := setup(t)
	fifo := filepath.Join(dir, "data", "fifo")
	tests := []struct {
		name     string
		src      string
		content  string
		wantErr  string // the diagnostic; "" to compile
		wantRows int
	}{
		{"loads", "path: data/fifo\nmax_bytes: 1MB", sample, "", 3},
		{"exactly max_bytes", "path: data/fifo\nmax_bytes: 104", sample, "", 3},
		{"declared types", "path: data/fifo\nmax_bytes: 1MB\ncolumns: {id: float, flag: string}", sample, "", 3},
		{"longer", "path: data/fifo\nmax_bytes: 103", sample,
			`p.yaml:1:7: path "data/fifo": longer than max_bytes (103 bytes)`, 0},
		{"much longer", "path: data/fifo\nmax_bytes: 100", strings.Repeat("x,y\n", 1<<20),
			`p.yaml:1:7: path "data/fifo": longer than max_bytes (100 bytes)`, 0},
		{"header only", "path: data/fifo\nmax_bytes: 1MB", "x,y\n",
			`p.yaml:1:7: data/fifo: header only, no data rows`, 0},
		{"bad data", "path: data/fifo\nmax_bytes: 1MB\ncolumns: {x: int}", "x,y\n1,2\nthree,4\n",
			`p.yaml:1:7: data/fifo:3: row 2: column "x": "three" is not an int`, 0},
		{"unknown column", "path: data/fifo\nmax_bytes: 1MB\ncolumns: {zzz: int}", "x,y\n1,2\n",
			`p.yaml:3:11: column "zzz" is not in the header of data/fifo`, 0},
	}
	if len(sample) != 104 {
		t.Fatalf("sample has %d bytes; the table assumes 104", len(sample))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(fifo)
			mkfifo(t, fifo)
			errc := writeFIFO(fifo, tt.content)
			var (
				c     *Compiled
				diags []string
			)
			within(t, "compile", func() { c, diags = compileStep(t, dir, tt.src) })
			if tt.wantErr != "" {
				if want := []string{tt.wantErr}; !slices.Equal(diags, want) || c != nil {
					t.Errorf("diagnostics:\n got %q\nwant %q", diags, want)
				}
				return // the writer may fail: the reader stopped early
			}
			if len(diags) > 0 {
				t.Fatalf("diagnostics %q", diags)
			}
			if err := <-errc; err != nil {
				t.Fatalf("writer: %v", err)
			}

			// The stream's fingerprint is the step's: Files lists none for
			// the executor, and the cache config holds the SHA-256.
			h := sha256.Sum256([]byte(tt.content))
			sum := hex.EncodeToString(h[:])
			if files := c.Files(); files != nil {
				t.Errorf("Files() = %v, want none", files)
			}
			wantFP := []pipeline.FileInfo{{Path: fifo, SHA256: sum, Size: int64(len(tt.content))}}
			if got := c.Fingerprints(); !slices.Equal(got, wantFP) {
				t.Errorf("Fingerprints() = %v, want %v", got, wantFP)
			}
			var cfg map[string]any
			b, _ := json.Marshal(c.CacheConfig())
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg["stream_sha256"] != sum || cfg["max_bytes"] == nil {
				t.Errorf("cache config %s: want stream_sha256 %s and max_bytes", b, sum)
			}

			// Run parses the bytes read at compile time, without opening
			// the FIFO again (no writer now), as often as it is run.
			for _, jobs := range []int{1, 4} {
				var (
					res *pipeline.Result
					err error
				)
				prog := &countProgress{}
				within(t, "run", func() {
					res, err = c.Run(context.Background(), &pipeline.RunRequest{Jobs: jobs, Progress: prog})
				})
				if err != nil {
					t.Fatal(err)
				}
				ds := res.Outputs["data"].(*table.Dataset)
				if ds.Rows != tt.wantRows || fields(ds.Schema()) != fields(c.Schema()) {
					t.Errorf("read %d rows, schema %s; want %d rows, %s", ds.Rows, fields(ds.Schema()), tt.wantRows, fields(c.Schema()))
				}
				if n := int64(len(tt.content)); prog.total != n || prog.done != n {
					t.Errorf("progress %d of %d, want %d of %d", prog.done, prog.total, n, n)
				}
				if want := "3 rows × 5 columns, sha256 " + sum[:12] + "…"; !slices.Equal(res.Notes, []string{want}) {
					t.Errorf("notes %q, want %q", res.Notes, want)
				}
			}
		})
	}
}

// TestRunReplacedByFIFO: a file that is a FIFO at run time, though it was
// a regular file when compiled, is an error at once, not a hang.
func TestRunReplacedByFIFO(t *testing.T) {
	dir := setup(t)
	path := filepath.Join(dir, "data", "a.csv")
	c, diags := compileStep(t, dir, "path: data/a.csv")
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, path)
	var err error
	within(t, "run", func() { _, err = c.Run(context.Background(), &pipeline.RunRequest{Jobs: 1}) })
	if !errors.Is(err, ErrNotRegular) || pipeline.ExitCode(err) != pipeline.ExitInvalid {
		t.Fatalf("err %v (exit %d), want ErrNotRegular, exit 2", err, pipeline.ExitCode(err))
	}
	want := "load data/a.csv: not a regular file (a FIFO); give max_bytes: to read a device, FIFO or other stream up to a limit"
	if err.Error() != want {
		t.Errorf("err %q\nwant %q", err, want)
	}

	// A directory in its place.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(context.Background(), &pipeline.RunRequest{Jobs: 1})
	if want := "load data/a.csv: not a regular file (a directory)"; err == nil || err.Error() != want {
		t.Errorf("err %v\nwant %q", err, want)
	}
}
