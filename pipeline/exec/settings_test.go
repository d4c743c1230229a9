package exec

import (
	"slices"
	"testing"
)

func TestChangedSettings(t *testing.T) {
	tests := []struct {
		a, b string
		want []string
	}{
		{`{"columns":[{"name":"x","expr":"a+1"}]}`, `{"columns":[{"name":"x","expr":"a+2"}]}`, []string{"columns[x].expr"}},
		{`{"columns":{"x":{"expr":"a+1"}},"seed":1}`, `{"columns":{"x":{"expr":"a+2"}},"seed":1}`, []string{"columns.x.expr"}},
		{`{"params":{"l2":1,"tol":2}}`, `{"params":{"l2":3,"tol":2,"max_iter":5}}`, []string{"params.l2", "params.max_iter"}},
		// More than maxSettingPaths changes: the top-level keys.
		{`{"algorithm":"a","params":{"p":1,"q":2,"r":3}}`, `{"algorithm":"b","params":{"p":2,"q":3,"r":4}}`, []string{"algorithm", "params"}},
		// Not a JSON object: nothing named.
		{`1`, `2`, nil},
	}
	for _, tt := range tests {
		if got := changedSettings([]byte(tt.a), []byte(tt.b)); !slices.Equal(got, tt.want) {
			t.Errorf("changedSettings(%s, %s) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
