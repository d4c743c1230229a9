//go:build unix

package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/decisions"
)

// TestFindPending finds decisions in segments not yet committed, by
// request id, row hash prefix, or batch and row, skipping a torn last
// frame; a missing journal holds nothing, and a damaged segment is an
// error naming it.
func TestFindPending(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	if got, err := FindPending(dir, decisions.Query{Request: "a1"}); err != nil || len(got) != 0 {
		t.Fatalf("missing journal: %v, %v", got, err)
	}
	writeSegment(t, dir, "20261202T100000Z-aaaaaa", []string{"a1", "a2"}, `0000abcd {"row":3,"req`)
	writeSegment(t, dir, "20261202T100001Z-bbbbbb", []string{"b1"}, "")
	cases := []struct {
		name string
		q    decisions.Query
		want []string // request ids
	}{
		{"request", decisions.Query{Request: "a2"}, []string{"a2"}},
		{"unknown request", decisions.Query{Request: "zz"}, nil},
		{"row hash prefix (every test decision has the same)", decisions.Query{RowHash: "AAAAAAAA"}, []string{"a1", "a2", "b1"}},
		{"batch and row", decisions.Query{Batch: "20261202T100001Z-bbbbbb", Row: 1}, []string{"b1"}},
		{"torn frame's row", decisions.Query{Batch: "20261202T100000Z-aaaaaa", Row: 3}, nil},
	}
	for _, c := range cases {
		got, err := FindPending(dir, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var ids []string
		for _, p := range got {
			ids = append(ids, p.Decision.Request)
			if p.Header == nil || !strings.HasPrefix(filepath.Base(p.Segment), p.Header.Batch) {
				t.Errorf("%s: segment %s, header %+v", c.name, p.Segment, p.Header)
			}
		}
		if strings.Join(ids, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: found %v, want %v", c.name, ids, c.want)
		}
	}
	path := writeSegment(t, dir, "20261202T100002Z-cccccc", []string{"c1", "c2"}, "")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FindPending(dir, decisions.Query{Request: "a1"}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("damaged segment: %v, want an error naming %s", err, path)
	}
}
