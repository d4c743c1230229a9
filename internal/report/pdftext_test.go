package report

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// pdfPages returns the text of each page of a PDF written by Chromium
// (Skia): enough of PDF 1.4 to read it, not a general PDF reader. Objects
// are read from the file body ("N G obj ... endobj", streams by their
// /Length, FlateDecode), pages in the order of the /Pages tree, and the
// text of each page's content streams is decoded through its fonts'
// /ToUnicode CMaps (Skia draws Identity-H CID fonts, one glyph per Tj).
// Each BT ... ET block ends a line.
func pdfPages(data []byte) ([]string, error) {
	objs, err := pdfObjects(data)
	if err != nil {
		return nil, err
	}
	trailer := regexp.MustCompile(`/Root (\d+) \d+ R`).FindSubmatch(data)
	if trailer == nil {
		return nil, fmt.Errorf("pdf: no /Root")
	}
	root, ok := objs[atoiB(trailer[1])]
	if !ok {
		return nil, fmt.Errorf("pdf: no catalog object")
	}
	pagesRef := refRe("Pages").FindSubmatch(root.dict)
	if pagesRef == nil {
		return nil, fmt.Errorf("pdf: catalog without /Pages")
	}
	var pages []int
	var walk func(n, depth int) error
	walk = func(n, depth int) error {
		o, ok := objs[n]
		if !ok || depth > 32 {
			return fmt.Errorf("pdf: bad page tree node %d", n)
		}
		if pageType.Match(o.dict) {
			pages = append(pages, n)
			return nil
		}
		kids := regexp.MustCompile(`/Kids\s*\[([^\]]*)\]`).FindSubmatch(o.dict)
		if kids == nil {
			return fmt.Errorf("pdf: page tree node %d without /Kids", n)
		}
		for _, m := range regexp.MustCompile(`(\d+) \d+ R`).FindAllSubmatch(kids[1], -1) {
			if err := walk(atoiB(m[1]), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(atoiB(pagesRef[1]), 0); err != nil {
		return nil, err
	}

	cmaps := map[int]map[uint16]string{}
	var out []string
	for _, pn := range pages {
		page := objs[pn].dict
		// Fonts: /Font <</F5 5 0 R ...>>, inline in /Resources or the
		// resources object.
		res := page
		if m := refRe("Resources").FindSubmatch(page); m != nil {
			res = objs[atoiB(m[1])].dict
		}
		fonts := map[string]map[uint16]string{}
		if fm := regexp.MustCompile(`/Font\s*<<([^>]*)>>`).FindSubmatch(res); fm != nil {
			for _, f := range regexp.MustCompile(`/(\w+)\s+(\d+) \d+ R`).FindAllSubmatch(fm[1], -1) {
				fn := atoiB(f[2])
				if _, ok := cmaps[fn]; !ok {
					cm := map[uint16]string{}
					if tu := refRe("ToUnicode").FindSubmatch(objs[fn].dict); tu != nil {
						cm = parseCMap(objs[atoiB(tu[1])].stream)
					}
					cmaps[fn] = cm
				}
				fonts[string(f[1])] = cmaps[fn]
			}
		}
		var content []byte
		if m := regexp.MustCompile(`/Contents\s*(\[[^\]]*\]|\d+ \d+ R)`).FindSubmatch(page); m != nil {
			for _, r := range regexp.MustCompile(`(\d+) \d+ R`).FindAllSubmatch(m[1], -1) {
				content = append(content, objs[atoiB(r[1])].stream...)
				content = append(content, '\n')
			}
		}
		out = append(out, pageText(content, fonts))
	}
	return out, nil
}

type pdfObject struct {
	dict, stream []byte
}

var pageType = regexp.MustCompile(`/Type\s*/Page\b`)

var objStart = regexp.MustCompile(`(\d+) \d+ obj\b`)

// pdfObjects reads every object of the file body, inflating streams.
func pdfObjects(data []byte) (map[int]pdfObject, error) {
	objs := map[int]pdfObject{}
	at := 0
	for {
		loc := objStart.FindSubmatchIndex(data[at:])
		if loc == nil {
			break
		}
		n := atoiB(data[at+loc[2] : at+loc[3]])
		start := at + loc[1]
		end := bytes.Index(data[start:], []byte("endobj"))
		if end < 0 {
			return nil, fmt.Errorf("pdf: object %d not closed", n)
		}
		body := data[start : start+end]
		o := pdfObject{dict: body}
		if si := bytes.Index(body, []byte("stream")); si >= 0 && !bytes.Contains(body[:si], []byte("endstream")) {
			o.dict = body[:si]
			ds := start + si + len("stream")
			if data[ds] == '\r' {
				ds++
			}
			if data[ds] == '\n' {
				ds++
			}
			lm := regexp.MustCompile(`/Length (\d+)( \d+ R)?`).FindSubmatch(o.dict)
			if lm == nil || lm[2] != nil {
				// An indirect length: up to endstream.
				e := bytes.Index(data[ds:], []byte("endstream"))
				if e < 0 {
					return nil, fmt.Errorf("pdf: stream %d not closed", n)
				}
				o.stream = bytes.TrimRight(data[ds:ds+e], "\r\n")
			} else {
				l := atoiB(lm[1])
				if ds+l > len(data) {
					return nil, fmt.Errorf("pdf: stream %d overruns the file", n)
				}
				o.stream = data[ds : ds+l]
			}
			// The object ends after the stream, whatever it holds.
			se := bytes.Index(data[ds+len(o.stream):], []byte("endobj"))
			if se < 0 {
				return nil, fmt.Errorf("pdf: object %d not closed", n)
			}
			end = ds + len(o.stream) + se - start
			if bytes.Contains(o.dict, []byte("/FlateDecode")) {
				r, err := zlib.NewReader(bytes.NewReader(o.stream))
				if err != nil {
					return nil, fmt.Errorf("pdf: stream %d: %w", n, err)
				}
				s, err := io.ReadAll(r)
				if err != nil {
					return nil, fmt.Errorf("pdf: stream %d: %w", n, err)
				}
				o.stream = s
			}
		}
		objs[n] = o
		at = start + end + len("endobj")
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("pdf: no objects")
	}
	return objs, nil
}

func refRe(key string) *regexp.Regexp {
	return regexp.MustCompile(`/` + key + `\s+(\d+) \d+ R`)
}

func atoiB(b []byte) int {
	n, _ := strconv.Atoi(string(b))
	return n
}

var (
	cmapChar  = regexp.MustCompile(`(?s)beginbfchar(.*?)endbfchar`)
	cmapRange = regexp.MustCompile(`(?s)beginbfrange(.*?)endbfrange`)
	hexTok    = regexp.MustCompile(`<([0-9A-Fa-f]*)>|\[([^\]]*)\]`)
)

// parseCMap reads the bfchar and bfrange sections of a ToUnicode CMap
// with two-byte codes.
func parseCMap(s []byte) map[uint16]string {
	cm := map[uint16]string{}
	for _, sec := range cmapChar.FindAllSubmatch(s, -1) {
		toks := regexp.MustCompile(`<([0-9A-Fa-f]*)>`).FindAllSubmatch(sec[1], -1)
		for i := 0; i+1 < len(toks); i += 2 {
			cm[uint16(hexInt(toks[i][1]))] = utf16Hex(toks[i+1][1])
		}
	}
	for _, sec := range cmapRange.FindAllSubmatch(s, -1) {
		toks := hexTok.FindAllSubmatch(sec[1], -1)
		for i := 0; i+2 < len(toks); i += 3 {
			lo, hi := hexInt(toks[i][1]), hexInt(toks[i+1][1])
			if arr := toks[i+2][2]; arr != nil {
				dst := regexp.MustCompile(`<([0-9A-Fa-f]*)>`).FindAllSubmatch(arr, -1)
				for k := lo; k <= hi && k-lo < len(dst); k++ {
					cm[uint16(k)] = utf16Hex(dst[k-lo][1])
				}
				continue
			}
			base := []rune(utf16Hex(toks[i+2][1]))
			for k := lo; k <= hi; k++ {
				r := append([]rune(nil), base...)
				if len(r) > 0 {
					r[len(r)-1] += rune(k - lo)
				}
				cm[uint16(k)] = string(r)
			}
		}
	}
	return cm
}

func hexInt(b []byte) int {
	n, _ := strconv.ParseUint(string(b), 16, 32)
	return int(n)
}

func utf16Hex(b []byte) string {
	raw, err := hex.DecodeString(string(b))
	if err != nil {
		return ""
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	return string(utf16.Decode(u))
}

var contentTok = regexp.MustCompile(`(?s)<([0-9A-Fa-f\s]*)>|\((?:\\.|[^\\)])*\)|/[^\s/\[\]()<>]+|[A-Za-z'"*]+|-?[0-9.]+|\[|\]`)

// pageText decodes the text shown by a content stream.
func pageText(content []byte, fonts map[string]map[uint16]string) string {
	var b strings.Builder
	var font map[uint16]string
	var lastName string
	show := func(hexs []byte) {
		h := bytes.Join(bytes.Fields(hexs), nil)
		for i := 0; i+4 <= len(h); i += 4 {
			code := uint16(hexInt(h[i : i+4]))
			if s, ok := font[code]; ok {
				b.WriteString(s)
			}
		}
	}
	var pending [][]byte // hex strings since the last operator
	for _, tok := range contentTok.FindAll(content, -1) {
		switch {
		case tok[0] == '<':
			pending = append(pending, tok[1:len(tok)-1])
		case tok[0] == '/':
			lastName = string(tok[1:])
		case string(tok) == "Tf":
			font = fonts[lastName]
			pending = nil
		case string(tok) == "Tj" || string(tok) == "TJ" || string(tok) == "'" || string(tok) == `"`:
			for _, h := range pending {
				show(h)
			}
			pending = nil
		case string(tok) == "ET":
			b.WriteByte('\n')
			pending = nil
		case tok[0] == '[' || tok[0] == ']' || tok[0] == '(' || tok[0] == '-' || tok[0] == '.' || (tok[0] >= '0' && tok[0] <= '9'):
			// operands
		default:
			pending = nil
		}
	}
	return b.String()
}

// squash drops every white-space character, so that text can be matched
// across the line breaks and the glyph-by-glyph layout of a PDF.
func squash(s string) string {
	return strings.Join(strings.Fields(s), "")
}
