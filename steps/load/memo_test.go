package load

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
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
		if !slices.Equal(c.Schema().Fields, want.Fields) {
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
	if got := compileMemo(t, dir, src, memo).Schema(); !slices.Equal(got.Fields, want.Fields) {
		t.Fatalf("damaged memo: schema %v, want %v", got.Fields, want.Fields)
	}
}
