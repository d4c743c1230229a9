package serve

import (
	"unicode/utf8"

	"github.com/mlrun-cli/mlrun/internal/predict"
)

// flatRecord reads a body that is one JSON object of scalar fields (the
// common single-record request of /score) straight into a Record, as
// decoding it into map[string]any and value would. It returns false for
// anything else: a list, {"records": ...}, an object or array field, a
// string with an escape or invalid UTF-8, a syntax error, a trailing
// value, an empty object. The caller then decodes the body the general
// way, which makes every answer but the fields' values its own.
func flatRecord(b []byte) (predict.Record, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	rec := make(predict.Record, 16)
	i = skipSpace(b, i+1)
	for {
		key, j, ok := plainString(b, i)
		if !ok || key == "records" {
			return nil, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return nil, false
		}
		var v predict.Value
		switch c := b[i]; {
		case c == '"':
			s, j, ok := plainString(b, i)
			if !ok {
				return nil, false
			}
			v, i = predict.Value{Text: s}, j
		case c == '-' || c >= '0' && c <= '9':
			j, ok := number(b, i)
			if !ok {
				return nil, false
			}
			v, i = predict.Value{Text: string(b[i:j])}, j
		case hasWord(b, i, "true"):
			v, i = predict.Value{Text: "true"}, i+4
		case hasWord(b, i, "false"):
			v, i = predict.Value{Text: "false"}, i+5
		case hasWord(b, i, "null"):
			v, i = predict.Value{Null: true}, i+4
		default:
			return nil, false
		}
		rec[key] = v
		i = skipSpace(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
			continue
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return nil, false
			}
			return rec, true
		}
		return nil, false
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads the JSON string at b[i] when it holds no escape, no
// control character and only valid UTF-8 (its text is then its bytes),
// and returns it and the index after its closing quote.
func plainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return "", 0, false
			}
			return string(s), j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

// number returns the index after the JSON number at b[i]
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), and whether there is
// one.
func number(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// hasWord reports whether b[i:] starts with the literal w.
func hasWord(b []byte, i int, w string) bool {
	return len(b)-i >= len(w) && string(b[i:i+len(w)]) == w
}
