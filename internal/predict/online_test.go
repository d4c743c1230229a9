package predict

import "testing"

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
