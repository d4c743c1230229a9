package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mlrun-cli/mlrun/internal/sshsig"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps"
	"github.com/mlrun-cli/mlrun/steps/stats"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture runs testdata/card.yaml into a fresh store, records its audit
// entries and registers its model, like the CLI does.
type fixture struct {
	st  *lineage.Store
	reg *pipeline.Registry
	run *lineage.RunRecord
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureFrom(t, "testdata/card.yaml", nil, pipeline.ExitCheckFailed, "champion")
}

// newFixtureFrom runs a pipeline file with parameter overrides into a fresh
// store, wants the exit code exit from the run (0: it passed), and
// registers its model step "model" as pd with the aliases.
func newFixtureFrom(t *testing.T, file string, overrides map[string]string, exit int, aliases ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	reg, err := steps.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(file, pipeline.LoadOptions{Registry: reg, Overrides: overrides})
	if err != nil {
		t.Fatal(err)
	}
	st, err := lineage.Open(t.TempDir(), lineage.WithActor("analyst@bank.example", "test"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := exec.Run(ctx, p, exec.Options{Store: st, Registry: reg, Jobs: 2, Version: "test"})
	if got := pipeline.ExitCode(err); got != exit {
		t.Fatalf("run %s: want exit %d, got %d (%v)", file, exit, got, err)
	}
	if _, err := st.AppendAudit(ctx, lineage.AuditEntry{Type: "later.event"}); err != nil {
		t.Fatal(err)
	}
	req := registry.RegisterRequest{Name: "pd", Run: run, Step: "model", Aliases: aliases}
	if _, err := registry.New(st, nil).Register(ctx, req); err != nil {
		// The registry refuses the model of a run with unwaived failed
		// checks: a checker waives each (signed), as `mlrun waive` does,
		// since the report of a failed run whose model was registered
		// anyway is what these tests are about.
		if exit == pipeline.ExitOK || pipeline.ExitCode(err) != pipeline.ExitCheckFailed {
			t.Fatal(err)
		}
		waiveFailed(t, st, run)
		if _, err := registry.New(st, nil).Register(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{st: st, reg: reg, run: run}
}

// waiveFailed waives every failed error check of run, signed by a checker
// with a fixed key.
func waiveFailed(t *testing.T, st *lineage.Store, run *lineage.RunRecord) {
	t.Helper()
	key, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	signers, err := governance.ParseSigners(fmt.Appendf(nil, "checker@bank.example %s", ssh.MarshalAuthorizedKey(key.PublicKey())), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range run.Steps {
		for _, c := range s.Checks {
			if c.Passed || c.Severity != pipeline.SeverityError {
				continue
			}
			tg := governance.Target{Kind: governance.TargetCheck, Run: run.ID, Step: s.ID, Check: c.Name}
			now := time.Now().UTC().Truncate(time.Second)
			exp := now.AddDate(0, 0, 30)
			sig, err := sshsig.Sign(key, governance.NamespaceWaiver, governance.WaiverPayload(tg, "validation exception VE-12", exp))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := governance.Waive(context.Background(), st, governance.WaiveRequest{Target: tg, Reason: "validation exception VE-12",
				Expires: exp, Signature: sig, Signers: signers}, now); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (f *fixture) build(t *testing.T) *Report {
	t.Helper()
	r, err := Build(context.Background(), f.run, Options{Store: f.st, Registry: f.reg, Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runFinishedSeq is the seq of the run's run.finished entry.
func runFinishedSeq(t *testing.T, st *lineage.Store, run string) uint64 {
	t.Helper()
	entries, _, err := st.AuditLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type == lineage.AuditRunFinished && e.Run == run {
			return e.Seq
		}
	}
	t.Fatalf("no run.finished entry for run %s", run)
	return 0
}

// normalise replaces what differs between test runs (run id, times, the
// user, git state, absolute paths, durations, audit hash) with fixed values.
func normalise(t *testing.T, r *Report, st *lineage.Store) {
	h := &r.Header
	if want := runFinishedSeq(t, st, h.RunID); len(h.AuditHead) != 64 || h.AuditSeq != want {
		t.Errorf("audit head %q seq %d: want the run.finished entry (%d), not the log's head", h.AuditHead, h.AuditSeq, want)
	}
	h.AuditSeq = 2
	runID := h.RunID
	h.RunID, h.Created, h.Duration = "20240102T030405Z-abcdef", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), 1500*time.Millisecond
	h.User, h.Host, h.Git, h.AuditHead = "analyst", "host", &lineage.GitInfo{Commit: strings.Repeat("c", 40)}, strings.Repeat("a", 64)
	abs, _ := filepath.Abs("testdata")
	h.File = "testdata/card.yaml"
	for i := range r.Data.Inputs {
		r.Data.Inputs[i].AbsPath = strings.Replace(r.Data.Inputs[i].AbsPath, filepath.Dir(filepath.Dir(filepath.Dir(abs))), "$REPO", 1)
	}
	for i := range r.Training {
		r.Training[i].Duration = time.Second
	}
	for i := range r.Lineage {
		r.Lineage[i].Duration = 10 * time.Millisecond
	}
	waiverID := regexp.MustCompile(`w-[0-9a-f]{12}`)
	waiverText := func(s string) string {
		s = strings.ReplaceAll(s, runID, "20240102T030405Z-abcdef")
		s = regexp.MustCompile(`until \d{4}-\d\d-\d\d`).ReplaceAllString(s, "until 2024-02-01")
		return waiverID.ReplaceAllString(s, "w-0123456789ab")
	}
	if g := r.Governance; g != nil {
		for i := range g.Waivers {
			w := &g.Waivers[i]
			w.Target, w.ID = waiverText(w.Target), "w-0123456789ab"
			w.Status = "active until 2024-02-01 03:04Z"
			w.Created, w.Expires = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2024, 2, 1, 3, 4, 5, 0, time.UTC)
		}
		for i := range g.Models {
			for j := range g.Models[i].Moves {
				g.Models[i].Moves[j].Key = "2024-01-02 03:05Z"
			}
		}
	}
	for i := range r.Checks {
		r.Checks[i].Waiver = waiverText(r.Checks[i].Waiver)
	}
}

// TestGolden compares the Markdown card and the normalised structure of the
// HTML page with testdata/report.md and testdata/report.html.golden
// (go test -update rewrites them).
func TestGolden(t *testing.T) {
	f := newFixture(t)
	r := f.build(t)
	normalise(t, r, f.st)
	var md, page bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/report.md", md.Bytes())
	checkGolden(t, "testdata/report.html.golden", []byte(structure(page.String())))
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -update rewrites it); got:\n%s", path, got)
	}
}

var (
	svgElem    = regexp.MustCompile(`(?s)<svg .*?</svg>`)
	svgTag     = regexp.MustCompile(`<([a-z]+)[ >/]`)
	svgText    = regexp.MustCompile(`(?s)<text[^>]*>(.*?)</text>`)
	svgTitleRe = regexp.MustCompile(`<title>(.*?)</title>`)
)

// structure replaces each inline SVG chart with a summary: its title, the
// count of each element and its text labels in order. Path data and
// coordinates are left out, so that the golden file shows the page's
// structure and every chart's axes, ticks and legend, not floating-point
// digits.
func structure(page string) string {
	return svgElem.ReplaceAllStringFunc(page, func(svg string) string {
		counts := map[string]int{}
		for _, m := range svgTag.FindAllStringSubmatch(svg, -1) {
			counts[m[1]]++
		}
		var texts []string
		for _, m := range svgText.FindAllStringSubmatch(svg, -1) {
			texts = append(texts, m[1])
		}
		title := ""
		if m := svgTitleRe.FindStringSubmatch(svg); m != nil {
			title = m[1]
		}
		var b strings.Builder
		b.WriteString("<svg title=\"" + title + "\"")
		for _, k := range sortedKeys(counts) {
			b.WriteString(" " + k + "=" + itoa(counts[k]))
		}
		b.WriteString(">\n  texts: " + strings.Join(texts, " | ") + "\n</svg>")
		return b.String()
	})
}

func itoa(n int) string { return count(n) }

// TestDeterministic builds and renders the same run twice: the bytes of
// both formats, SVG charts included, must be identical.
func TestDeterministic(t *testing.T) {
	f := newFixture(t)
	var outs [2][2]bytes.Buffer
	for i := range outs {
		r := f.build(t)
		if err := HTML(&outs[i][0], r); err != nil {
			t.Fatal(err)
		}
		if err := Markdown(&outs[i][1], r); err != nil {
			t.Fatal(err)
		}
	}
	for k, name := range []string{"HTML", "Markdown"} {
		if !bytes.Equal(outs[0][k].Bytes(), outs[1][k].Bytes()) {
			t.Errorf("%s differs between two builds of the same run", name)
		}
	}
	if n := strings.Count(outs[0][0].String(), "<svg "); n < 8 {
		t.Errorf("the page has %d charts, want at least 8", n)
	}
}

// TestHTMLSelfContained checks the page for anything a browser would run or
// fetch, and parses it as XML (the page is XHTML-compatible), which finds
// unclosed or mis-nested elements that an HTML5 parser would silently repair.
func TestHTMLSelfContained(t *testing.T) {
	f := newFixture(t)
	var page bytes.Buffer
	if err := HTML(&page, f.build(t)); err != nil {
		t.Fatal(err)
	}
	s := page.String()
	lower := strings.ToLower(s)
	for _, bad := range []string{"<script", "javascript:", "<link", "<img", "<iframe", "<object", "<embed", "@import", "@font-face", "url(", " src=", " href=", " on" + "load="} {
		if strings.Contains(lower, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// The only URLs are the SVG namespace.
	urls := regexp.MustCompile(`https?://[^\s"'<>)]*`).FindAllString(s, -1)
	for _, u := range urls {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("page contains the URL %s", u)
		}
	}
	if strings.Contains(s, "base64") {
		t.Error("page embeds base64 data (a font or an image?)")
	}

	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	var stack []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			stack = append(stack, e.Name.Local)
			if e.Name.Local == "svg" && !strings.Contains(strings.Join(stack, "/"), "figure/svg") {
				t.Errorf("an svg outside a figure: %s", strings.Join(stack, "/"))
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	for _, want := range []string{`id="card"`, `id="checks"`, `id="data"`, `id="features"`, `id="training"`, `id="performance"`,
		`id="explainability"`, `id="fairness"`, `id="monitoring"`, `id="lineage"`, "banner fail", "four-fifths"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

// TestMetricsMatchStats checks the report's own statistics against package
// stats: the bootstrap's weighted AUC with unit weights is stats.AUC, and
// the interval contains the AUC.
func TestMetricsMatchStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 500
	p, y, w := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range p {
		y[i] = float64(rng.IntN(2))
		p[i] = math.Round((0.3*y[i]+0.7*rng.Float64())*50) / 50 // ties
		w[i] = 1
	}
	want, err := stats.AUC(p, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	order, start := scoreGroups(p)
	if got := weightedAUC(order, start, y, w); math.Abs(got-want) > 1e-12 {
		t.Errorf("weightedAUC = %v, stats.AUC = %v", got, want)
	}
	lo, hi := bootstrapAUC(p, y, 200)
	if !(lo < want && want < hi) || hi-lo > 0.2 {
		t.Errorf("bootstrap interval [%v, %v] for AUC %v", lo, hi, want)
	}
	lo2, hi2 := bootstrapAUC(p, y, 200)
	if lo != lo2 || hi != hi2 {
		t.Error("bootstrap is not reproducible")
	}
	mp, rate := calibration(p, y, 10)
	if len(mp) != 10 || len(rate) != 10 {
		t.Fatalf("calibration: %d groups", len(mp))
	}
	for i := 1; i < len(mp); i++ {
		if mp[i] < mp[i-1] {
			t.Errorf("calibration groups not sorted by mean probability")
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v         float64
		sig, perc string
	}{
		{0.82079, "0.821", "82.1%"},
		{0.094, "0.094", "9.4%"},
		{1234567, "1.23e+06", "123,456,700%"},
		{4000, "4,000", "400,000%"},
		{0.00012, "1.20e-04", "0.012%"},
		{0, "0", "0%"},
		{math.NaN(), "n/a", "n/a"},
		{-0.5, "-0.5", "-50%"},
	} {
		if got := sig3(c.v); got != c.sig {
			t.Errorf("sig3(%v) = %q, want %q", c.v, got, c.sig)
		}
		if got := pct(c.v); got != c.perc {
			t.Errorf("pct(%v) = %q, want %q", c.v, got, c.perc)
		}
	}
}
