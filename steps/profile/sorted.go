package profile

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// SortedValues are a feature's non-missing reference values, ascending.
// They are what makes the KS test and the Wasserstein distance of a batch
// exact, and the bulk of a profile (a million training rows: a million
// values per feature), so their JSON encoding is compact:
//
//	{"n": N, "distinct": "<base64>", "runs": "<base64>"}
//
// distinct is the distinct values in order (by their bits) as
// little-endian IEEE 754 doubles, runs how many times each occurs in a row
// as uvarints, left out when every value occurs once. Decoding gives back
// the same bits. Version 1 profiles wrote a plain JSON array of numbers,
// which UnmarshalJSON still reads.
type SortedValues []float64

type sortedJSON struct {
	N        int    `json:"n"`
	Distinct string `json:"distinct"`
	Runs     string `json:"runs,omitempty"`
}

// MarshalJSON implements json.Marshaler (the bytes writeSorted streams).
func (s SortedValues) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeSorted(w, s)
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalJSON implements json.Unmarshaler: the compact form, or a
// version 1 array of numbers.
func (s *SortedValues) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var v []float64
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = v
		return nil
	}
	var in sortedJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(in.Distinct)
	if err != nil || len(raw)%8 != 0 {
		return fmt.Errorf("sorted values: bad distinct values")
	}
	k := len(raw) / 8
	if in.N < k {
		return fmt.Errorf("sorted values: %d values, %d distinct", in.N, k)
	}
	var runs []byte
	if in.Runs != "" {
		if runs, err = base64.StdEncoding.DecodeString(in.Runs); err != nil {
			return fmt.Errorf("sorted values: bad runs")
		}
	} else if in.N != k {
		return fmt.Errorf("sorted values: %d values, %d distinct and no runs", in.N, k)
	}
	out := make([]float64, 0, in.N)
	for i := range k {
		v := math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		n := uint64(1)
		if runs != nil {
			var w int
			n, w = binary.Uvarint(runs)
			if w <= 0 || n == 0 || n > uint64(in.N-len(out)) {
				return fmt.Errorf("sorted values: bad run %d", i)
			}
			runs = runs[w:]
		}
		for range n {
			out = append(out, v)
		}
	}
	if len(out) != in.N || len(runs) != 0 {
		return fmt.Errorf("sorted values: runs add up to %d values, want %d", len(out), in.N)
	}
	*s = out
	return nil
}
