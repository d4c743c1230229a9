package load

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{"1000", 1000, ""},
		{"01", 1, ""},
		{"1B", 1, ""},
		{"1 B", 1, ""},
		{"1kB", 1000, ""},
		{"1KB", 1000, ""},
		{"1 kb", 1000, ""},
		{"100MB", 100_000_000, ""},
		{"3GB", 3_000_000_000, ""},
		{"2TB", 2_000_000_000_000, ""},
		{"512KiB", 512 << 10, ""},
		{"512kib", 512 << 10, ""},
		{"5MiB", 5 << 20, ""},
		{"2GiB", 2 << 30, ""},
		{"2 GiB", 2 << 30, ""},
		{"7TiB", 7 << 40, ""},
		{"8388607TiB", 8388607 << 40, ""},
		{"9223372036854775806", 9223372036854775806, ""},
		{"9223372036854775807", 0, "too large"},
		{"8388608TiB", 0, "too large"},
		{"99999999999999999999999", 0, "too large"},
		{"0", 0, "not positive"},
		{"0KiB", 0, "not positive"},
		{"", 0, "not a whole number of bytes with an optional unit"},
		{"MB", 0, "not a whole number of bytes with an optional unit"},
		{"abc", 0, "not a whole number of bytes with an optional unit"},
		{"-1", 0, "not a whole number of bytes with an optional unit"},
		{"1.5GB", 0, "not a whole number of bytes with an optional unit"},
		{"1 ", 0, "not a whole number of bytes with an optional unit"},
		{"1  MB", 0, "not a whole number of bytes with an optional unit"},
		{" 1MB", 0, "not a whole number of bytes with an optional unit"},
		{"1MB ", 0, "not a whole number of bytes with an optional unit"},
		{"100XB", 0, `unknown unit "XB" (want B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"100M", 0, `unknown unit "M" (want B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
		{"100 bytes", 0, `unknown unit "bytes" (want B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.err {
				t.Errorf("parseSize(%q) = %d, %q; want %d, %q", tt.in, got, gotErr, tt.want, tt.err)
			}
		})
	}
}

// sizePattern is the syntax parseSize accepts: digits, then optionally one
// space and a unit of sizeUnits in any case.
const sizePattern = `^[0-9]+( ?([kKmMgGtT][iI]?)?[bB])?$`

// FuzzParseSize checks that parseSize accepts the syntax of sizePattern,
// and that every count accepted is in range and reads back.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1000", "100MB", "2 GiB", "512kib", "0", "1.5GB", "100XB", "9223372036854775807", "1 ", "1ib"} {
		f.Add(s)
	}
	pattern := regexp.MustCompile(sizePattern)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && (n <= 0 || n > maxSizeLimit) {
			t.Errorf("parseSize(%q) = %d, out of range", s, n)
		}
		syntaxOK := !errors.Is(err, errSizeSyntax) && !errors.Is(err, errSizeUnit)
		if m := pattern.MatchString(s); m != syntaxOK {
			t.Errorf("%q: schema pattern matches: %v; parseSize error: %v", s, m, err)
		}
		if err == nil {
			if back, err := parseSize(strconv.FormatInt(n, 10)); err != nil || back != n {
				t.Errorf("parseSize(%d) = %d, %v", n, back, err)
			}
		}
	})
}

func TestMaxBytesErrors(t *testing.T) {
	dir := setup(t)
	const want = `max_bytes must be a whole number of bytes with an optional unit, such as 1000000, "100MB" or "2GiB", got `
	tests := []struct {
		src  string
		want []string
	}{
		{"path: data/a.csv\nmax_bytes: 0", []string{"p.yaml:2:12: max_bytes must be a positive number of bytes, got 0"}},
		{"path: data/a.csv\nmax_bytes: -1", []string{"p.yaml:2:12: max_bytes must be a positive number of bytes, got -1"}},
		{"path: data/a.csv\nmax_bytes: -99999999999999999999", []string{"p.yaml:2:12: max_bytes must be a positive number of bytes, got -99999999999999999999"}},
		{"path: data/a.csv\nmax_bytes: '0MB'", []string{`p.yaml:2:12: max_bytes must be a positive number of bytes, got "0MB"`}},
		{"path: data/a.csv\nmax_bytes: abc", []string{`p.yaml:2:12: ` + want + `"abc"`}},
		{"path: data/a.csv\nmax_bytes: 1.5GB", []string{`p.yaml:2:12: ` + want + `"1.5GB"`}},
		{"path: data/a.csv\nmax_bytes: 1.5", []string{`p.yaml:2:12: ` + want + `a number`}},
		{"path: data/a.csv\nmax_bytes: [1]", []string{`p.yaml:2:12: ` + want + `a list`}},
		{"path: data/a.csv\nmax_bytes: true", []string{`p.yaml:2:12: ` + want + `a boolean`}},
		{"path: data/a.csv\nmax_bytes: 100XB", []string{`p.yaml:2:12: max_bytes "100XB": unknown unit "XB" (want B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)`}},
		{"path: data/a.csv\nmax_bytes: 99999999999999999999", []string{`p.yaml:2:12: max_bytes 99999999999999999999 is too large (at most 9223372036854775806 bytes)`}},
		{"path: data/a.csv\nmax_bytes: 9223372036854775807", []string{`p.yaml:2:12: max_bytes 9223372036854775807 is too large (at most 9223372036854775806 bytes)`}},
		{"path: data/a.csv\nmax_bytes: 10000000TiB", []string{`p.yaml:2:12: max_bytes "10000000TiB" is too large (at most 9223372036854775806 bytes)`}},
		// A bad max_bytes and a bad path: both reported.
		{"path: data/nope.csv\nmax_bytes: 0", []string{
			"p.yaml:1:7: file " + filepath.Join(dir, "data/nope.csv") + " not found",
			"p.yaml:2:12: max_bytes must be a positive number of bytes, got 0"}},
		// A directory is an error, with or without max_bytes.
		{"path: data\nmax_bytes: 1000", []string{"p.yaml:1:7: " + filepath.Join(dir, "data") + " is a directory, not a CSV file"}},
		// A regular file longer than max_bytes (the file has 104 bytes).
		{"path: data/a.csv\nmax_bytes: 103", []string{`p.yaml:1:7: path "data/a.csv": longer than max_bytes (103 bytes)`}},
		{"path: data/a.csv\nmax_bytes: 0.1kB", []string{`p.yaml:2:12: ` + want + `"0.1kB"`}},
		{"path: data/a.csv\nmax_bytes: 100B", []string{`p.yaml:1:7: path "data/a.csv": longer than max_bytes (100 bytes)`}},
	}
	if len(sample) != 104 {
		t.Fatalf("sample has %d bytes; the table assumes 104", len(sample))
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, got := compileStep(t, dir, tt.src)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n got %q\nwant %q", got, tt.want)
			}
			if c != nil {
				t.Errorf("compiled despite errors")
			}
		})
	}
}

// oldConfig is Config as it was before max_bytes: the cache config of a
// step without max_bytes must encode to the same bytes.
type oldConfig struct {
	Path      string            `json:"path"`
	Columns   map[string]string `json:"columns,omitempty"`
	Missing   []string          `json:"missing"`
	Delimiter string            `json:"delimiter"`
}

func TestCacheConfigMaxBytes(t *testing.T) {
	dir := setup(t)
	path := filepath.Join(dir, "data", "a.csv")
	semi := filepath.Join(dir, "data", "semi.csv")
	tests := []struct {
		src  string
		old  *oldConfig // nil: max_bytes is set
		want string
	}{
		{"path: data/a.csv",
			&oldConfig{Path: path, Missing: DefaultMissing, Delimiter: ","},
			`{"path":` + strconv.Quote(path) + `,"missing":["","NA"],"delimiter":","}`},
		{"path: data/a.csv\ncolumns: {id: float, applied: date}",
			&oldConfig{Path: path, Columns: map[string]string{"id": "float", "applied": "time"}, Missing: DefaultMissing, Delimiter: ","},
			`{"path":` + strconv.Quote(path) + `,"columns":{"applied":"time","id":"float"},"missing":["","NA"],"delimiter":","}`},
		{"path: data/semi.csv\ndelimiter: ';'\nmissing: ['-']",
			&oldConfig{Path: semi, Missing: []string{"-"}, Delimiter: ";"},
			`{"path":` + strconv.Quote(semi) + `,"missing":["-"],"delimiter":";"}`},
		{"path: data/a.csv\nmax_bytes: 1024", nil,
			`{"path":` + strconv.Quote(path) + `,"missing":["","NA"],"delimiter":",","max_bytes":1024}`},
		// Units are resolved: the same limit gives the same key.
		{"path: data/a.csv\nmax_bytes: 1KiB", nil,
			`{"path":` + strconv.Quote(path) + `,"missing":["","NA"],"delimiter":",","max_bytes":1024}`},
		{"path: data/a.csv\nmax_bytes: '1 kib'", nil,
			`{"path":` + strconv.Quote(path) + `,"missing":["","NA"],"delimiter":",","max_bytes":1024}`},
		{"path: data/a.csv\nmax_bytes: 1MB", nil,
			`{"path":` + strconv.Quote(path) + `,"missing":["","NA"],"delimiter":",","max_bytes":1000000}`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			c, diags := compileStep(t, dir, tt.src)
			if len(diags) > 0 {
				t.Fatalf("diagnostics %q", diags)
			}
			got, err := json.Marshal(c.CacheConfig())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("cache config\n got %s\nwant %s", got, tt.want)
			}
			if tt.old != nil {
				old, _ := json.Marshal(tt.old)
				if string(got) != string(old) {
					t.Errorf("cache config changed without max_bytes\n got %s\n was %s", got, old)
				}
			}
			if files := c.Files(); !slices.Equal(files, []string{c.cfg.Path}) || c.Fingerprints() != nil {
				t.Errorf("regular file: Files() = %v, Fingerprints() = %v", files, c.Fingerprints())
			}
		})
	}
}

func TestRunMaxBytes(t *testing.T) {
	dir := setup(t)
	path := filepath.Join(dir, "data", "a.csv")
	// Exactly max_bytes is not longer than max_bytes.
	n := int64(len(sample))
	c, diags := compileStep(t, dir, "path: data/a.csv\nmax_bytes: "+strconv.FormatInt(n, 10))
	if len(diags) > 0 {
		t.Fatalf("diagnostics %q", diags)
	}
	sum, _ := fileSHA256(path, 0)
	files := map[string]pipeline.FileInfo{path: {Path: path, SHA256: sum, Size: n}}
	prog := &countProgress{}
	res, err := c.Run(context.Background(), &pipeline.RunRequest{Files: files, Jobs: 2, Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	if res.Metrics["rows"] != 3 || prog.total != n || prog.done != n {
		t.Errorf("metrics %v, progress %d of %d; want 3 rows, %d of %d bytes", res.Metrics, prog.done, prog.total, n, n)
	}

	// The file grows past max_bytes after compile.
	writeFile(t, path, sample+"4,1,own,2024-04-05,false\n")
	_, err = c.Run(context.Background(), &pipeline.RunRequest{Files: files, Jobs: 1})
	if err == nil || pipeline.ExitCode(err) != pipeline.ExitInvalid || !errors.Is(err, ErrTooLong) {
		t.Fatalf("err %v (exit %d), want ErrTooLong, exit 2", err, pipeline.ExitCode(err))
	}
	if want := "load data/a.csv: longer than max_bytes (104 bytes)"; err.Error() != want {
		t.Errorf("err %q\nwant %q", err, want)
	}
}

func TestCapReader(t *testing.T) {
	tests := []struct {
		n, max int64
		err    string
	}{
		{0, 10, ""},
		{9, 10, ""},
		{10, 10, ""},
		{11, 10, "longer than max_bytes (10 bytes)"},
		{1 << 20, 10, "longer than max_bytes (10 bytes)"},
		{1 << 20, 1, "longer than max_bytes (1 bytes)"},
	}
	for _, tt := range tests {
		t.Run(strconv.FormatInt(tt.n, 10)+"/"+strconv.FormatInt(tt.max, 10), func(t *testing.T) {
			src := &countReader{r: strings.NewReader(strings.Repeat("x", int(tt.n)))}
			b, err := io.ReadAll(&capReader{r: src, max: tt.max})
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
				if !errors.Is(err, ErrTooLong) {
					t.Errorf("err %v is not ErrTooLong", err)
				}
			}
			if gotErr != tt.err {
				t.Errorf("err %q, want %q", gotErr, tt.err)
			}
			if src.n > tt.max+1 || int64(len(b)) > tt.max+1 {
				t.Errorf("read %d bytes of the input (returned %d); want at most max+1 = %d", src.n, len(b), tt.max+1)
			}
			if tt.err == "" && int64(len(b)) != tt.n {
				t.Errorf("returned %d bytes, want %d", len(b), tt.n)
			}
		})
	}
}

// countReader counts the bytes read from r.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}
