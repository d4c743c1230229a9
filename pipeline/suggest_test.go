package pipeline

import "testing"

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"steps", "steps", 0},
		{"stpes", "steps", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3},
		{"déjà", "deja", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := topLevelKeys()
	tests := []struct {
		word  string
		cands []string
		want  string
	}{
		{"stpes", keys, "steps"},
		{"descripton", keys, "description"},
		{"Name", keys, "name"},
		{"param", keys, "params"},
		{"colour", keys, ""},
		{"x", keys, ""},
		{"", keys, ""},
		{"steps", keys, ""},
		{"trian", []string{"train", "transform"}, "train"},
		{"ab", []string{"ac", "ab2", "aa"}, "aa"},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, tt.cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	if got := didYouMean("stpes", keys); got != `; did you mean "steps"?` {
		t.Errorf("didYouMean = %q", got)
	}
}
