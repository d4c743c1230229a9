package predict

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// TestAppendField: a record's field is written exactly as encoding/csv
// writes it, so the load step's parser reads it as it reads a CSV file.
func TestAppendField(t *testing.T) {
	for _, f := range []string{"", "1", "-2.5e3", "a b", " lead", "\tlead", "\u00a0nbsp", "trail ", "a,b", `say "hi"`, "two\nlines", "cr\r", `\.`, "NA", "ünï"} {
		var want bytes.Buffer
		w := csv.NewWriter(&want)
		_ = w.Write([]string{f})
		w.Flush()
		if got := string(appendField(nil, f)) + "\n"; got != want.String() {
			t.Errorf("appendField(%q) = %q, encoding/csv writes %q", f, got, want.String())
		}
	}
}

// TestEditDistance is the suggestion's distance.
func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"anual_income", "annual_income", 1}, {"age", "ages", 1}, {"abc", "xyz", 3}, {"", "ab", 2}} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
