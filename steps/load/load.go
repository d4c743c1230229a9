package load

import (
	"bufio"
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
		"delimiter": map[string]any{
			"type":        "string",
			"minLength":   1,
			"maxLength":   1,
			"default":     ",",
			"description": "field separator: one ASCII character",
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
}

// Compiled is a compiled load step. It implements pipeline.FileReader.
type Compiled struct {
	cfg      Config
	declared map[string]table.Type
	schema   *table.Schema
	// rows is the number of data rows the schema was learnt from: the
	// run sizes its columns by it.
	rows int
	// written is the path as written in the pipeline, for messages.
	written string
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
	if p, isStr := yamlnode.Str(pathNode); !isStr || p == "" {
		d.Add(req.Pos(pathNode), "path must be a file path, got %s", yamlnode.Describe(pathNode))
		ok = false
	} else {
		c.written = p
		c.cfg.Path = p
		if !filepath.IsAbs(p) {
			c.cfg.Path = filepath.Join(req.Pipeline.Dir, p)
		}
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

	// Check the declared columns against the header, at their positions.
	header, err := readHeader(c.cfg.Path, c.cfg.Delimiter[0])
	if err == nil {
		for _, name := range sortedKeys(colNodes) {
			if !slices.Contains(header, name) {
				d.Add(req.Pos(colNodes[name]), "column %q is not in the header of %s%s", name, c.written, yamlnode.SuggestWithin(name, header, 2))
				ok = false
			}
		}
	}
	if !ok {
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
	ds, _, err := table.ReadCSVFile(c.cfg.Path, opts)
	if err != nil {
		d.Add(req.Pos(pathNode), "%v", err)
		return nil
	}
	if ds.Rows == 0 {
		// A header and nothing else is almost always a truncated export;
		// fail here, before anything runs, rather than in a later step.
		d.Add(req.Pos(pathNode), "%s: header only, no data rows", c.written)
		return nil
	}
	c.schema, c.rows = ds.Schema(), ds.Rows
	if memoOK {
		c.putSchema(req.Memo, key, before, start, ds)
	}
	return c
}

// options returns the CSV options for the given types.
func (c *Compiled) options(types map[string]table.Type, jobs int) table.CSVOptions {
	return table.CSVOptions{
		Name:      c.written,
		Delimiter: c.cfg.Delimiter[0],
		Missing:   c.cfg.Missing,
		Types:     types,
		Jobs:      jobs,
	}
}

// readHeader reads the column names of a CSV file.
func readHeader(path string, delim byte) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
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

// Files implements pipeline.FileReader.
func (c *Compiled) Files() []string { return []string{c.cfg.Path} }

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
func (c *Compiled) Run(ctx context.Context, req *pipeline.RunRequest) (*pipeline.Result, error) {
	types := make(map[string]table.Type, len(c.schema.Fields))
	for _, f := range c.schema.Fields {
		types[f.Name] = f.Type
	}
	opts := c.options(types, max(req.Jobs, 1))
	opts.RowsHint = c.rows
	if req.Progress != nil {
		// Progress counts the bytes read; parsing follows the last block.
		if st, err := os.Stat(c.cfg.Path); err == nil {
			req.Progress.Total(st.Size())
		}
		opts.OnRead = func(n int) { req.Progress.Add(int64(n)) }
	}
	ds, info, err := table.ReadCSVFile(c.cfg.Path, opts)
	if err != nil {
		var pe *table.ParseError
		switch {
		case errors.As(err, &pe):
			// A file that changed since it was fingerprinted may no longer
			// parse as compiled: say so rather than blame the data.
			if fi, ok := req.Files[c.cfg.Path]; ok {
				if sum, herr := fileSHA256(c.cfg.Path); herr == nil && sum != fi.SHA256 {
					return nil, fmt.Errorf("load %s: %w: sha256 %s when fingerprinted, %s now: %v", c.written, ErrFileChanged, fi.SHA256, sum, err)
				}
			}
			return nil, fmt.Errorf("load %s: %w", c.written, err) // exit code 2 from ParseError
		case errors.Is(err, fs.ErrNotExist):
			return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("load %s: %w", c.written, err))
		}
		return nil, fmt.Errorf("load %s: %w", c.written, err)
	}
	if fi, ok := req.Files[c.cfg.Path]; ok && fi.SHA256 != info.SHA256 {
		return nil, fmt.Errorf("load %s: %w: sha256 %s when fingerprinted, %s when read", c.written, ErrFileChanged, fi.SHA256, info.SHA256)
	}
	if got := ds.Schema(); !slices.Equal(got.Fields, c.schema.Fields) {
		return nil, fmt.Errorf("load %s: %w: columns %v when compiled, %v when read", c.written, ErrFileChanged, c.schema.Names(), got.Names())
	}
	return &pipeline.Result{
		Outputs: map[string]pipeline.Object{"data": ds},
		Metrics: map[string]float64{"rows": float64(ds.Rows), "columns": float64(len(ds.Columns))},
		Notes: []string{fmt.Sprintf("%s rows × %d columns, sha256 %s…",
			textfmt.Thousands(ds.Rows), len(ds.Columns), info.SHA256[:min(12, len(info.SHA256))])},
	}, nil
}

// fileSHA256 returns the hex SHA-256 of a file's bytes.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortedKeys(m map[string]*yaml.Node) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
