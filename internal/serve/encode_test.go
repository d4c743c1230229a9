package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"testing"
)

// TestScoreResponseEncoding: /score's answer is byte for byte the map it
// was first encoded from.
func TestScoreResponseEncoding(t *testing.T) {
	for _, r := range []scoreResponse{
		{RequestID: "r-1", Model: "pd", Version: 3, Threshold: 0.5, Decisions: []scored{{Score: 0.25, Decision: "approve", RowHash: "ab"}}},
		{RequestID: "<&>\"", Model: "m\u2028", Version: 0, Threshold: 1e-7, Decisions: []scored{
			{Score: 0.9, Decision: "adverse", RowHash: "cd", ID: "x1", Reasons: []reason{{Code: "debt", Text: "Debt <too> high", Contribution: -0.5}, {Code: "inc", Contribution: 2}}},
			{Score: 1, Decision: "adverse", RowHash: "ef"},
		}},
	} {
		var got, want bytes.Buffer
		if err := json.NewEncoder(&got).Encode(r); err != nil {
			t.Fatal(err)
		}
		m := map[string]any{"request_id": r.RequestID, "model": r.Model, "version": r.Version, "threshold": r.Threshold, "decisions": r.Decisions}
		if err := json.NewEncoder(&want).Encode(m); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("scoreResponse encodes as\n%s\nthe map as\n%s", got.String(), want.String())
		}
	}
}

// TestWriteFrame: a frame is the CRC-32C of its JSON as %08x, a space, the
// JSON and a newline.
func TestWriteFrame(t *testing.T) {
	for _, v := range []any{map[string]int{"a": 1}, "x", 0, []string{"<&>"}} {
		var buf bytes.Buffer
		writeFrame(&buf, v)
		b, _ := json.Marshal(v)
		if want := fmt.Sprintf("%08x %s\n", crc32.Checksum(b, crcTable), b); buf.String() != want {
			t.Errorf("writeFrame(%v) = %q, want %q", v, buf.String(), want)
		}
	}
}
