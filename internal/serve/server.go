package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hashicorp/go-hclog"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/internal/predict"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

// Options configure New.
type Options struct {
	// Store and Registry are the lineage store and its model registry;
	// Kinds the step kinds scoring chains are compiled with. Required.
	Store    *lineage.Store
	Registry *registry.Registry
	Kinds    *pipeline.Registry
	// Ref is the model served: NAME@ALIAS (followed when the alias moves),
	// NAME (the latest version, followed too) or NAME@VERSION.
	Ref string
	// JournalDir holds the decision journal's segment files.
	JournalDir string
	// SegmentRows and SegmentAge bound a journal segment (JournalOptions).
	SegmentRows int
	SegmentAge  time.Duration
	// Reload is how often the registry is polled for a moved alias
	// (default 1s; negative: never).
	Reload time.Duration
	// MaxBody bounds a request body in bytes (default 1 MiB).
	MaxBody int64
	// MaxRecords bounds the records of one request (default 1000).
	MaxRecords int
	// IDField names a record field whose value each decision keeps as
	// its ID ("" for none); it must be a field of the model's chain.
	IDField string
	// Log receives the server's messages (nil: none).
	Log hclog.Logger
}

// Server serves one registered model: the Open Inference Protocol v2 REST
// API, a plain JSON endpoint, health and Prometheus metrics. Every
// decision is in the journal (fsynced) before its response is sent.
type Server struct {
	o       Options
	log     hclog.Logger
	cur     atomic.Pointer[served]
	journal *Journal
	metrics *metrics.Set
	addr    string
	// draining is set when Shutdown starts: ready answers 503.
	draining atomic.Bool
	reloadMu sync.Mutex
	lastHead string
	// counters caches the per-request metrics by name (a label set
	// formatted once, not at each request): *metrics.Counter and
	// *metrics.PrometheusHistogram.
	counters sync.Map
	// bodies pools the buffers /score reads bodies into.
	bodies sync.Pool
}

// errReader returns err, after the bytes of a body read before it.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// metricKey names a per-request metric before its name is formatted.
type metricKey struct {
	kind, a, b string
	n          int
}

// counter returns the counter k stands for, named by name() the first
// time, then cached.
func (s *Server) counter(k metricKey, name func() string) *metrics.Counter {
	if c, ok := s.counters.Load(k); ok {
		return c.(*metrics.Counter)
	}
	c := s.metrics.GetOrCreateCounter(name())
	s.counters.Store(k, c)
	return c
}

// durations returns the latency histogram of endpoint ep (cached).
func (s *Server) durations(ep string) *metrics.PrometheusHistogram {
	k := metricKey{kind: "duration", a: ep}
	if h, ok := s.counters.Load(k); ok {
		return h.(*metrics.PrometheusHistogram)
	}
	h := s.metrics.GetOrCreatePrometheusHistogramExt(fmt.Sprintf(`mlrun_serve_request_duration_seconds{endpoint=%q}`, ep), latencyBuckets)
	s.counters.Store(k, h)
	return h
}

// served is the model version being served, swapped whole on reload.
type served struct {
	sc  *predict.Scorer
	on  *predict.Online
	v   *registry.Version
	seg *Segment
}

