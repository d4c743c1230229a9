package load

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/internal/textfmt"
	"github.com/mlrun-cli/mlrun/steps/internal/yamlnode"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// Version is the implementation version of the load kind, part of every
// cache key.
const Version = 1

// DefaultMissing are the field values read as null when `missing` is not set.
var DefaultMissing = []string{"", "NA"}

// MaxLevels is the most distinct values of a column that the compile-time
// read collects (table.FieldInfo.Levels): enough for a target's labels,
// few enough to cost little.
const MaxLevels = 16

// Kind returns the load step kind.
func Kind() pipeline.Kind { return kind{} }

type kind struct{}

func (kind) Name() string { return "load" }

func (kind) Version() int { return Version }

func (kind) Inputs() []pipeline.Port { return nil }

func (kind) Outputs() []string { return []string{"data"} }

func (kind) Required() []string { return []string{"path"} }

func (kind) Settings() map[string]any {
	return map[string]any{
		"path": map[string]any{
			"type":        "string",
			"description": "CSV file to read, relative to the pipeline file; its SHA-256 is part of the cache key",
		},
		"columns": map[string]any{
			"type":        "object",
			"description": "declared column types (the others are inferred from every value)",
			"additionalProperties": map[string]any{
				"type": "string",
				"enum": []string{"float", "int", "bool", "string", "date", "time"},
			},
		},
		"missing": map[string]any{
			"type":        "array",
			"items":       map[string]any{"type": "string"},
			"default":     DefaultMissing,
			"description": "field values read as null",
		},
		"non_finite": map[string]any{
			"type":    "string",
			"enum":    []string{"error", "missing"},
			"default": "error",
			"description": "how a numeric column reads NaN and infinities (nan, NaN, inf, -Inf, infinity, ...): " +
				"`error` (default) refuses the file, naming the row and column; `missing` reads them as missing values",
		},
		"delimiter": map[string]any{
			"type":        "string",
			"minLength":   1,
			"maxLength":   1,
			"default":     ",",
			"description": "field separator: one ASCII character",
		},
		"max_bytes": map[string]any{
			"description": "read at most this many bytes: a longer input is an error. Needed to read a device, FIFO or other non-regular file " +
				"(read once, when the pipeline is compiled, and fingerprinted from the bytes read). An integer, or a string with a unit in any case: " +
				"B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. \"100MB\", \"2GiB\"",
			"oneOf": []any{
				map[string]any{"type": "integer", "minimum": 1},
				// No pattern: Compile's message for a bad string lists the units.
				map[string]any{"type": "string"},
			},
		},
	}
}

// Config is the resolved configuration of a load step; it is the step's
// cache config (the executor adds the file's fingerprint).
type Config struct {
	// Path is the file's path resolved against the pipeline's directory.
	Path string `json:"path"`
	// Columns are the declared types by column name.
	Columns map[string]string `json:"columns,omitempty"`
	// Missing are the null tokens.
	Missing []string `json:"missing"`
	// Delimiter is the field separator.
	Delimiter string `json:"delimiter"`
	// NonFinite is "missing" when NaN and infinities read as missing
	// values; empty for the default, `error`, so that the cache keys of
	// steps without the setting (or with the default) are those of before
	// it.
	NonFinite string `json:"non_finite,omitempty"`
	// MaxBytes is max_bytes in bytes, 0 when not set. It is omitted then,
	// so that the cache keys of steps without it are those of before it.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// StreamSHA256 is the hex SHA-256 of the bytes of an input that is not
	// a regular file, read at compile time; the executor fingerprints only
	// the regular files of Files. Empty for a regular file.
	StreamSHA256 string `json:"stream_sha256,omitempty"`
}

// Compiled is a compiled load step. It implements pipeline.FileReader.
type Compiled struct {
	cfg       Config
	declared  map[string]table.Type
	nonFinite table.NonFinite
	schema    *table.Schema
	// rows is the number of data rows the schema was learnt from: the
	// run sizes its columns by it.
	rows int
	// written is the path as written in the pipeline, for messages.
	written string
	// stream is the fingerprint of an input that is not a regular file
	// (nil for a regular file), and data its bytes: a stream is read once,
	// at compile time, and Run parses the bytes kept.
	stream *pipeline.FileInfo
	data   []byte
}

