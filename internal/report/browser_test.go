package report

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browser returns a headless-capable Chromium, or "" when none is installed.
func browser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runBrowser runs headless Chromium with args and returns its output.
func runBrowser(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, e.String())
	}
	return o.String(), e.String()
}

// artifacts returns $MLRUN_ARTIFACTS (made absolute and created) or a
// temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MLRUN_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	detailsRe = regexp.MustCompile(`(?s)<details>(.*?)</details>`)
	thRe      = regexp.MustCompile(`(?s)<th[^>]*>(.*?)</th>`)
	tagRe     = regexp.MustCompile(`<[^>]*>`)
)

// TestPrintPDF prints the report to PDF in headless Chromium, as a reader
// does from the browser, and reads the PDF's text back (pdfPages): issue 14
// found that printing dropped the collapsed <details> sections, so every
// one's table headers must be in the PDF; and every page must carry its
// number ("Page i of n") and the run id.
func TestPrintPDF(t *testing.T) {
	bin := browser()
	if bin == "" {
		t.Skip("no chromium installed (apt-get install chromium)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	dir := artifacts(t)
	r := newFixture(t).build(t)
	var page bytes.Buffer
	if err := HTML(&page, r); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "print.html")
	if err := os.WriteFile(report, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pdf := filepath.Join(dir, "print.pdf")
	runBrowser(t, bin, "--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+report)
	data, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := pdfPages(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 2 {
		t.Fatalf("%d pages", len(pages))
	}
	all := squash(strings.Join(pages, "\n"))
	if !strings.Contains(all, squash("Model report: "+r.Header.Pipeline)) {
		t.Fatalf("the PDF's text does not hold the report's title: the text reader failed?\n%.2000s", pages[0])
	}

	sections := detailsRe.FindAllStringSubmatch(page.String(), -1)
	if len(sections) < 3 {
		t.Fatalf("%d <details> sections in the page, want at least 3", len(sections))
	}
	for _, d := range sections {
		var head []string
		for _, th := range thRe.FindAllStringSubmatch(d[1], -1) {
			head = append(head, html.UnescapeString(tagRe.ReplaceAllString(th[1], "")))
		}
		summary := html.UnescapeString(tagRe.ReplaceAllString(d[1][:strings.Index(d[1], "</summary>")], ""))
		if len(head) == 0 {
			t.Errorf("collapsed section %q has no table header to look for", summary)
			continue
		}
		if want := squash(strings.Join(head, " ")); !strings.Contains(all, want) {
			t.Errorf("the PDF lacks the collapsed section %q (its table header %q)", summary, strings.Join(head, " | "))
		}
	}

	for i, p := range pages {
		sp := squash(p)
		if want := squash(fmt.Sprintf("Page %d of %d", i+1, len(pages))); !strings.Contains(sp, want) {
			t.Errorf("page %d lacks its number %q", i+1, want)
		}
		if !strings.Contains(sp, r.Header.RunID) {
			t.Errorf("page %d lacks the run id %s", i+1, r.Header.RunID)
		}
	}
	t.Logf("%d pages; PDF in %s", len(pages), pdf)
}

// probePage loads the report in an iframe (test-only script; the report
// itself has none) and lists each chart's rendered size and the bounding
// box of its drawing.
const probePage = `<!DOCTYPE html><html><body><iframe id="f" src="report.html" style="width:1200px;height:9000px"></iframe>
<script>
document.getElementById('f').onload = function () {
  var d = this.contentDocument, out = [];
  d.querySelectorAll('svg').forEach(function (s) {
    var r = s.getBoundingClientRect(), b = s.getBBox();
    out.push(s.getAttribute('aria-label') + '|' + Math.round(r.width) + 'x' + Math.round(r.height) + '|' + Math.round(b.width) + 'x' + Math.round(b.height));
  });
  var p = document.createElement('pre'); p.id = 'result'; p.textContent = out.join('\n'); document.body.appendChild(p);
};
</script></body></html>
`

// TestBrowser renders the report in headless Chromium, when installed
// (Debian's chromium package): no console messages, every chart drawn with
// a non-empty bounding box, and a full-page screenshot and a PDF print
// saved in $MLRUN_ARTIFACTS (or a temporary directory).
func TestBrowser(t *testing.T) {
	bin := browser()
	if bin == "" {
		t.Skip("no chromium installed (apt-get install chromium)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	dir := artifacts(t)
	var page bytes.Buffer
	if err := HTML(&page, newFixture(t).build(t)); err != nil {
		t.Fatal(err)
	}
	charts := strings.Count(page.String(), "<svg ")
	report := filepath.Join(dir, "report.html")
	if err := os.WriteFile(report, page.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "probe.html"), []byte(probePage), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (stdout, stderr string) {
		t.Helper()
		return runBrowser(t, bin, args...)
	}

	// Console messages (there is no script, so any is a problem).
	_, logs := run("--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000", "--dump-dom", "file://"+report)
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "CONSOLE") {
			t.Errorf("console message: %s", l)
		}
	}

	// Every chart is drawn: a rendered box and a non-empty drawing.
	dom, _ := run("--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom", "file://"+filepath.Join(dir, "probe.html"))
	m := regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the probe page did not report:\n%s", dom)
	}
	lines := strings.Split(strings.TrimSpace(m[1]), "\n")
	if len(lines) != charts {
		t.Errorf("the browser found %d charts, the page has %d", len(lines), charts)
	}
	box := regexp.MustCompile(`^(.+)\|(\d+)x(\d+)\|(\d+)x(\d+)$`)
	for _, l := range lines {
		b := box.FindStringSubmatch(l)
		if b == nil || b[2] == "0" || b[3] == "0" || b[4] == "0" || b[5] == "0" {
			t.Errorf("chart not drawn: %s", l)
		}
	}

	run("--window-size=1200,12000", "--hide-scrollbars", "--screenshot="+filepath.Join(dir, "report.png"), "file://"+report)
	run("--no-pdf-header-footer", "--print-to-pdf="+filepath.Join(dir, "report.pdf"), "file://"+report)
	for _, name := range []string{"report.png", "report.pdf"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() < 10000 {
			t.Errorf("%s not written (%v)", name, err)
		}
	}
	t.Logf("artifacts in %s", dir)
}
