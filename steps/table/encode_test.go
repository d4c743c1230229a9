package table

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func sampleDataset(t testing.TB) *Dataset {
	t.Helper()
	v := NewBitmap(5)
	v.SetNull(1)
	ds, err := NewDataset(
		NewFloatColumn("f", []float64{1.5, math.NaN(), math.Copysign(0, -1), math.Inf(1), 2}),
		NewIntColumn("i", []int64{1, -2, 3, math.MaxInt64, math.MinInt64}, v),
		NewBoolColumn("b", []bool{true, true, false, true, false}, v),
		NewStringColumn("s", []string{"x", "y", "", "x", "zoë"}, v),
		NewTimeColumn("t", []int64{0, 1, 2, 3, 4}, nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func encode(t testing.TB, ds *Dataset) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ds.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEncodeRoundTrip(t *testing.T) {
	datasets := map[string]*Dataset{
		"sample":               sampleDataset(t),
		"empty":                {},
		"no columns with rows": {Rows: 3},
	}
	csv, _, err := ParseCSV(genCSV(700, 3), CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	datasets["generated"] = csv
	// A dictionary of more than 256 and of more than 65536 values.
	many := make([]string, 70000)
	for i := range many {
		many[i] = formatInt(int64(i % 300))
	}
	wide := make([]string, 70000)
	for i := range wide {
		wide[i] = formatInt(int64(i))
	}
	datasets["wide codes"] = &Dataset{Rows: 70000, Columns: []*Column{NewStringColumn("a", many, nil), NewStringColumn("b", wide, nil)}}
	for name, ds := range datasets {
		t.Run(name, func(t *testing.T) {
			b := encode(t, ds)
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(ds) {
				t.Fatal("decoded dataset differs")
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(encode(t, got), b) {
				t.Fatal("re-encoding differs")
			}
		})
	}
}

// TestEncodeCanonical checks that logically equal datasets built
// differently encode to identical bytes.
func TestEncodeCanonical(t *testing.T) {
	a := &Column{Name: "s", Type: String, Codes: []uint32{2, 0, 2, 1}, Dict: []string{"p", "unused-null", "q", "never"}, Valid: NewBitmap(4)}
	a.Valid.SetNull(3)
	b := NewStringColumn("s", []string{"q", "p", "q", ""}, a.Valid)
	if !a.Equal(b) {
		t.Fatal("columns should be equal")
	}
	fa := &Column{Name: "f", Type: Float, Floats: []float64{math.Float64frombits(0x7FF0000000000123), 1, 7}, Valid: NewBitmap(3)}
	fa.Valid.SetNull(2) // a null slot holding 7
	fb := NewFloatColumn("f", []float64{math.NaN(), 1, math.NaN()})
	ia := &Column{Name: "i", Type: Int, Ints: []int64{5, 6, 7}, Valid: NewBitmap(3)}
	ia.Valid.SetNull(0)
	ia2 := &Column{Name: "i", Type: Int, Ints: []int64{0, 6, 7}, Valid: NewBitmap(3)}
	ia2.Valid.SetNull(0)
	all := &Column{Name: "j", Type: Int, Ints: []int64{1, 2, 3}, Valid: NewBitmap(3)} // all valid, non-nil
	none := &Column{Name: "j", Type: Int, Ints: []int64{1, 2, 3}}
	pairs := [][2]*Dataset{
		{{Rows: 4, Columns: []*Column{a}}, {Rows: 4, Columns: []*Column{b}}},
		{{Rows: 3, Columns: []*Column{fa}}, {Rows: 3, Columns: []*Column{fb}}},
		{{Rows: 3, Columns: []*Column{ia}}, {Rows: 3, Columns: []*Column{ia2}}},
		{{Rows: 3, Columns: []*Column{all}}, {Rows: 3, Columns: []*Column{none}}},
	}
	for i, p := range pairs {
		if !p[0].Equal(p[1]) {
			t.Errorf("pair %d: not Equal", i)
		}
		if !bytes.Equal(encode(t, p[0]), encode(t, p[1])) {
			t.Errorf("pair %d: encodings differ", i)
		}
	}
	// Different values give different fingerprints.
	c := NewStringColumn("s", []string{"q", "p", "p", ""}, a.Valid)
	if mustFingerprint(t, &Dataset{Rows: 4, Columns: []*Column{a}}) == mustFingerprint(t, &Dataset{Rows: 4, Columns: []*Column{c}}) {
		t.Error("different datasets share a fingerprint")
	}
}

// TestEncodeGolden pins the format: a change here is a format change and
// needs a version bump.
func TestEncodeGolden(t *testing.T) {
	v := NewBitmap(2)
	v.SetNull(1)
	ds := &Dataset{Rows: 2, Columns: []*Column{
		NewFloatColumn("f", []float64{1, math.NaN()}),
		NewStringColumn("s", []string{"a", "b"}, v),
		NewBoolColumn("b", []bool{true, false}, nil),
	}}
	want := []byte("MLRT\x01\x02\x03" +
		"\x01f\x01\x01" + "\x01\x00\x00\x00\x00\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\xf0\x3f" + "\x01\x00\x00\x00\x00\x00\xf8\x7f" +
		"\x01s\x04\x01" + "\x01\x00\x00\x00\x00\x00\x00\x00" + "\x01\x01a" + "\x00\x00" +
		"\x01b\x03\x00" + "\x01")
	if got := encode(t, ds); !bytes.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestEncodeInvalid(t *testing.T) {
	bad := []*Dataset{
		{Rows: 2, Columns: []*Column{NewIntColumn("a", []int64{1}, nil)}},
		{Rows: 1, Columns: []*Column{NewIntColumn("a", []int64{1}, nil), NewIntColumn("a", []int64{1}, nil)}},
		{Rows: 1, Columns: []*Column{NewIntColumn("", []int64{1}, nil)}},
		{Rows: 1, Columns: []*Column{{Name: "s", Type: String, Codes: []uint32{3}, Dict: []string{"x"}}}},
		{Rows: 1, Columns: []*Column{{Name: "x", Type: 9}}},
	}
	for i, ds := range bad {
		if err := ds.Encode(&bytes.Buffer{}); err == nil {
			t.Errorf("dataset %d: no error", i)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := encode(t, sampleDataset(t))
	// Every truncation fails.
	for n := range len(good) {
		if _, err := Decode(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// Every single-byte change either fails or decodes to something that
	// re-encodes to the changed bytes (the encoding is canonical).
	for i := range good {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(good)
			b[i] ^= x
			checkDecode(t, b)
		}
	}
	if _, err := Decode(append(bytes.Clone(good), 0)); !errors.Is(err, ErrCorrupt) {
		t.Error("trailing byte accepted")
	}
}

// checkDecode decodes b; on success the dataset must be valid and encode
// back to b exactly.
func checkDecode(t testing.TB, b []byte) {
	ds, err := Decode(b)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		return
	}
	if err := ds.Validate(); err != nil {
		t.Fatalf("decoded an invalid dataset: %v", err)
	}
	var out bytes.Buffer
	if err := ds.Encode(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), b) {
		t.Fatalf("decode accepted a non-canonical encoding:\n in  %q\n out %q", b, out.Bytes())
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, sampleDataset(f)))
	f.Add([]byte("MLRT\x01\x00\x00"))
	f.Add([]byte("MLRT\x01\x02\x01\x01s\x04\x00\x02\x01a\x01b\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}