func (kind) Compile(req *pipeline.CompileRequest) pipeline.Compiled {
	d := new(diag.List)
	defer req.Diags.Merge(d)
	c := &Compiled{
		cfg:      Config{Missing: DefaultMissing, Delimiter: ","},
		declared: map[string]table.Type{},
	}
	ok := true

	pathNode := req.Setting("path")
	if pathNode == nil {
		d.Add(req.Step.Pos, "load step needs a path")
		return nil
	}
	maxNode := req.Setting("max_bytes")
	if maxNode != nil {
		if v, msg := decodeMaxBytes(maxNode); msg != "" {
			d.Add(req.Pos(maxNode), "%s", msg)
			ok = false
		} else {
			c.cfg.MaxBytes = v
		}
	}

	var stream bool // the input is not a regular file
	if p, isStr := yamlnode.Str(pathNode); !isStr || p == "" {
		d.Add(req.Pos(pathNode), "path must be a file path, got %s", yamlnode.Describe(pathNode))
		ok = false
	} else {
		c.written = p
		c.cfg.Path = p
		if !filepath.IsAbs(p) {
			c.cfg.Path = filepath.Join(req.Pipeline.Dir, p)
		}
		// Stat, not Open: opening a FIFO waits for a writer.
		switch st, err := os.Stat(c.cfg.Path); {
		case errors.Is(err, fs.ErrNotExist):
			d.Add(req.Pos(pathNode), "file %s not found", c.cfg.Path)
			ok = false
		case err != nil:
			d.Add(req.Pos(pathNode), "cannot read %s: %v", c.cfg.Path, err)
			ok = false
		case st.IsDir():
			d.Add(req.Pos(pathNode), "%s is a directory, not a CSV file", c.cfg.Path)
			ok = false
		case maxNode != nil && c.cfg.MaxBytes == 0:
			// max_bytes is wrong (reported): whether the file needs it
			// is moot.
		default:
			if err := checkInput(st, c.cfg.MaxBytes); err != nil {
				d.Add(req.Pos(pathNode), "path %q: %v", c.written, err)
				ok = false
			}
			stream = !st.Mode().IsRegular()
		}
	}

	colNodes := map[string]*yaml.Node{}
	if n := req.Setting("columns"); n != nil {
		if n.Kind != yaml.MappingNode {
			d.Add(req.Pos(n), "columns must be a mapping of column name to type, got %s", yamlnode.Describe(n))
			ok = false
		}
		for _, p := range yamlnode.Pairs(n) {
			name := p.Key.Value
			if _, dup := colNodes[name]; dup {
				d.Add(req.Pos(p.Key), "column %q declared twice", name)
				ok = false
				continue
			}
			colNodes[name] = p.Key
			s, _ := yamlnode.Str(p.Value)
			t, valid := table.ParseType(s)
			if !valid {
				d.Add(req.Pos(p.Value), "unknown type %q for column %q (want float, int, bool, string, date or time)", p.Value.Value, name)
				ok = false
				continue
			}
			c.declared[name] = t
		}
		if len(c.declared) > 0 {
			c.cfg.Columns = map[string]string{}
			for name, t := range c.declared {
				c.cfg.Columns[name] = t.String()
			}
		}
	}

	if n := req.Setting("missing"); n != nil {
		if n.Kind != yaml.SequenceNode {
			d.Add(req.Pos(n), "missing must be a list of tokens, got %s", yamlnode.Describe(n))
			ok = false
		} else {
			c.cfg.Missing = []string{}
			for _, v := range n.Content {
				if v.Kind != yaml.ScalarNode {
					d.Add(req.Pos(v), "missing token must be a scalar, got %s", yamlnode.Describe(v))
					ok = false
					continue
				}
				if !slices.Contains(c.cfg.Missing, v.Value) {
					c.cfg.Missing = append(c.cfg.Missing, v.Value)
				}
			}
		}
	}

	if n := req.Setting("non_finite"); n != nil {
		s, _ := yamlnode.Str(n)
		if v, valid := table.ParseNonFinite(s); !valid || n.Kind != yaml.ScalarNode {
			got := yamlnode.Describe(n)
			if n.Kind == yaml.ScalarNode {
				got = strconv.Quote(n.Value)
			}
			d.Add(req.Pos(n), "non_finite must be error or missing, got %s", got)
			ok = false
		} else {
			c.nonFinite = v
			if v != table.NonFiniteError {
				c.cfg.NonFinite = v.String()
			}
		}
	}

	if n := req.Setting("delimiter"); n != nil {
		s, isStr := yamlnode.Str(n)
		if !isStr || len(s) != 1 || s[0] >= utf8.RuneSelf || s == `"` || s == "\r" || s == "\n" {
			d.Add(req.Pos(n), "delimiter must be one ASCII character other than a quote or a line break, got %q", n.Value)
			ok = false
		} else {
			c.cfg.Delimiter = s
		}
	}
	if !ok {
		return nil
	}

	if stream {
		return c.compileStream(req, d, pathNode, colNodes)
	}

	// Check the declared columns against the header, at their positions.
	header, err := readFileHeader(c.cfg.Path, c.cfg.Delimiter[0])
	if err == nil && !c.checkHeader(req, d, colNodes, header) {
		return nil
	}

	// Learn the schema: read the file, inferring undeclared types from all
	// their values; or, with a memo, take the schema learnt from the same
	// file (path and stat) with the same options (see memo.go).
	var (
		key    string
		before fileStat
		memoOK bool
	)
	if req.Memo != nil && err == nil {
		key, before, memoOK = c.schemaKey()
		if memoOK {
			if s, rows := c.memoSchema(req.Memo, key, before, header); s != nil {
				c.schema, c.rows = s, rows
				return c
			}
		}
	}
	start := time.Now()
	opts := c.options(c.declared, 0)
	opts.SchemaOnly = true // types and row count; Run reads the values
	opts.Levels = MaxLevels
	var (
		ds   *table.Dataset
		info table.ReadInfo
	)
	if c.cfg.MaxBytes > 0 {
		ds, info, err = readCSVLimited(c.cfg.Path, c.cfg.MaxBytes, opts)
	} else {
		ds, info, err = table.ReadCSVFile(c.cfg.Path, opts)
	}
	if !c.learnt(req, d, pathNode, ds, info.Columns, err) {
		return nil
	}
	if memoOK {
		c.putSchema(req.Memo, key, before, start)
	}
	return c
}

