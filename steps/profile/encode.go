package profile

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// object is a profile as a pipeline object. Its encoding is the bytes
// json.Marshal gives for the profile, written as they are made: a
// million-row profile's sorted values are tens of MB of base64, which
// json.Marshal would build in one growing buffer (and copy once more to
// compact it) while the run holds the training data.
type object struct{ p *Profile }

// TypeName implements pipeline.Object.
func (*object) TypeName() string { return TypeName }

// Encode implements pipeline.Object.
func (o *object) Encode(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if err := encodeProfile(bw, o.p); err != nil {
		return fmt.Errorf("encode %s: %w", TypeName, err)
	}
	return bw.Flush()
}

// encodeProfile writes json.Marshal(p) to w, the sorted values streamed.
func encodeProfile(w *bufio.Writer, p *Profile) error {
	// The fields before features, then each feature, then score and
	// baseline, in the struct's order (TestEncodeMatchesMarshal).
	head, err := json.Marshal(struct {
		Format    string  `json:"format"`
		Version   int     `json:"version"`
		Rows      int     `json:"rows"`
		Bins      int     `json:"bins"`
		Target    string  `json:"target"`
		Positive  string  `json:"positive,omitempty"`
		Threshold float64 `json:"threshold"`
	}{p.Format, p.Version, p.Rows, p.Bins, p.Target, p.Positive, p.Threshold})
	if err != nil {
		return err
	}
	w.Write(head[:len(head)-1])
	w.WriteString(`,"features":`)
	if p.Features == nil {
		w.WriteString("null")
	} else {
		w.WriteByte('[')
		for i := range p.Features {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := encodeFeature(w, &p.Features[i]); err != nil {
				return err
			}
		}
		w.WriteByte(']')
	}
	w.WriteString(`,"score":`)
	if err := encodeFeature(w, &p.Score); err != nil {
		return err
	}
	base, err := json.Marshal(p.Baseline)
	if err != nil {
		return err
	}
	w.WriteString(`,"baseline":`)
	w.Write(base)
	_, err = w.WriteString("}")
	return err
}

// encodeFeature writes json.Marshal(f) to w.
func encodeFeature(w *bufio.Writer, f *Feature) error {
	if len(f.Sorted) == 0 {
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	rest := *f
	rest.Sorted, rest.Categories = nil, nil
	b, err := json.Marshal(&rest)
	if err != nil {
		return err
	}
	w.Write(b[:len(b)-1])
	w.WriteString(`,"sorted":`)
	writeSorted(w, f.Sorted)
	if len(f.Categories) > 0 {
		c, err := json.Marshal(f.Categories)
		if err != nil {
			return err
		}
		w.WriteString(`,"categories":`)
		w.Write(c)
	}
	_, err = w.WriteString("}")
	return err
}

// writeSorted writes s.MarshalJSON() to w without building it in memory.
func writeSorted(w *bufio.Writer, s SortedValues) {
	repeated := false
	for i := 1; i < len(s); i++ {
		if math.Float64bits(s[i]) == math.Float64bits(s[i-1]) {
			repeated = true
			break
		}
	}
	fmt.Fprintf(w, `{"n":%d,"distinct":"`, len(s))
	var buf [8]byte
	enc := base64.NewEncoder(base64.StdEncoding, w)
	eachRun(s, func(bits uint64, _ int) {
		binary.LittleEndian.PutUint64(buf[:], bits)
		enc.Write(buf[:])
	})
	enc.Close()
	w.WriteByte('"')
	if repeated {
		w.WriteString(`,"runs":"`)
		enc = base64.NewEncoder(base64.StdEncoding, w)
		eachRun(s, func(_ uint64, n int) {
			enc.Write(binary.AppendUvarint(buf[:0], uint64(n)))
		})
		enc.Close()
		w.WriteByte('"')
	}
	w.WriteByte('}')
}

// eachRun calls f with the bits of each distinct value of s, in order,
// and how many times it occurs in a row.
func eachRun(s SortedValues, f func(bits uint64, n int)) {
	for i := 0; i < len(s); {
		bits := math.Float64bits(s[i])
		j := i + 1
		for j < len(s) && math.Float64bits(s[j]) == bits {
			j++
		}
		f(bits, j-i)
		i = j
	}
}
