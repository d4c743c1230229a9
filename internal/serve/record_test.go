package serve

import (
	"bytes"
	"encoding/json"
	"maps"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/predict"
)

// generalRecord reads body as /score's general path does (decodeBody,
// then value for each field of a single record); ok is false when that
// path would not read it as one record.
func generalRecord(body []byte) (predict.Record, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return nil, false
	}
	x, ok := raw.(map[string]any)
	if !ok {
		return nil, false
	}
	if _, ok := x["records"].([]any); ok && len(x) == 1 {
		return nil, false
	}
	rec := make(predict.Record, len(x))
	for k, v := range x {
		rec[k] = value(v)
	}
	return rec, true
}

var flatBodies = []string{
	`{"age": 42, "annual_income": 52000.5, "application_date": "2024-01-31", "purpose": "car", "total_debt": null, "x": true, "y": false}`,
	` {"a":-0,"b":1e5,"c":-1.25E-3,"d":0.5,"e":10} ` + "\n",
	"\t{\r\n\"a\" : \"ünï ✓\" }",
	`{"a": 1, "a": 2}`,
	`{"a": "<&>", "b": ""}`,
	// Left to the general path:
	`{}`, `[]`, `[{"a": 1}]`, `{"records": [{"a": 1}]}`, `{"records": 1}`, `{"a": 1, "records": []}`,
	`{"a": {"b": 1}}`, `{"a": [1]}`, `{"a": "x\"y"}`, `{"a": "\u00e9"}`, "{\"a\": \"\xff\"}", "{\"a\": \"t\tb\"}",
	`{"a": 01}`, `{"a": 1.}`, `{"a": .5}`, `{"a": 1e}`, `{"a": +1}`, `{"a": -}`, `{"a": 0x10}`, `{"a": NaN}`,
	`{"a": tru}`, `{"a": truex}`, `{"a": nul}`, `{"a": 1,}`, `{"a" 1}`, `{a: 1}`, `{"a": 1} {"b": 2}`, `{"a": 1} x`,
	`{"a": 1`, `{"a": "b`, ``, ` `, `null`, `"s"`, `{"a": 1}}`,
}

// TestFlatRecord: a body flatRecord reads gives the record the general
// path reads; the others are left to the general path.
func TestFlatRecord(t *testing.T) {
	fast := 0
	for _, body := range flatBodies {
		checkFlatRecord(t, []byte(body))
		if _, ok := flatRecord([]byte(body)); ok {
			fast++
		}
	}
	if fast != 5 {
		t.Errorf("flatRecord read %d of the bodies, want 5", fast)
	}
}

func checkFlatRecord(t *testing.T, body []byte) {
	t.Helper()
	got, ok := flatRecord(body)
	if !ok {
		return
	}
	want, wok := generalRecord(body)
	if !wok {
		t.Fatalf("flatRecord(%q) = %v, the general path does not read one record", body, got)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("flatRecord(%q) = %v, the general path reads %v", body, got, want)
	}
}

// FuzzFlatRecord compares flatRecord with the general path.
func FuzzFlatRecord(f *testing.F) {
	for _, b := range flatBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFlatRecord(t, body)
	})
}