// checkHeader reports the declared columns missing from header, at their
// positions, and returns whether there are none.
func (c *Compiled) checkHeader(req *pipeline.CompileRequest, d *diag.List, colNodes map[string]*yaml.Node, header []string) bool {
	ok := true
	for _, name := range sortedKeys(colNodes) {
		if !slices.Contains(header, name) {
			d.Add(req.Pos(colNodes[name]), "column %q is not in the header of %s%s", name, c.written, yamlnode.SuggestWithin(name, header, 2))
			ok = false
		}
	}
	return ok
}

// learnt takes the schema and row count from the compile-time read of the
// input (ds, cols, err), or reports why there is none at the path's node:
// each problem of a read that has several (one per column), as its own
// diagnostic.
func (c *Compiled) learnt(req *pipeline.CompileRequest, d *diag.List, pathNode *yaml.Node, ds *table.Dataset, cols []table.ColumnInfo, err error) bool {
	var many interface{ Unwrap() []error }
	switch {
	case errors.Is(err, ErrTooLong):
		d.Add(req.Pos(pathNode), "path %q: %v", c.written, tooLong(c.cfg.MaxBytes))
		return false
	case errors.As(err, &many):
		for _, e := range many.Unwrap() {
			d.Add(req.Pos(pathNode), "%v", e)
		}
		return false
	case err != nil:
		d.Add(req.Pos(pathNode), "%v", err)
		return false
	case ds.Rows == 0:
		// A header and nothing else is almost always a truncated export;
		// fail here, before anything runs, rather than in a later step.
		d.Add(req.Pos(pathNode), "%s: header only, no data rows", c.written)
		return false
	}
	c.schema, c.rows = ds.Schema(), ds.Rows
	for i := range c.schema.Fields {
		f := &c.schema.Fields[i]
		f.Info = &table.FieldInfo{Declared: cols[i].Declared, Levels: cols[i].Levels}
	}
	return true
}

