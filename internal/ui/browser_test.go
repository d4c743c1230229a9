package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/steps"
)

// browser returns a headless-capable Chromium, or "" when none is
// installed (as internal/report's browser tests find it).
func browser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifacts returns $MLRUN_ARTIFACTS/ui (created) or a temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MLRUN_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir, err := filepath.Abs(filepath.Join(dir, "ui"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cliStore builds the mlrun binary and makes a store as a user would: the
// example pipeline run (twice: the second is all cached), once more with
// another seed, once renamed <script>..., the model registered and
// promoted, two batches monitored and one scored, production protected and
// a promotion to it pending approval.
func cliStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	bin := filepath.Join(dir, "mlrun")
	build := exec.Command(gobin, "build", "-o", bin, "github.com/mlrun-cli/mlrun/cmd/mlrun")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sub := range []string{"pipelines", "data"} {
		if err := os.CopyFS(filepath.Join(dir, "examples", sub), os.DirFS(filepath.Join("../../examples", sub))); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile(filepath.Join(dir, "examples/pipelines/credit-risk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	xss := strings.Replace(string(src), "name: credit-risk\n", "name: '"+xssName+"'\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "examples/pipelines/xss.yaml"), []byte(xss), 0o644); err != nil {
		t.Fatal(err)
	}
	mlrun := func(exit int, args ...string) {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "MLRUN_STORE=.mlrun", "MLRUN_CACHE_DIR="+filepath.Join(dir, "cache"), "MLRUN_ACTOR=analyst@bank.example")
		out, err := c.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != exit {
			t.Fatalf("mlrun %s: exit %d, want %d\n%s", strings.Join(args, " "), code, exit, out)
		}
	}
	mlrun(0, "run", "-q", "examples/pipelines/credit-risk.yaml")
	mlrun(0, "run", "-q", "examples/pipelines/credit-risk.yaml")
	mlrun(0, "models", "register", "--run", "latest", "--step", "model", "--name", "pd")
	mlrun(0, "run", "-q", "examples/pipelines/credit-risk.yaml", "-p", "seed=7")
	mlrun(0, "models", "register", "--run", "latest", "--step", "model", "--name", "pd")
	mlrun(0, "models", "promote", "pd", "1", "--alias", "production", "--reason", "first release")
	mlrun(0, "models", "promote", "pd", "2", "--alias", "staging", "--reason", "try <b>it</b>")
	mlrun(0, "models", "protect", "pd", "--alias", "production", "--approvals", "1", "--reason", "model risk policy MR-7")
	mlrun(1, "monitor", "--model", "pd@production", "--data", "examples/data/applications_drift.csv")
	mlrun(0, "monitor", "--model", "pd@production", "--data", "examples/data/applications_batch.csv")
	mlrun(0, "predict", "--model", "pd@production", "--data", "examples/data/applications_batch.csv", "--out", "scores.csv", "--id", "application_id")
	mlrun(0, "run", "-q", "examples/pipelines/xss.yaml")
	mlrun(0, "models", "promote", "pd", "2", "--alias", "production", "--reason", "challenger won")
	return filepath.Join(dir, ".mlrun")
}

// consoleLog collects a tab's console messages.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func (l *consoleLog) take() []chromedp.ConsoleMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.msgs
	l.msgs = nil
	return m
}

