package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mlrun-cli/mlrun/internal/runquery"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Page sizes of the run list.
const (
	defaultPerPage = 50
	maxPerPage     = 500
)

// runsQuery is a run list request: the query and its page.
type runsQuery struct {
	runquery.Query
	Page, Per int
}

// parseRunsQuery reads where, sort, pipeline, status, page and per.
func parseRunsQuery(r *http.Request) (runsQuery, error) {
	q := r.URL.Query()
	rq := runsQuery{Query: runquery.Query{
		Where: strings.TrimSpace(q.Get("where")), Sort: strings.TrimSpace(q.Get("sort")),
		Pipeline: q.Get("pipeline"), Status: q.Get("status"),
	}, Page: 1, Per: defaultPerPage}
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &rq.Page, 1 << 30}, {"per", &rq.Per, maxPerPage}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > p.max {
				return rq, badRequest("%s must be a whole number from 1 to %d, not %q", p.name, p.max, v)
			}
			*p.dst = n
		}
	}
	rq.Offset, rq.Limit = (rq.Page-1)*rq.Per, rq.Per
	return rq, nil
}

// listRuns answers a run list request from the index.
func (s *Server) listRuns(ctx context.Context, rq runsQuery) (*runquery.Snapshot, *runquery.Result, error) {
	snap, err := s.index.Snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := snap.Query(rq.Query)
	var fe *runquery.FieldError
	if errors.As(err, &fe) {
		return snap, nil, badRequest("%s: %v", fe.Field, fe.Err)
	}
	return snap, res, err
}

// runsData is the runs page.
type runsData struct {
	Q         runsQuery
	Error     string
	Runs      []*runquery.Summary
	Total     int
	All       int
	From, To  int
	Prev      string
	Next      string
	Pipelines []string
	Metrics   []string
	Statuses  []string
	// SortMetric is the metric sorted by, shown as a column.
	SortMetric string
	// Sorts are links to the common orders, the filters kept.
	Sorts []sortLink
}

// sortLink is a link to the run list in another order.
type sortLink struct {
	Label, URL string
	Current    bool
}

// Value returns the sort metric of a run, for its column.
func (d *runsData) Value(r *runquery.Summary) string {
	v, ok := r.Metrics[d.SortMetric]
	if !ok {
		return "—"
	}
	return num(v)
}

func (s *Server) runsPage(r *http.Request) (*view, error) {
	rq, err := parseRunsQuery(r)
	if err != nil {
		return nil, err
	}
	snap, res, err := s.listRuns(r.Context(), rq)
	d := &runsData{Q: rq, Statuses: []string{lineage.RunOK, lineage.RunCheckFailed, lineage.RunFailed, lineage.RunInterrupted, lineage.RunRunning}}
	v := &view{Page: "runs", Title: "Runs", Nav: "runs", Data: d}
	var he *httpError
	switch {
	case errors.As(err, &he) && he.code == http.StatusBadRequest:
		d.Error, v.Status = he.msg, he.code
	case err != nil:
		return nil, err
	default:
		d.Runs, d.Total = res.Runs, res.Total
	}
	if snap != nil {
		d.All, d.Pipelines, d.Metrics = snap.Len(), snap.Pipelines(), snap.MetricNames()
	}
	if name := strings.TrimLeft(rq.Sort, "-+"); name != "" && name != "time" {
		d.SortMetric = name
	}
	if len(d.Runs) > 0 {
		d.From, d.To = rq.Offset+1, rq.Offset+len(d.Runs)
	}
	link := func(sortKey string, n int) string {
		q := url.Values{}
		for k, v := range map[string]string{"where": rq.Where, "sort": sortKey, "pipeline": rq.Pipeline, "status": rq.Status} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if rq.Per != defaultPerPage {
			q.Set("per", strconv.Itoa(rq.Per))
		}
		if n > 1 {
			q.Set("page", strconv.Itoa(n))
		}
		return "/runs?" + q.Encode()
	}
	page := func(n int) string { return link(rq.Sort, n) }
	known := map[string]bool{}
	for _, m := range d.Metrics {
		known[m] = true
	}
	for _, o := range []struct{ key, label string }{{"", "newest"}, {"+time", "oldest"}, {"-auc", "auc ↓"}, {"-gini", "gini ↓"}, {"-ks", "ks ↓"}, {"-f1", "f1 ↓"}} {
		if name := strings.TrimLeft(o.key, "-+"); name != "" && name != "time" && !known[name] {
			continue
		}
		cur := rq.Sort == o.key || (o.key == "" && (rq.Sort == "time" || rq.Sort == "-time"))
		d.Sorts = append(d.Sorts, sortLink{o.label, link(o.key, 1), cur})
	}
	if rq.Page > 1 && d.Total > 0 {
		d.Prev = page(rq.Page - 1)
	}
	if rq.Offset+len(d.Runs) < d.Total {
		d.Next = page(rq.Page + 1)
	}
	return v, nil
}

// apiRuns is GET /api/runs: the same query as the page.
func (s *Server) apiRuns(r *http.Request) (any, error) {
	rq, err := parseRunsQuery(r)
	if err != nil {
		return nil, err
	}
	snap, res, err := s.listRuns(r.Context(), rq)
	if err != nil {
		return nil, err
	}
	return struct {
		*runquery.Result
		Page   int    `json:"page"`
		Per    int    `json:"per"`
		Commit uint64 `json:"commit"`
	}{res, rq.Page, rq.Per, snap.Commit}, nil
}
