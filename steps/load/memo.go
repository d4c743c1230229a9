package load

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// schemaMemoVersion is part of every schema memo key. Bump it when the
// inference rules of table.ReadCSV change, so that schemas inferred by an
// older mlrun are learnt again.
//
// 2: non-finite floats are errors (or missing: non_finite), a column of
// numbers (bools, times) but for a few values is an error instead of a
// string column, and the memo keeps each column's levels and whether its
// type was declared. A version 1 entry would skip those checks of a file
// it read.
const schemaMemoVersion = 2

// racyWindow: a schema learnt from a file modified less than this before
// the read started is not memoised (the fingerprint memo's rule).
const racyWindow = 2 * time.Second

// fileStat is what identifies a file's content for the memo.
type fileStat struct {
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_ns"`
	Inode uint64 `json:"inode,omitempty"`
	CTime int64  `json:"ctime_ns,omitempty"`
}

// memoKey names a memo entry: the file's absolute path and the load
// options that affect inference. The file's stat is in the value, so that
// an edited file replaces its entry instead of adding one.
type memoKey struct {
	Memo      string            `json:"memo"`
	Version   int               `json:"version"`
	Path      string            `json:"path"`
	Columns   map[string]string `json:"columns,omitempty"`
	Missing   []string          `json:"missing"`
	Delimiter string            `json:"delimiter"`
	// NonFinite is Config.NonFinite ("" or "missing").
	NonFinite string `json:"non_finite,omitempty"`
	// TimeLayouts are the extra layouts of table.CSVOptions (none yet).
	TimeLayouts []string `json:"time_layouts,omitempty"`
}

// memoValue is the memoised result of the compile-time read of the file
// at Stat.
type memoValue struct {
	Stat    fileStat     `json:"stat"`
	Columns []memoColumn `json:"columns"`
	Rows    int          `json:"rows"`
}

type memoColumn struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Declared bool   `json:"declared,omitempty"`
	// Levels are table.FieldInfo.Levels: null when there are many.
	Levels []string `json:"levels"`
}

// schemaKey returns the memo key of the file at c.cfg.Path as it is now.
func (c *Compiled) schemaKey() (string, fileStat, bool) {
	abs, err := filepath.Abs(c.cfg.Path)
	if err != nil {
		return "", fileStat{}, false
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.Mode().IsRegular() {
		return "", fileStat{}, false
	}
	st := statOf(fi)
	b, err := json.Marshal(memoKey{
		Memo: "load-schema", Version: schemaMemoVersion, Path: abs,
		Columns: c.cfg.Columns, Missing: c.cfg.Missing, Delimiter: c.cfg.Delimiter,
		NonFinite: c.cfg.NonFinite,
	})
	if err != nil {
		return "", fileStat{}, false
	}
	return string(b), st, true
}

// memoSchema returns the schema and row count memoised under key for the
// file at stat st, checked against the file's header and the declared
// types, or nil.
func (c *Compiled) memoSchema(memo pipeline.SchemaMemo, key string, st fileStat, header []string) (*table.Schema, int) {
	b, ok := memo.Get(key)
	if !ok {
		return nil, 0
	}
	var v memoValue
	if json.Unmarshal(b, &v) != nil || v.Stat != st || v.Rows <= 0 || len(v.Columns) != len(header) {
		return nil, 0
	}
	s := &table.Schema{Fields: make([]table.Field, len(v.Columns))}
	for i, col := range v.Columns {
		t, ok := table.ParseType(col.Type)
		if !ok || col.Name != header[i] {
			return nil, 0
		}
		d, declared := c.declared[col.Name]
		if declared != col.Declared || (declared && d != t) {
			return nil, 0
		}
		s.Fields[i] = table.Field{Name: col.Name, Type: t, Info: &table.FieldInfo{Declared: declared, Levels: col.Levels}}
	}
	return s, v.Rows
}

// putSchema memoises the schema learnt (c.schema, c.rows) from a read
// that started at start, unless the file changed during the read or was
// modified within racyWindow before it.
func (c *Compiled) putSchema(memo pipeline.SchemaMemo, key string, before fileStat, start time.Time) {
	_, after, ok := c.schemaKey()
	if !ok || after != before || before.MTime >= start.Add(-racyWindow).UnixNano() {
		return
	}
	v := memoValue{Stat: before, Rows: c.rows}
	for _, f := range c.schema.Fields {
		col := memoColumn{Name: f.Name, Type: f.Type.String()}
		if f.Info != nil {
			col.Declared, col.Levels = f.Info.Declared, f.Info.Levels
		}
		v.Columns = append(v.Columns, col)
	}
	if b, err := json.Marshal(v); err == nil {
		memo.Put(key, b)
	}
}
