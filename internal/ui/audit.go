package ui

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/internal/serve"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// auditData is the audit log at one head, with its verification.
type auditData struct {
	Entries []lineage.AuditEntry
	Hashes  []string
	Verify  *lineage.AuditReport
	Types   []string
}

// auditLog reads and verifies the audit chain, cached by its head (a new
// commit gives a new head).
func (s *Server) auditLog(ctx context.Context) (*auditData, error) {
	head, _, err := s.st.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	return s.audit.get(head, func() (*auditData, error) {
		rep, err := s.st.VerifyAudit(ctx)
		if err != nil {
			return nil, err
		}
		entries, hashes, err := s.st.AuditLog(ctx)
		if err != nil {
			return nil, err
		}
		types := map[string]bool{}
		for _, e := range entries {
			types[e.Type] = true
		}
		return &auditData{Entries: entries, Hashes: hashes, Verify: rep, Types: sortedKeys(types)}, nil
	})
}

// auditRow is an entry with its hash.
type auditRow struct {
	lineage.AuditEntry
	Hash string `json:"hash"`
}

// Details returns the entry's details, sorted by key.
func (r auditRow) Details() [][2]string {
	var out [][2]string
	for _, k := range sortedKeys(r.Detail) {
		out = append(out, [2]string{k, r.Detail[k]})
	}
	return out
}

// auditPageData is the audit page.
type auditPageData struct {
	Verify  *lineage.AuditReport `json:"verify"`
	Run     string               `json:"-"`
	Model   string               `json:"-"`
	Type    string               `json:"-"`
	Types   []string             `json:"-"`
	Total   int                  `json:"total"`
	Entries []auditRow           `json:"entries"`
	Prev    string               `json:"-"`
	Next    string               `json:"-"`
}

// auditPerPage is the page size of the audit entries.
const auditPerPage = 100

// auditQuery filters the entries, newest first, as `mlrun audit log`
// does: by run (id or prefix), model, type (or type prefix: "run").
func (s *Server) auditQuery(r *http.Request) (*auditPageData, error) {
	q := r.URL.Query()
	page := 1
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, badRequest("page must be a whole number from 1, not %q", v)
		}
		page = n
	}
	a, err := s.auditLog(r.Context())
	if err != nil {
		return nil, err
	}
	d := &auditPageData{Verify: a.Verify, Run: q.Get("run"), Model: q.Get("model"), Type: q.Get("type"), Types: a.Types, Entries: []auditRow{}}
	var rows []auditRow
	for i := len(a.Entries) - 1; i >= 0; i-- {
		e := a.Entries[i]
		if d.Run != "" && !strings.HasPrefix(e.Run, d.Run) {
			continue
		}
		if d.Type != "" && e.Type != d.Type && !strings.HasPrefix(e.Type, d.Type+".") {
			continue
		}
		if d.Model != "" && e.Detail["model"] != d.Model {
			continue
		}
		rows = append(rows, auditRow{e, a.Hashes[i]})
	}
	d.Total = len(rows)
	lo := min((page-1)*auditPerPage, len(rows))
	hi := min(lo+auditPerPage, len(rows))
	d.Entries = append(d.Entries, rows[lo:hi]...)
	link := func(p int) string {
		v := url.Values{}
		for k, x := range map[string]string{"run": d.Run, "model": d.Model, "type": d.Type} {
			if x != "" {
				v.Set(k, x)
			}
		}
		v.Set("page", strconv.Itoa(p))
		return "/audit?" + v.Encode()
	}
	if page > 1 && lo > 0 {
		d.Prev = link(page - 1)
	}
	if hi < len(rows) {
		d.Next = link(page + 1)
	}
	return d, nil
}

func (s *Server) auditPage(r *http.Request) (*view, error) {
	d, err := s.auditQuery(r)
	if err != nil {
		return nil, err
	}
	return &view{Page: "audit", Title: "Audit log", Nav: "audit", Data: d}, nil
}

func (s *Server) apiAudit(r *http.Request) (any, error) { return s.auditQuery(r) }

// explainData is the decision lookup page.
type explainData struct {
	Batch, Row, Hash, Request string
	Asked                     bool
	Error                     string
	Results                   []*decisions.Explanation
	// Pending are decisions of mlrun serve found in the store's decision
	// journal, not yet committed into the store.
	Pending []serve.Pending
	Batches []string
}

// explainQuery reads a decision lookup: batch and row, a row hash, or a
// request id (as mlrun audit explain).
func explainQuery(r *http.Request) (decisions.Query, *explainData, error) {
	q := r.URL.Query()
	d := &explainData{Batch: strings.TrimSpace(q.Get("batch")), Row: strings.TrimSpace(q.Get("row")), Hash: strings.TrimSpace(q.Get("hash")), Request: strings.TrimSpace(q.Get("request"))}
	dq := decisions.Query{Batch: d.Batch, RowHash: d.Hash, Request: d.Request}
	d.Asked = d.Batch != "" || d.Hash != "" || d.Request != "" || d.Row != ""
	if d.Row != "" {
		n, err := strconv.Atoi(d.Row)
		if err != nil {
			return dq, d, badRequest("row must be a whole number (1-based), not %q", d.Row)
		}
		dq.Row = n
	}
	if d.Asked {
		if err := dq.Check(); err != nil {
			return dq, d, badRequest("%v", err)
		}
	}
	return dq, d, nil
}

// explain looks a decision up in the store, and then, for a local store,
// in the decision journal of mlrun serve (a decision whose segment has
// not rolled yet: pending).
func (s *Server) explain(ctx context.Context, dq decisions.Query) ([]*decisions.Explanation, []serve.Pending, error) {
	exps, pending, err := serve.Explain(ctx, s.st, s.reg, dq, "")
	if err != nil {
		if status(err) == http.StatusBadRequest {
			return nil, nil, notFound("%v", err)
		}
		return nil, nil, err
	}
	return exps, pending, nil
}

func (s *Server) explainPage(r *http.Request) (*view, error) {
	ctx := r.Context()
	dq, d, err := explainQuery(r)
	v := &view{Page: "explain", Title: "Decision lookup", Nav: "explain", Data: d}
	if err == nil && d.Asked {
		d.Results, d.Pending, err = s.explain(ctx, dq)
	}
	if err != nil {
		code := status(err)
		if code == http.StatusInternalServerError {
			return nil, err
		}
		d.Error, v.Status = err.Error(), code
	}
	if view, err := s.st.View(ctx); err == nil {
		if names, err := view.List(ctx, decisions.NS); err == nil {
			sort.Sort(sort.Reverse(sort.StringSlice(names)))
			d.Batches = names[:min(len(names), 20)]
		}
	}
	return v, nil
}

func (s *Server) apiExplain(r *http.Request) (any, error) {
	dq, d, err := explainQuery(r)
	if err != nil {
		return nil, err
	}
	if !d.Asked {
		return nil, badRequest("give batch and row, hash, or request")
	}
	exps, pending, err := s.explain(r.Context(), dq)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		return map[string]any{"pending": pending}, nil
	}
	return exps, nil
}
