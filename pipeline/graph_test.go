package pipeline

import (
	"fmt"
	"testing"
)

func TestTopoSort(t *testing.T) {
	tests := []struct {
		name   string
		ids    []string
		deps   map[string][]string
		order  string
		cycles string
	}{
		{"empty", nil, nil, "[]", "[]"},
		{"ties by id", []string{"c", "b", "a"}, nil, "[a b c]", "[]"},
		{"chain against id order", []string{"a", "b", "c"}, map[string][]string{"a": {"b"}, "b": {"c"}}, "[c b a]", "[]"},
		{"diamond", []string{"d", "b", "c", "a"}, map[string][]string{"d": {"b", "c"}, "b": {"a"}, "c": {"a"}}, "[a b c d]", "[]"},
		{"ready set stays sorted", []string{"z", "a", "m"}, map[string][]string{"a": {"z"}}, "[m z a]", "[]"},
		{"duplicate and unknown deps", []string{"a", "b"}, map[string][]string{"b": {"a", "a", "nope"}}, "[a b]", "[]"},
		{"self loop", []string{"a"}, map[string][]string{"a": {"a"}}, "[]", "[[a a]]"},
		{"cycle in data-flow order", []string{"c", "a", "b"}, map[string][]string{"b": {"a"}, "c": {"b"}, "a": {"c"}}, "[]", "[[a b c a]]"},
		{"two cycles and a dependant", []string{"a", "b", "x", "y", "d", "ok"},
			map[string][]string{"a": {"b"}, "b": {"a"}, "x": {"y"}, "y": {"x"}, "d": {"a", "ok"}},
			"[ok]", "[[a b a] [x y x]]"},
		{"figure eight reported once", []string{"a", "b", "c"},
			map[string][]string{"a": {"b", "c"}, "b": {"a"}, "c": {"a"}}, "[]", "[[a b a]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			order, cycles := topoSort(tt.ids, tt.deps)
			if got := fmt.Sprint(order); got != tt.order {
				t.Errorf("order %s, want %s", got, tt.order)
			}
			if got := fmt.Sprint(cycles); got != tt.cycles {
				t.Errorf("cycles %s, want %s", got, tt.cycles)
			}
		})
	}
}
