package yamlnode

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSuggest(t *testing.T) {
	names := []string{"threshold", "gates", "model", "data"}
	cases := []struct {
		name string
		max  int // -1: Suggest's relative limit
		want string
	}{
		{"treshold", -1, `; did you mean "threshold"?`},
		{"gaets", -1, `; did you mean "gates"?`}, // distance 2 <= 1 + 5/4
		{"gxxxs", -1, ""},                        // distance 3 > 1 + 5/4
		{"gxxxs", 3, `; did you mean "gates"?`},
		{"gaets", 1, ""},
		{"Model", -1, `; did you mean "model"?`},
		{"zzzzzz", 2, ""},
	}
	for _, c := range cases {
		got := Suggest(c.name, names)
		if c.max >= 0 {
			got = SuggestWithin(c.name, names, c.max)
		}
		if got != c.want {
			t.Errorf("suggest(%q, %d) = %q, want %q", c.name, c.max, got, c.want)
		}
	}
}

func TestScalars(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: 1_000\nb: 0.5\nc: text\nd: [x, 2]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Content[0]
	if v, ok := Number(Field(m, "a")); !ok || v != 1000 {
		t.Errorf("Number(a) = %v, %v", v, ok)
	}
	if v, ok := Integer(Field(m, "a")); !ok || v != 1000 {
		t.Errorf("Integer(a) = %v, %v", v, ok)
	}
	if _, ok := Integer(Field(m, "b")); ok {
		t.Error("Integer(0.5) accepted")
	}
	if s, ok := Str(Field(m, "c")); !ok || s != "text" {
		t.Errorf("Str(c) = %q, %v", s, ok)
	}
	if got := Describe(Field(m, "d")); got != "a list" {
		t.Errorf("Describe(d) = %q", got)
	}
	if Field(m, "nope") != nil || len(Pairs(m)) != 4 {
		t.Error("Field/Pairs")
	}
}