// New loads the model Ref names and commits the journal segments that
// servers which died left in JournalDir (Recover). Start it with Serve.
func New(ctx context.Context, o Options) (*Server, map[string]int, error) {
	if o.Store == nil || o.Registry == nil || o.Kinds == nil || o.Ref == "" || o.JournalDir == "" {
		return nil, nil, errors.New("serve: Store, Registry, Kinds, Ref and JournalDir are required")
	}
	if o.Reload == 0 {
		o.Reload = time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 1000
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	s := &Server{o: o, log: o.Log, metrics: metrics.NewSet()}
	recovered, err := Recover(ctx, o.Store, o.JournalDir)
	if err != nil {
		return nil, recovered, fmt.Errorf("recovering the decision journal %s: %w", o.JournalDir, err)
	}
	m, err := s.load(ctx)
	if err != nil {
		return nil, recovered, err
	}
	if o.IDField != "" && !hasField(m.on, o.IDField) {
		return nil, recovered, pipeline.Invalidf("--id %q is not a field of %s (fields: %s)", o.IDField, m.sc.Ref(), fieldNames(m.on))
	}
	s.setServed(m)
	s.lastHead, _, _ = o.Store.AuditHead(ctx)
	return s, recovered, nil
}

func hasField(on *predict.Online, name string) bool {
	for _, f := range on.Fields() {
		if f.Name == name {
			return true
		}
	}
	return false
}

func fieldNames(on *predict.Online) string {
	var out []string
	for _, f := range on.Fields() {
		out = append(out, f.Name)
	}
	return strings.Join(out, ", ")
}

// load resolves Ref and compiles its scorer for records.
func (s *Server) load(ctx context.Context) (*served, error) {
	_, v, err := s.o.Registry.Resolve(ctx, s.o.Ref)
	if err != nil {
		return nil, err
	}
	return s.compile(ctx, v)
}

func (s *Server) compile(ctx context.Context, v *registry.Version) (*served, error) {
	sc, err := predict.New(ctx, s.o.Store, v, predict.Options{Kinds: s.o.Kinds, Jobs: 1, Online: true})
	if err != nil {
		return nil, err
	}
	b := sc.Batch("", time.Now(), sc.Online().Protected())
	seg := &Segment{Model: b.Model, Version: b.Version, Run: b.Run, Step: b.Step, ModelObject: b.ModelObject,
		Threshold: b.Threshold, Protected: b.Protected, Baseline: b.Baseline, Pipeline: v.Pipeline, Server: s.addr}
	return &served{sc: sc, on: sc.Online(), v: v, seg: seg}, nil
}

func (s *Server) setServed(m *served) {
	s.cur.Store(m)
	s.metrics.GetOrCreateGauge(fmt.Sprintf(`mlrun_serve_model_version{model=%q,ref=%q}`, m.v.Model, s.o.Ref), nil).Set(float64(m.v.Version))
}

// Served returns the model version being served.
func (s *Server) Served() *registry.Version { return s.cur.Load().v }

// Reload resolves Ref again when the store changed since the last look,
// and swaps in the version it names when that is another one; it returns
// whether it swapped. Requests in flight finish with the version they
// started with.
func (s *Server) Reload(ctx context.Context) (bool, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	head, _, err := s.o.Store.AuditHead(ctx)
	if err != nil {
		return false, err
	}
	if head == s.lastHead {
		return false, nil
	}
	_, v, err := s.o.Registry.Resolve(ctx, s.o.Ref)
	if err != nil {
		return false, err
	}
	s.lastHead = head
	old := s.cur.Load()
	if v.Model == old.v.Model && v.Version == old.v.Version {
		return false, nil
	}
	m, err := s.compile(ctx, v)
	if err != nil {
		return false, err
	}
	s.setServed(m)
	s.metrics.GetOrCreateCounter("mlrun_serve_model_reloads_total").Inc()
	s.log.Info("model reloaded", "ref", s.o.Ref, "from", old.v.Ref(), "to", v.Ref())
	return true, nil
}

// Serve serves on ln until ctx is done, then drains: it stops accepting,
// waits for the requests in flight (up to drain), and closes the journal,
// committing its open segment into the store.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	s.addr = ln.Addr().String()
	s.cur.Load().seg.Server = s.addr
	j, err := OpenJournal(JournalOptions{Dir: s.o.JournalDir, Store: s.o.Store, SegmentRows: s.o.SegmentRows, SegmentAge: s.o.SegmentAge, Log: s.log.Named("journal"),
		OnSync: func(n int) {
			s.metrics.GetOrCreateCounter("mlrun_serve_journal_fsyncs_total").Inc()
			s.metrics.GetOrCreateCounter("mlrun_serve_journal_decisions_total").Add(n)
		},
		OnCommit: func(seg *Segment, n int, err error) {
			if err != nil {
				s.metrics.GetOrCreateCounter("mlrun_serve_segment_commit_errors_total").Inc()
				return
			}
			s.metrics.GetOrCreateCounter("mlrun_serve_segments_committed_total").Inc()
		}})
	if err != nil {
		return err
	}
	s.journal = j
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          s.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	reloadDone := make(chan struct{})
	rctx, stopReload := context.WithCancel(context.Background())
	go func() {
		defer close(reloadDone)
		if s.o.Reload < 0 {
			return
		}
		t := time.NewTicker(s.o.Reload)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if _, err := s.Reload(rctx); err != nil && rctx.Err() == nil {
					s.log.Warn("model not reloaded: still serving the version loaded before", "ref", s.o.Ref, "error", err)
				}
			}
		}
	}()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		s.draining.Store(true)
		s.log.Info("draining", "in_flight_timeout", drain)
		sctx, cancel := context.WithTimeout(context.Background(), drain)
		serveErr = hs.Shutdown(sctx)
		cancel()
		<-errc
	}
	stopReload()
	<-reloadDone
	if err := j.Close(); err != nil {
		return errors.Join(serveErr, err)
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// Handler returns the server's HTTP handler (Serve uses it; tests too,
// after OpenJournal through Serve).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {
		if err := s.notReady(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
	})
	mux.HandleFunc("GET /v2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": "mlrun", "version": "v2", "extensions": []string{}})
	})
	mux.HandleFunc("GET /v2/models/{name}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}", s.modelMetadata)
	mux.HandleFunc("GET /v2/models/{name}/ready", s.modelReady)
	mux.HandleFunc("GET /v2/models/{name}/versions/{version}/ready", s.modelReady)
	mux.HandleFunc("POST /v2/models/{name}/infer", s.infer)
	mux.HandleFunc("POST /v2/models/{name}/versions/{version}/infer", s.infer)
	mux.HandleFunc("POST /score", s.score)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.WritePrometheus(w)
	})
	return s.recoverer(mux)
}

