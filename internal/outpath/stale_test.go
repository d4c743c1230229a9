package outpath

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStaleTempFilesSwept: a temporary file a killed write left beside
// its output is removed by the next write of the same file once it is an
// hour old; a fresh one (a live writer's), another file's, and files
// that only look alike stay.
func TestStaleTempFilesSwept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	files := []struct {
		name  string
		age   time.Time
		swept bool
	}{
		{".report.html.ABCDEFGHIJ23.tmp", old, true},
		{".report.html.ZZZZZZZZZZZZ.tmp", time.Now(), false},           // a live writer's
		{".other.html.ABCDEFGHIJ23.tmp", old, false},                   // another output's
		{".report.html.abcdefghij23.tmp", old, false},                  // not rand.Text
		{".report.html.ABCDEFGHIJ2.tmp", old, false},                   // 11 characters
		{"report.html.ABCDEFGHIJ23.tmp", old, false},                   // no leading dot
		{".report.html.ABCDEFGHIJ23.tmp.keep", old, false},             // other suffix
		{".report.html.ABCDEFGHIJ23.tmp.ABCDEFGHIJ23.tmp", old, false}, // not the base
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, f.age, f.age); err != nil {
			t.Fatal(err)
		}
	}
	if err := NewGuard().WriteFile(filepath.Join(dir, "report.html"), []byte("<html>")); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.name))
		if gone := os.IsNotExist(err); gone != f.swept {
			t.Errorf("%s: removed %v, want %v", f.name, gone, f.swept)
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "report.html")); err != nil || string(got) != "<html>" {
		t.Errorf("content %q, %v", got, err)
	}
}
