package decisions

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// rowHashMarshal is RowHashMap as it was first written: the SHA-256 of
// json.Marshal of the map. RowHashMap must equal it on every input.
func rowHashMarshal(m map[string]string) string {
	b, _ := json.Marshal(m)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestRowHashMapIsJSONMarshal: the hand-written encoding hashes the bytes
// json.Marshal writes, escapes, HTML characters, invalid UTF-8 and
// separators included.
func TestRowHashMapIsJSONMarshal(t *testing.T) {
	for _, m := range []map[string]string{
		nil,
		{},
		{"a": ""},
		{"age": "42", "annual_income": "50000.5", "application_date": "2024-01-31", "purpose": "car"},
		{"b": "2", "a": "1", "B": "3", "_": "4", "ä": "5"},
		{"q": `say "hi"`, "bs": `a\b`, "html": "<a href='x'>&amp;</a>", "ctl": "tab\there\nnl\r\x00\x1f", "del": "\x7f"},
		{"utf8": "ünïcødé ✓", "sep": "line\u2028para\u2029", "bad": "\xff\xfe", "half": "\xe2\x82"},
		{`k"ey`: "v", "<k>": "&", "k\n": "x"},
	} {
		if got, want := RowHashMap(m), rowHashMarshal(m); got != want {
			t.Errorf("RowHashMap(%q) = %s, json.Marshal hashes to %s", m, got, want)
		}
	}
}

// FuzzRowHashMap compares RowHashMap with the hash of json.Marshal.
func FuzzRowHashMap(f *testing.F) {
	f.Add("age", "42", "name", `"x" <y> & z`)
	f.Add("", "", "\xff", "\u2028")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		m := map[string]string{k1: v1, k2: v2}
		if got, want := RowHashMap(m), rowHashMarshal(m); got != want {
			t.Errorf("RowHashMap(%q) = %s, json.Marshal hashes to %s", m, got, want)
		}
	})
}

// BenchmarkRowHashMap hashes a record of 12 fields.
func BenchmarkRowHashMap(b *testing.B) {
	m := map[string]string{"age": "42", "annual_income": "50000.5", "application_date": "2024-01-31", "purpose": "car",
		"total_debt": "1200", "credit_card_balance": "300", "credit_limit": "5000", "on_time_payments": "40",
		"total_payments": "45", "loan_amount": "10000", "employment_years": "3", "region": "north"}
	b.ReportAllocs()
	for b.Loop() {
		RowHashMap(m)
	}
}