func (s *Server) notReady() error {
	if s.draining.Load() {
		return errors.New("draining")
	}
	if s.journal == nil {
		return errors.New("starting")
	}
	return s.journal.Healthy()
}

// recoverer answers 500 for a request whose handler panicked, and counts
// requests and their latency by endpoint and status code.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("request panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				s.metrics.GetOrCreateCounter("mlrun_serve_panics_total").Inc()
				if !rw.wrote {
					writeJSON(rw, http.StatusInternalServerError, errorBody{Error: "internal error"})
				}
			}
			ep, code := endpoint(r.URL.Path), rw.code()
			s.counter(metricKey{kind: "requests", a: ep, n: code}, func() string {
				return fmt.Sprintf(`mlrun_serve_requests_total{endpoint=%q,code="%d"}`, ep, code)
			}).Inc()
			s.durations(ep).UpdateDuration(start)
		}()
		next.ServeHTTP(rw, r)
	})
}

// latencyBuckets are the upper bounds (seconds) of the latency histogram.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// endpoint names a path for metrics (a bounded set of label values).
func endpoint(p string) string {
	switch {
	case strings.HasSuffix(p, "/infer"):
		return "infer"
	case p == "/score":
		return "score"
	case strings.HasPrefix(p, "/v2/health"):
		return "health"
	case p == "/metrics":
		return "metrics"
	case strings.HasPrefix(p, "/v2"):
		return "metadata"
	}
	return "other"
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// errorBody is every error response: the Open Inference Protocol's
// {"error": ...}, with the bad fields and the failed rules of a record.
type errorBody struct {
	Error  string                `json:"error"`
	Fields []predict.FieldError  `json:"fields,omitempty"`
	Rules  []predict.RuleFailure `json:"rules,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// modelFor returns the served model when the path names it (and, with a
// version, that version), else answers 404.
func (s *Server) modelFor(w http.ResponseWriter, r *http.Request) *served {
	m := s.cur.Load()
	if name := r.PathValue("name"); name != m.v.Model {
		writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("model %q is not served here (serving %s)", name, m.v.Model)})
		return nil
	}
	if ver := r.PathValue("version"); ver != "" && ver != strconv.Itoa(m.v.Version) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: fmt.Sprintf("version %s of %s is not served here (serving %s)", ver, m.v.Model, m.v.Ref())})
		return nil
	}
	return m
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	if s.modelFor(w, r) == nil {
		return
	}
	if err := s.notReady(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ready": true})
}

// oipTensor is a tensor of the Open Inference Protocol.
type oipTensor struct {
	Name     string          `json:"name"`
	Datatype string          `json:"datatype"`
	Shape    []int           `json:"shape"`
	Data     json.RawMessage `json:"data,omitempty"`
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	m := s.modelFor(w, r)
	if m == nil {
		return
	}
	var inputs []any
	for _, f := range m.on.Fields() {
		inputs = append(inputs, map[string]any{"name": f.Name, "datatype": oipType(f.Type), "shape": []int{-1}, "parameters": map[string]any{"type": f.Type, "required": f.Required}})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": m.v.Model, "versions": []string{strconv.Itoa(m.v.Version)}, "platform": "mlrun",
		"inputs": inputs,
		"outputs": []any{
			map[string]any{"name": "score", "datatype": "FP64", "shape": []int{-1}},
			map[string]any{"name": "decision", "datatype": "BYTES", "shape": []int{-1}},
			map[string]any{"name": "reason_codes", "datatype": "BYTES", "shape": []int{-1, decisions.MaxReasons}},
			map[string]any{"name": "reason_texts", "datatype": "BYTES", "shape": []int{-1, decisions.MaxReasons}},
		},
		"parameters": map[string]any{"threshold": m.v.Threshold, "algorithm": m.v.Algorithm, "ref": s.o.Ref, "skipped_rules": m.on.Skipped()},
	})
}

func oipType(t string) string {
	switch t {
	case "float":
		return "FP64"
	case "int":
		return "INT64"
	case "bool":
		return "BOOL"
	}
	return "BYTES"
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID returns the client's id (the X-Request-Id header or the
// body's), else a new random one; a malformed client id is a bad field.
func requestID(header, body string) (string, *predict.FieldError) {
	id := header
	if id == "" {
		id = body
	}
	if id == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		return "r-" + hex.EncodeToString(b[:]), nil
	}
	if !requestIDRe.MatchString(id) {
		return "", &predict.FieldError{Field: "id", Message: "a request id is 1 to 128 letters, digits, '.', '_', ':' or '-'"}
	}
	return id, nil
}

// scored is one decision as a response shows it.
type scored struct {
	Score    float64  `json:"score"`
	Decision string   `json:"decision"`
	Reasons  []reason `json:"reasons,omitempty"`
	RowHash  string   `json:"row_hash"`
	ID       string   `json:"id,omitempty"`
}

type reason struct {
	Code         string  `json:"code"`
	Text         string  `json:"text,omitempty"`
	Contribution float64 `json:"contribution"`
}

// decide scores the records with the served model and journals the
// decisions; it answers the error itself and returns nil on failure.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, m *served, id string, recs []predict.Record, prefix func(i int) string) []decisions.Decision {
	var body errorBody
	decs := make([]decisions.Decision, len(recs))
	now := time.Now().UTC()
	for i, rec := range recs {
		d, err := m.on.Score(r.Context(), rec)
		var ie *predict.InputError
		var re *predict.RefusedError
		switch {
		case errors.As(err, &ie):
			for _, f := range ie.Fields {
				f.Field = prefix(i) + f.Field
				body.Fields = append(body.Fields, f)
			}
			continue
		case errors.As(err, &re):
			for _, f := range re.Rules {
				fields := make([]string, len(f.Fields))
				for k, name := range f.Fields {
					fields[k] = prefix(i) + name
				}
				f.Fields = fields
				body.Rules = append(body.Rules, f)
			}
			continue
		case err != nil:
			s.log.Error("scoring failed", "request", id, "error", err)
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "scoring failed: " + err.Error()})
			return nil
		}
		d.Request, d.Time = id, now
		if s.o.IDField != "" {
			if v, ok := rec[s.o.IDField]; ok && !v.Null {
				d.ID = v.Text
			}
		}
		decs[i] = d
	}
	if len(body.Fields) > 0 || len(body.Rules) > 0 {
		switch {
		case len(body.Fields) > 0:
			body.Error = fmt.Sprintf("%d bad field(s)", len(body.Fields))
		default:
			body.Error = "the record fails the validation the model was trained behind"
		}
		s.metrics.GetOrCreateCounter("mlrun_serve_records_refused_total").Add(len(recs))
		writeJSON(w, http.StatusBadRequest, body)
		return nil
	}
	if err := s.journal.Append(m.seg, decs); err != nil {
		s.log.Error("decisions not recorded: not answered", "request", id, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "the decision could not be recorded: " + err.Error()})
		return nil
	}
	for _, d := range decs {
		s.counter(metricKey{kind: "decisions", a: d.Decision, b: m.v.Model, n: m.v.Version}, func() string {
			return fmt.Sprintf(`mlrun_serve_decisions_total{decision=%q,model=%q,version="%d"}`, d.Decision, m.v.Model, m.v.Version)
		}).Inc()
	}
	w.Header().Set("X-Request-Id", id)
	return decs
}

func reasonsOf(d decisions.Decision) []reason {
	var out []reason
	for _, r := range d.Reasons {
		out = append(out, reason{Code: r.Feature, Text: r.Text, Contribution: r.Contribution})
	}
	return out
}

// readBody reads a JSON body within the size limit into v (numbers kept as
// their text); it answers the error itself and returns false on failure.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBody)
	return s.decodeBody(w, r.Body, v)
}

// decodeBody is readBody's decoding of the body rd reads.
func (s *Server) decodeBody(w http.ResponseWriter, rd io.Reader, v any) bool {
	dec := json.NewDecoder(rd)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("request body larger than %d bytes", s.o.MaxBody)})
			return false
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "request body is not valid JSON: " + err.Error()})
		return false
	}
	if dec.More() {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "request body holds more than one JSON value"})
		return false
	}
	return true
}

// value converts a decoded JSON value to a field as entered.
func value(v any) predict.Value {
	switch x := v.(type) {
	case nil:
		return predict.Value{Null: true}
	case json.Number:
		return predict.Value{Text: string(x)}
	case string:
		return predict.Value{Text: x}
	case bool:
		return predict.Value{Text: strconv.FormatBool(x)}
	}
	return predict.Value{Bad: "want a number, a string, a boolean or null"}
}

// score is the plain endpoint: a record (a JSON object) or a list of them.
func (s *Server) score(w http.ResponseWriter, r *http.Request) {
	m := s.cur.Load()
	// The body is read whole within the size limit: a single record of
	// scalar fields is read straight into its Record (flatRecord); any
	// other body, and a body cut by the limit or a read error, is decoded
	// from the bytes read (then that error) as readBody decodes it.
	buf, _ := s.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			s.bodies.Put(buf)
		}
	}()
	buf.Reset()
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBody)
	var body io.Reader
	if _, err := buf.ReadFrom(r.Body); err != nil {
		body = io.MultiReader(bytes.NewReader(buf.Bytes()), errReader{err})
	} else if rec, ok := flatRecord(buf.Bytes()); ok {
		s.scoreRecords(w, r, m, []predict.Record{rec}, true)
		return
	} else {
		body = bytes.NewReader(buf.Bytes())
	}
	var raw any
	if !s.decodeBody(w, body, &raw) {
		return
	}
	var objs []any
	single := false
	switch x := raw.(type) {
	case map[string]any:
		if recs, ok := x["records"].([]any); ok && len(x) == 1 {
			objs = recs
		} else {
			objs, single = []any{x}, true
		}
	case []any:
		objs = x
	default:
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `want a record (a JSON object), a list of records, or {"records": [...]}`})
		return
	}
	if len(objs) == 0 || len(objs) > s.o.MaxRecords {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("want 1 to %d records, got %d", s.o.MaxRecords, len(objs))})
		return
	}
	prefix := func(i int) string {
		if single {
			return ""
		}
		return fmt.Sprintf("records[%d].", i)
	}
	var bad []predict.FieldError
	recs := make([]predict.Record, len(objs))
	for i, o := range objs {
		obj, ok := o.(map[string]any)
		if !ok {
			bad = append(bad, predict.FieldError{Field: strings.TrimSuffix(prefix(i), "."), Message: "a record is a JSON object"})
			continue
		}
		recs[i] = make(predict.Record, len(obj))
		for k, v := range obj {
			recs[i][k] = value(v)
		}
	}
	if len(bad) > 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("%d bad field(s)", len(bad)), Fields: bad})
		return
	}
	s.scoreRecords(w, r, m, recs, single)
}

// scoreRecords answers /score for records read from its body (single: the
// body was one record, not a list).
func (s *Server) scoreRecords(w http.ResponseWriter, r *http.Request, m *served, recs []predict.Record, single bool) {
	prefix := func(i int) string {
		if single {
			return ""
		}
		return fmt.Sprintf("records[%d].", i)
	}
	id, ferr := requestID(r.Header.Get("X-Request-Id"), "")
	if ferr != nil {
		ferr.Field = "X-Request-Id"
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "bad request id", Fields: []predict.FieldError{*ferr}})
		return
	}
	decs := s.decide(w, r, m, id, recs, prefix)
	if decs == nil {
		return
	}
	out := make([]scored, len(decs))
	for i, d := range decs {
		out[i] = scored{Score: d.Score, Decision: d.Decision, Reasons: reasonsOf(d), RowHash: d.RowHash, ID: d.ID}
	}
	writeJSON(w, http.StatusOK, scoreResponse{RequestID: id, Model: m.v.Model, Version: m.v.Version, Threshold: m.v.Threshold, Decisions: out})
}

// scoreResponse is the answer of /score. Its fields are in the order of
// their names, so that it encodes as the map it was first written as
// (encoding/json sorts a map's keys), without sorting at each response.
type scoreResponse struct {
	Decisions []scored `json:"decisions"`
	Model     string   `json:"model"`
	RequestID string   `json:"request_id"`
	Threshold float64  `json:"threshold"`
	Version   int      `json:"version"`
}

// inferRequest is an Open Inference Protocol v2 inference request.
type inferRequest struct {
	ID         string         `json:"id"`
	Parameters map[string]any `json:"parameters"`
	Inputs     []oipTensor    `json:"inputs"`
	Outputs    []any          `json:"outputs"`
}

// infer is the Open Inference Protocol's inference: one input tensor per
// field (shape [N] or [N, 1]), N records.
func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	m := s.modelFor(w, r)
	if m == nil {
		return
	}
	var req inferRequest
	if !s.readBody(w, r, &req) {
		return
	}
	var bad []predict.FieldError
	n := -1
	seen := map[string]bool{}
	cols := make([][]any, len(req.Inputs))
	for i, t := range req.Inputs {
		where := fmt.Sprintf("inputs[%d]", i)
		if t.Name == "" {
			bad = append(bad, predict.FieldError{Field: where + ".name", Message: "an input needs a name"})
			continue
		}
		where = t.Name
		if seen[t.Name] {
			bad = append(bad, predict.FieldError{Field: where, Message: "input given twice"})
			continue
		}
		seen[t.Name] = true
		if len(t.Shape) == 0 || len(t.Shape) > 2 || (len(t.Shape) == 2 && t.Shape[1] != 1) || t.Shape[0] < 1 {
			bad = append(bad, predict.FieldError{Field: where + ".shape", Message: fmt.Sprintf("want [N] or [N, 1], got %v", t.Shape)})
			continue
		}
		dec := json.NewDecoder(strings.NewReader(string(t.Data)))
		dec.UseNumber()
		var data []any
		if err := dec.Decode(&data); err != nil {
			bad = append(bad, predict.FieldError{Field: where + ".data", Message: "want a flat list of values"})
			continue
		}
		if len(data) != t.Shape[0] {
			bad = append(bad, predict.FieldError{Field: where + ".data", Message: fmt.Sprintf("%d values for shape %v", len(data), t.Shape)})
			continue
		}
		if n >= 0 && t.Shape[0] != n {
			bad = append(bad, predict.FieldError{Field: where + ".shape", Message: fmt.Sprintf("%d rows, other inputs have %d", t.Shape[0], n)})
			continue
		}
		n = t.Shape[0]
		cols[i] = data
	}
	if n < 0 && len(bad) == 0 {
		bad = append(bad, predict.FieldError{Field: "inputs", Message: "no input tensors"})
	}
	if n > s.o.MaxRecords {
		bad = append(bad, predict.FieldError{Field: "inputs", Message: fmt.Sprintf("%d rows: at most %d per request", n, s.o.MaxRecords)})
	}
	id, ferr := requestID(r.Header.Get("X-Request-Id"), req.ID)
	if ferr != nil {
		bad = append(bad, *ferr)
	}
	if len(bad) > 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("%d bad field(s)", len(bad)), Fields: bad})
		return
	}
	prefix := func(i int) string {
		if n == 1 {
			return ""
		}
		return fmt.Sprintf("row[%d].", i)
	}
	recs := make([]predict.Record, n)
	for k := range recs {
		recs[k] = make(predict.Record, len(req.Inputs))
	}
	for i, t := range req.Inputs {
		for k, v := range cols[i] {
			recs[k][t.Name] = value(v)
		}
	}
	if len(bad) > 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("%d bad field(s)", len(bad)), Fields: bad})
		return
	}
	decs := s.decide(w, r, m, id, recs, prefix)
	if decs == nil {
		return
	}
	scores := make([]float64, n)
	outcome := make([]string, n)
	codes := make([]string, n*decisions.MaxReasons)
	texts := make([]string, n*decisions.MaxReasons)
	for i, d := range decs {
		scores[i], outcome[i] = d.Score, d.Decision
		for k, rs := range d.Reasons {
			if k < decisions.MaxReasons {
				codes[i*decisions.MaxReasons+k] = rs.Feature
				texts[i*decisions.MaxReasons+k] = predict.ReasonText(rs)
			}
		}
	}
	rowHashes := make([]string, n)
	for i, d := range decs {
		rowHashes[i] = d.RowHash
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"model_name": m.v.Model, "model_version": strconv.Itoa(m.v.Version), "id": id,
		"parameters": map[string]any{"threshold": m.v.Threshold},
		"outputs": []any{
			map[string]any{"name": "score", "datatype": "FP64", "shape": []int{n}, "data": scores},
			map[string]any{"name": "decision", "datatype": "BYTES", "shape": []int{n}, "data": outcome},
			map[string]any{"name": "reason_codes", "datatype": "BYTES", "shape": []int{n, decisions.MaxReasons}, "data": codes},
			map[string]any{"name": "reason_texts", "datatype": "BYTES", "shape": []int{n, decisions.MaxReasons}, "data": texts},
			map[string]any{"name": "row_hash", "datatype": "BYTES", "shape": []int{n}, "data": rowHashes},
		},
	})
}
