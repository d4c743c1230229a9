package load

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// mapMemo is an in-memory pipeline.SchemaMemo that counts the lookups
// that found an entry (hits) and the entries put.
type mapMemo struct {
	m          map[string][]byte
	hits, puts int
}

func (m *mapMemo) Get(key string) ([]byte, bool) {
	b, ok := m.m[key]
	if ok {
		m.hits++
	}
	return b, ok
}

func (m *mapMemo) Put(key string, data []byte) { m.m[key] = data; m.puts++ }

func compileMemo(t *testing.T, dir, src string, memo pipeline.SchemaMemo) *Compiled {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{File: "p.yaml", Dir: dir}
	step := &pipeline.StepSpec{ID: "s", Kind: "load", Node: doc.Content[0], Pos: diag.Pos{File: "p.yaml", Line: 1, Col: 1}}
	var diags diag.List
	c := Kind().Compile(&pipeline.CompileRequest{Step: step, Pipeline: p, Diags: &diags, Params: map[string]any{}, Memo: memo})
	if c == nil || diags.HasErrors() {
		t.Fatalf("compile %q: %v", src, diags.Items())
	}
	return c.(*Compiled)
}

// age sets a file's mtime an hour back, out of the racy window.
func age(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaMemo(t *testing.T) {
	dir := setup(t)
	path := filepath.Join(dir, "data", "a.csv")
	age(t, path)
	memo := &mapMemo{m: map[string][]byte{}}
	const src = "path: data/a.csv"

	want := compileMemo(t, dir, src, nil).Schema()
	first := compileMemo(t, dir, src, memo)
	if memo.hits != 0 || memo.puts != 1 {
		t.Fatalf("first compile: hits %d puts %d, want 0 and 1", memo.hits, memo.puts)
	}
	// A read would put the entry again: the second compile used it.
	second := compileMemo(t, dir, src, memo)
	if memo.hits != 1 || memo.puts != 1 {
		t.Fatalf("second compile: hits %d puts %d, want 1 and 1", memo.hits, memo.puts)
	}
	for _, c := range []*Compiled{first, second} {
		if !sameSchema(c.Schema(), want) {
			t.Fatalf("schema %v, want %v", c.Schema().Fields, want.Fields)
		}
	}

	// Other load options are another key.
	compileMemo(t, dir, "path: data/a.csv\ncolumns: {id: float}", memo)
	if memo.hits != 1 || memo.puts != 2 || len(memo.m) != 2 {
		t.Fatalf("declared types: hits %d puts %d entries %d, want 1, 2 and 2", memo.hits, memo.puts, len(memo.m))
	}

	// An edited file (other size and mtime) misses, is read again, and
	// its entry replaces the old one.
	writeFile(t, path, "id,amount,home,applied,flag\nx1,100.5,own,2024-01-02,1.5\n")
	age(t, path)
	edited := compileMemo(t, dir, src, memo)
	if memo.puts != 3 || len(memo.m) != 2 {
		t.Fatalf("edited file: puts %d entries %d, want 3 and 2", memo.puts, len(memo.m))
	}
	if got := edited.Schema().Fields; got[0].Type == want.Fields[0].Type || got[4].Type == want.Fields[4].Type {
		t.Fatalf("edited file kept the old types: %v", got)
	}

	// A file modified just now is not memoised (racy window).
	writeFile(t, path, sample)
	compileMemo(t, dir, src, memo)
	compileMemo(t, dir, src, memo)
	if memo.puts != 3 {
		t.Fatalf("fresh file: puts %d, want 3", memo.puts)
	}

	// A damaged entry is a miss, never a wrong schema.
	age(t, path)
	compileMemo(t, dir, src, memo)
	for k := range memo.m {
		memo.m[k] = []byte(`{"columns":[{"name":"id","type":"bogus"}],"rows":1}`)
	}
	if got := compileMemo(t, dir, src, memo).Schema(); !sameSchema(got, want) {
		t.Fatalf("damaged memo: schema %v, want %v", got.Fields, want.Fields)
	}
}

// sameSchema reports whether two schemas have the same fields, with the
// same FieldInfo (declared, levels).
func sameSchema(a, b *table.Schema) bool {
	return slices.EqualFunc(a.Fields, b.Fields, func(x, y table.Field) bool {
		if x.Name != y.Name || x.Type != y.Type || (x.Info == nil) != (y.Info == nil) {
			return false
		}
		return x.Info == nil || (x.Info.Declared == y.Info.Declared && (x.Info.Levels == nil) == (y.Info.Levels == nil) && slices.Equal(x.Info.Levels, y.Info.Levels))
	})
}

// TestSchemaMemoVersion: schemas memoised by the inference rules before
// issue 14 (memo version 1: a few bad values made a column string,
// infinities passed) are not used: the file is read again and its
// problems reported. The memo keeps the levels and declared flags.
func TestSchemaMemoVersion(t *testing.T) {
	dir := setup(t)
	path := filepath.Join(dir, "data", "a.csv")
	writeFile(t, path, "id,amount,y\n1,10,a\n2,inf,b\n3,30,a\n")
	age(t, path)
	c := &Compiled{cfg: Config{Path: path, Missing: DefaultMissing, Delimiter: ","}}
	key, st, ok := c.schemaKey()
	if !ok {
		t.Fatal("no memo key")
	}
	// The same key under version 1, with the schema version 1 learnt.
	var k map[string]any
	if err := json.Unmarshal([]byte(key), &k); err != nil {
		t.Fatal(err)
	}
	if k["version"] != float64(schemaMemoVersion) || schemaMemoVersion < 2 {
		t.Fatalf("key %s: want version %d >= 2", key, schemaMemoVersion)
	}
	k["version"] = 1
	old, _ := json.Marshal(k)
	val, _ := json.Marshal(memoValue{Stat: st, Rows: 3, Columns: []memoColumn{{Name: "id", Type: "int"}, {Name: "amount", Type: "float"}, {Name: "y", Type: "string"}}})
	memo := &mapMemo{m: map[string][]byte{string(old): val}}

	_, diags := compileStepMemo(t, dir, "path: data/a.csv", memo)
	if want := []string{`p.yaml:1:7: data/a.csv:3: row 2: column "amount": "inf" is not a finite number (non_finite: missing reads such values as missing)`}; !slices.Equal(diags, want) {
		t.Fatalf("diagnostics %q, want %q", diags, want)
	}
	if memo.hits != 0 || memo.puts != 0 {
		t.Errorf("hits %d puts %d, want none", memo.hits, memo.puts)
	}

	// The levels and declared flags come back from the memo.
	src := "path: data/a.csv\nnon_finite: missing\ncolumns: {y: string}"
	first := compileMemo(t, dir, src, memo)
	second := compileMemo(t, dir, src, memo)
	if memo.hits != 1 || memo.puts != 1 {
		t.Fatalf("hits %d puts %d, want 1 and 1", memo.hits, memo.puts)
	}
	for _, c := range []*Compiled{first, second} {
		var got []string
		for _, f := range c.Schema().Fields {
			got = append(got, fmt.Sprintf("%s:%s:%v:%q", f.Name, f.Type, f.Info.Declared, f.Info.Levels))
		}
		if want := `id:int:false:["1" "2" "3"] amount:float:false:["10" "inf" "30"] y:string:true:["a" "b"]`; strings.Join(got, " ") != want {
			t.Errorf("fields %s\nwant   %s", strings.Join(got, " "), want)
		}
	}
}
