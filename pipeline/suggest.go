package pipeline

import (
	"sort"
	"strings"
)

// editDistance returns the optimal-string-alignment distance between a and
// b: the Levenshtein distance (insertions, deletions, substitutions) where a
// transposition of two adjacent characters also costs one, so "stpes" is one
// edit away from "steps".
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	n, m := len(ra), len(rb)
	// Three rows: two back (for transpositions), previous and current.
	prev2 := make([]int, m+1)
	prev := make([]int, m+1)
	cur := make([]int, m+1)
	for j := 0; j <= m; j++ {
		prev[j] = j
	}
	for i := 1; i <= n; i++ {
		cur[0] = i
		for j := 1; j <= m; j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[m]
}

// suggest returns the candidate closest to word, or "" when none is close
// enough to be a plausible typo. Closeness allows one edit for words of up
// to four characters, two up to eight and three beyond; a case-insensitive
// match always qualifies. Ties go to the alphabetically first candidate.
func suggest(word string, candidates []string) string {
	if word == "" {
		return ""
	}
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	best, bestD := "", -1
	for _, c := range sorted {
		if c == word || c == "" {
			continue
		}
		d := editDistance(strings.ToLower(word), strings.ToLower(c))
		limit := 1
		switch l := max(len([]rune(word)), len([]rune(c))); {
		case l > 8:
			limit = 3
		case l > 4:
			limit = 2
		}
		if d > limit {
			continue
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean renders a suggestion as `; did you mean "x"?`, or "" when
// nothing is close to word.
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return `; did you mean "` + s + `"?`
	}
	return ""
}