// wantText is text some pages must show (by path).
var wantText = map[string][]string{
	"/runs":                       {xssName, "credit-risk"},
	"/models/pd":                  {"first release", "try <b>it</b>", "production", "staging", "0 of 1", "challenger won", "model risk policy MR-7"},
	"/models/pd/monitoring":       {"Drift of the latest batch", "debt_to_income_ratio"},
	"/compare":                    {"seed", "ROC curves", "params:"},
	"/audit":                      {"Audit chain intact"},
	"/explain?batch=latest&row=3": {"Training data fingerprint", "Reasons", "pd@1"},
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// TestBrowser renders every page in headless Chromium over a store the CLI
// made: each answers 200 with no console message (no error, no CSP
// violation, no exception) and no script element, every link on it
// resolves (200), and a full-page screenshot of each is kept in
// $MLRUN_ARTIFACTS/ui (or a temporary directory, logged).
func TestBrowser(t *testing.T) {
	bin := browser()
	if bin == "" {
		t.Skip("no chromium installed (apt-get install chromium)")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	storeDir := cliStore(t)
	// The UI runs where mlrun ran, as a user starts it: the runs' relative
	// pipeline and data paths resolve (report model cards, semantic diff).
	t.Chdir(filepath.Dir(storeDir))
	st, err := lineage.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := steps.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Kinds: kinds, Jobs: 2, MonitorNS: "monitor"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	out := artifacts(t)

	snap, err := srv.Index().Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	runs := snap.Runs()
	if len(runs) != 4 {
		t.Fatalf("%d runs in the store, want 4", len(runs))
	}
	pages := []string{"/runs", "/runs?sort=-auc&per=2", "/runs?where=" + url.QueryEscape("auc > 0.5 && params.seed == 7"),
		"/compare?run=" + runs[0].ID + "&run=" + runs[2].ID + "&run=" + runs[3].ID,
		"/models", "/models/pd", "/models/pd/monitoring", "/audit", "/audit?type=run", "/explain", "/explain?batch=latest&row=3"}
	for _, r := range runs {
		pages = append(pages, "/runs/"+r.ID)
	}
	pages = append(pages, "/runs/"+runs[0].ID+"/report")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	tab, tcancel := chromedp.NewContext(actx)
	defer tcancel()
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	var log consoleLog
	msgs := chromedp.Console(tab)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			log.mu.Lock()
			log.msgs = append(log.msgs, m)
			log.mu.Unlock()
		}
	}()

	checked := map[string]int{}
	for _, p := range pages {
		resp, err := chromedp.Run(tab, chromedp.NavigateResponse(ts.URL+p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if resp.Status != http.StatusOK {
			t.Errorf("%s: status %d", p, resp.Status)
		}
		// Every chart and the report's frame have loaded with the page;
		// give the console events a moment to arrive.
		time.Sleep(150 * time.Millisecond)
		for _, m := range log.take() {
			t.Errorf("%s: console %s (%s:%d)", p, m, m.URL, m.Line)
		}
		scripts, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.scripts.length`))
		if err != nil || scripts != 0 {
			t.Errorf("%s: %d script elements (%v)", p, scripts, err)
		}
		links, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('a[href], link[href], iframe[src], svg a')).map(e => new URL(e.getAttribute('href') || e.getAttribute('src'), document.baseURI).href)`))
		if err != nil {
			t.Fatalf("%s: links: %v", p, err)
		}
		for _, l := range links {
			u, err := url.Parse(l)
			if err != nil || !strings.HasPrefix(l, ts.URL) {
				t.Errorf("%s: link %q leaves the UI", p, l)
				continue
			}
			u.Fragment = ""
			if _, ok := checked[u.String()]; ok {
				continue
			}
			resp, err := ts.Client().Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			checked[u.String()] = resp.StatusCode
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: link %s: %s", p, u.RequestURI(), resp.Status)
			}
		}
		text, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
		if err != nil {
			t.Fatalf("%s: text: %v", p, err)
		}
		key := p
		if strings.HasPrefix(p, "/compare?") {
			key = "/compare"
		}
		for _, want := range wantText[key] {
			if !strings.Contains(text, want) {
				t.Errorf("%s: the page does not show %q", p, want)
			}
		}
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("%s: screenshot: %v", p, err)
		}
		name := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(p), "-"), "-")
		if len(name) > 80 {
			name = name[:80]
		}
		if err := os.WriteFile(filepath.Join(out, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	keys := make([]string, 0, len(checked))
	for k := range checked {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	t.Logf("%d pages, %d distinct links checked; screenshots in %s", len(pages), len(keys), out)
	if len(keys) < 20 {
		t.Errorf("only %d links: %v", len(keys), keys)
	}
}
