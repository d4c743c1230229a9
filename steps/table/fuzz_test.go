package table

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
)

// FuzzReadCSV parses arbitrary input with one goroutine and one chunk, with
// three goroutines and tiny chunks, and streamed in tiny blocks: all must
// agree exactly (same dataset and fingerprint, or the same error), and
// never panic. The high bits of size choose NonFinite and Levels.
func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a,b\r\n\"x\"\"\ny\",2\r\n3,\n", "\xEF\xBB\xBFa\n1\n1.5\nNA\n", "a,a\n", "a\n\"open\n",
		"a;b\n1,5;x\n", "t,b\n2024-01-02,true\n2024-01-03T00:00:00Z,FALSE\n", "a,b\n1\n", "a\n\xff\n", "a\nx\"y\n",
		"a,b\n1,inf\n-Inf,2\nnan,x\n", "a\n1\n2\nthree\n4\n", "a,b\n\"1,5\",1e400\n2,3\n3,4\n", "a\ntrue\nyes\nfalse\n",
		"a,b\nNan,1\nAlice,2\n\"x\ny\",inf\n", "a\n2024-01-02\n2024-13-01\n2024-01-03\n",
	} {
		f.Add([]byte(s), uint8(3), false, uint8(0))
		f.Add([]byte(s), uint8(2), false, uint8(200))
	}
	f.Add([]byte("a,b\n1,x\n\n2,y\r\n\r\n3,\n\n"), uint8(1), false, uint8(128))
	f.Fuzz(func(t *testing.T, data []byte, size uint8, semicolon bool, declare uint8) {
		opts := CSVOptions{Jobs: 1, Levels: int(size>>4) & 7}
		if semicolon {
			opts.Delimiter = ';'
		}
		if size&0x80 != 0 {
			opts.NonFinite = NonFiniteMissing
		}
		// Declare the type of a column named "a", when there is one.
		if typ := Type(declare % 6); typ != 0 && bytes.Contains(data, []byte("a")) {
			if _, info, err := ParseCSV(data, CSVOptions{Delimiter: opts.Delimiter, NonFinite: opts.NonFinite}); err == nil && len(info) > 0 && info[0].Name == "a" {
				opts.Types = map[string]Type{"a": typ}
			}
		}
		// Or declare every column as inferred: the direct parse into the
		// final columns, compared with the buffered one.
		if declare >= 128 {
			if _, info, err := ParseCSV(data, CSVOptions{Delimiter: opts.Delimiter, Missing: opts.Missing, NonFinite: opts.NonFinite}); err == nil {
				opts.Types = map[string]Type{}
				for _, c := range info {
					opts.Types[c.Name] = c.Type
				}
			}
		}
		opts.buffered = true
		ref, refInfo, refErr := ParseCSV(data, opts)
		opts.buffered = false
		// A schema-only parse learns the same types, or fails the same way.
		so := opts
		so.SchemaOnly, so.Jobs, so.chunkSize = true, 2, max(1+int(size%16), len(data)/64)
		if sds, sinfo, err := ParseCSV(data, so); (err == nil) != (refErr == nil) {
			t.Fatalf("schema only: %v; full parse: %v", err, refErr)
		} else if err != nil && err.Error() != refErr.Error() {
			t.Fatalf("errors differ:\n full:        %v\n schema only: %v", refErr, err)
		} else if err == nil && (sds.Rows != ref.Rows || !slices.Equal(sds.Schema().Fields, ref.Schema().Fields)) {
			t.Fatalf("schema only: %d rows %v; full parse: %d rows %v", sds.Rows, sds.Schema().Fields, ref.Rows, ref.Schema().Fields)
		} else if err == nil {
			for i := range sinfo {
				if a, b := sinfo[i].Levels, refInfo[i].Levels; (a == nil) != (b == nil) || !slices.Equal(a, b) {
					t.Fatalf("column %d: levels %q schema only, %q full parse", i, a, b)
				}
			}
		}
		opts.Jobs = 3
		// Tiny chunks, but not so many that a long input crawls.
		opts.chunkSize = max(1+int(size%16), len(data)/64)
		// Read as a stream in blocks of that size (parsed as read when every
		// type is declared), with a row hint too small or unknown.
		so = opts
		so.RowsHint = int(size % 3)
		if sds, sinfo, err := ReadCSV(bytes.NewReader(data), so); (err == nil) != (refErr == nil) {
			t.Fatalf("streamed: %v; whole: %v", err, refErr)
		} else if err != nil && err.Error() != refErr.Error() {
			t.Fatalf("errors differ:\n whole:    %v\n streamed: %v", refErr, err)
		} else if sinfo.SHA256 != fmt.Sprintf("%x", sha256.Sum256(data)) || sinfo.Size != int64(len(data)) {
			t.Fatalf("streamed: sha256 %s size %d", sinfo.SHA256, sinfo.Size)
		} else if err == nil && (!sds.Equal(ref) || !equalInfos(sinfo.Columns, refInfo) || sinfo.Rows != ref.Rows) {
			t.Fatal("streamed: dataset or column info differs")
		}
		ds, info, err := ParseCSV(data, opts)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("jobs 1: %v; jobs 3 chunk %d: %v", refErr, opts.chunkSize, err)
		}
		if err != nil {
			if err.Error() != refErr.Error() {
				t.Fatalf("errors differ:\n jobs 1: %v\n jobs 3: %v", refErr, err)
			}
			return
		}
		if !ds.Equal(ref) {
			t.Fatal("datasets differ")
		}
		for i := range info {
			if !equalInfo(info[i], refInfo[i]) {
				t.Fatalf("column info differs: %+v vs %+v", info[i], refInfo[i])
			}
		}
		var a, b bytes.Buffer
		if err := ref.Encode(&a); err != nil {
			t.Fatal(err)
		}
		if err := ds.Encode(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatal("encodings differ")
		}
		back, err := Decode(a.Bytes())
		if err != nil || !back.Equal(ref) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