// compileStream learns the schema of an input that is not a regular file
// (a device, FIFO, ...; max_bytes is set). Such an input can be read only
// once, and may give other bytes when read again: it is read whole here,
// up to max_bytes, and its bytes are kept for Run and fingerprinted, since
// the executor fingerprints only regular files.
func (c *Compiled) compileStream(req *pipeline.CompileRequest, d *diag.List, pathNode *yaml.Node, colNodes map[string]*yaml.Node) pipeline.Compiled {
	data, fi, err := readInput(c.cfg.Path, c.cfg.MaxBytes)
	switch {
	case errors.Is(err, ErrTooLong):
		d.Add(req.Pos(pathNode), "path %q: %v", c.written, tooLong(c.cfg.MaxBytes))
		return nil
	case err != nil:
		d.Add(req.Pos(pathNode), "cannot read %s: %v", c.cfg.Path, err)
		return nil
	}
	if header, err := readHeader(bytes.NewReader(data), c.cfg.Delimiter[0]); err == nil && !c.checkHeader(req, d, colNodes, header) {
		return nil
	}
	opts := c.options(c.declared, 0)
	opts.SchemaOnly = true
	opts.Levels = MaxLevels
	ds, cols, err := table.ParseCSV(data, opts)
	if !c.learnt(req, d, pathNode, ds, cols, err) {
		return nil
	}
	c.stream, c.data = &fi, data
	c.cfg.StreamSHA256 = fi.SHA256
	return c
}

// options returns the CSV options for the given types.
func (c *Compiled) options(types map[string]table.Type, jobs int) table.CSVOptions {
	return table.CSVOptions{
		Name:      c.written,
		Delimiter: c.cfg.Delimiter[0],
		Missing:   c.cfg.Missing,
		Types:     types,
		NonFinite: c.nonFinite,
		Jobs:      jobs,
	}
}

// readFileHeader reads the column names of a CSV file.
func readFileHeader(path string, delim byte) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHeader(bufio.NewReader(f), delim)
}

// readHeader reads the column names of CSV input.
func readHeader(in io.Reader, delim byte) ([]string, error) {
	r := csv.NewReader(in)
	r.Comma = rune(delim)
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		return nil, err
	}
	if len(rec) > 0 {
		rec[0] = strings.TrimPrefix(rec[0], "\uFEFF")
	}
	return rec, nil
}

// Files implements pipeline.FileReader: the file read, for the executor
// to fingerprint; none for an input that is not a regular file (the
// executor's fingerprint refuses those), whose SHA-256, taken from the
// bytes read at compile time, is in the cache config and Fingerprints.
func (c *Compiled) Files() []string {
	if c.stream != nil {
		return nil
	}
	return []string{c.cfg.Path}
}

// Fingerprints returns the fingerprints the step took itself, for the
// run's record: that of an input that is not a regular file (path, SHA-256
// and size of the bytes read at compile time); none for a regular file,
// which is in Files.
func (c *Compiled) Fingerprints() []pipeline.FileInfo {
	if c.stream == nil {
		return nil
	}
	return []pipeline.FileInfo{*c.stream}
}

// Schema returns the schema learnt at compile time.
func (c *Compiled) Schema() *table.Schema { return c.schema }

// OutputTypes implements pipeline.Compiled.
func (c *Compiled) OutputTypes() map[string]pipeline.Type {
	return map[string]pipeline.Type{"data": c.schema}
}

// CacheConfig implements pipeline.Compiled.
func (c *Compiled) CacheConfig() any { return c.cfg }

// ErrFileChanged is returned when the file read differs from the one
// fingerprinted for the cache key or compiled against.
var ErrFileChanged = errors.New("file changed while running")

// Run implements pipeline.Compiled: it reads the file with every column's
// type fixed to the compiled schema, so it is parsed as it is read, into
// columns sized by the rows counted at compile time (table.ReadCSVFile).
// With max_bytes it reads at most max_bytes+1 bytes. An input that is not
// a regular file was read at compile time: Run parses the bytes kept.
func (c *Compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	types := make(map[string]table.Type, len(c.schema.Fields))
	for _, f := range c.schema.Fields {
		types[f.Name] = f.Type
	}
	opts := c.options(types, max(req.Jobs, 1))
	opts.RowsHint = c.rows
	if c.stream != nil {
		return c.runStream(req, opts)
	}
	st, statErr := os.Stat(c.cfg.Path)
	if statErr == nil {
		// The file may have been replaced since it was compiled; a FIFO
		// must not be opened, a device not read without a limit.
		if err := checkInput(st, c.cfg.MaxBytes); err != nil {
			return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("load %s: %w", c.written, err))
		}
	}
	if req.Progress != nil {
		// Progress counts the bytes read; parsing follows the last block.
		if statErr == nil && st.Mode().IsRegular() {
			req.Progress.Total(st.Size())
		}
		opts.OnRead = func(n int) { req.Progress.Add(int64(n)) }
	}
	var (
		ds   *table.Dataset
		info table.ReadInfo
		err  error
	)
	if c.cfg.MaxBytes > 0 {
		ds, info, err = readCSVLimited(c.cfg.Path, c.cfg.MaxBytes, opts)
	} else {
		ds, info, err = table.ReadCSVFile(c.cfg.Path, opts)
	}
	if err != nil {
		var pe *table.ParseError
		switch {
		case errors.Is(err, ErrTooLong):
			return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("load %s: %w", c.written, tooLong(c.cfg.MaxBytes)))
		case errors.As(err, &pe):
			// A file that changed since it was fingerprinted may no longer
			// parse as compiled: say so rather than blame the data.
			if fi, ok := req.Files[c.cfg.Path]; ok {
				if sum, herr := fileSHA256(c.cfg.Path, c.cfg.MaxBytes); herr == nil && sum != fi.SHA256 {
					return nil, fmt.Errorf("load %s: %w: sha256 %s when fingerprinted, %s now: %v", c.written, ErrFileChanged, fi.SHA256, sum, err)
				}
			}
			return nil, fmt.Errorf("load %s: %w", c.written, err) // exit code 2 from ParseError
		case errors.Is(err, fs.ErrNotExist):
			return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("load %s: %w", c.written, err))
		}
		return nil, fmt.Errorf("load %s: %w", c.written, err)
	}
	return c.result(req, ds, info.SHA256)
}

// runStream parses the bytes of an input that is not a regular file, read
// at compile time.
func (c *Compiled) runStream(req *pipeline.RunRequest, opts table.CSVOptions) (*pipeline.Result, error) {
	if req.Progress != nil {
		req.Progress.Total(int64(len(c.data)))
	}
	ds, _, err := table.ParseCSV(c.data, opts)
	if err != nil {
		// The bytes parsed at compile time with the types inferred from
		// them: not expected, but say which input.
		return nil, fmt.Errorf("load %s: %w", c.written, err)
	}
	if req.Progress != nil {
		req.Progress.Add(int64(len(c.data)))
	}
	return c.result(req, ds, c.stream.SHA256)
}

// result checks the dataset read, whose bytes have SHA-256 sum, against
// the fingerprint and the compiled schema, and returns the step's result.
func (c *Compiled) result(req *pipeline.RunRequest, ds *table.Dataset, sum string) (*pipeline.Result, error) {
	if fi, ok := req.Files[c.cfg.Path]; ok && fi.SHA256 != sum {
		return nil, fmt.Errorf("load %s: %w: sha256 %s when fingerprinted, %s when read", c.written, ErrFileChanged, fi.SHA256, sum)
	}
	if got := ds.Schema(); !slices.EqualFunc(got.Fields, c.schema.Fields, sameField) {
		return nil, fmt.Errorf("load %s: %w: columns %v when compiled, %v when read", c.written, ErrFileChanged, c.schema.Names(), got.Names())
	}
	return &pipeline.Result{
		Outputs: map[string]pipeline.Object{"data": ds},
		Metrics: map[string]float64{"rows": float64(ds.Rows), "columns": float64(len(ds.Columns))},
		Notes: []string{fmt.Sprintf("%s rows × %d columns, sha256 %s…",
			textfmt.Thousands(ds.Rows), len(ds.Columns), sum[:min(12, len(sum))])},
	}, nil
}

// fileSHA256 returns the hex SHA-256 of a file's bytes, reading at most
// maxBytes+1 of them when maxBytes > 0 (an error if there are more).
func fileSHA256(path string, maxBytes int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var r io.Reader = f
	if maxBytes > 0 {
		r = &capReader{r: f, max: maxBytes}
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sameField reports whether two fields have the same name and type.
func sameField(a, b table.Field) bool { return a.Name == b.Name && a.Type == b.Type }

func sortedKeys(m map[string]*yaml.Node) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
