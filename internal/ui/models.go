package ui

import (
	"context"
	"net/http"
	"sort"

	"github.com/mlrun-cli/mlrun/pipeline/governance"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

// modelRow is a model in the list.
type modelRow struct {
	Name      string     `json:"name"`
	Versions  int        `json:"versions"`
	Latest    int        `json:"latest"`
	Aliases   []aliasRow `json:"aliases"`
	Protected []string   `json:"protected,omitempty"`
	Pending   int        `json:"pending_requests"`
	Gates     []string   `json:"gates,omitempty"`
}

type aliasRow struct {
	Alias   string `json:"alias"`
	Version int    `json:"version"`
	// Approvals a move needs (0: not protected), and why, by whom.
	Approvals int    `json:"approvals,omitempty"`
	Reason    string `json:"protection_reason,omitempty"`
	By        string `json:"protected_by,omitempty"`
}

func aliasRows(m *registry.Model) []aliasRow {
	var out []aliasRow
	for _, a := range sortedKeys(m.Aliases) {
		p := m.Protected[a]
		out = append(out, aliasRow{Alias: a, Version: m.Aliases[a], Approvals: p.Approvals, Reason: p.Reason, By: p.Actor})
	}
	// A protected alias no version holds yet.
	for _, a := range sortedKeys(m.Protected) {
		if _, ok := m.Aliases[a]; !ok && m.Protected[a].Approvals > 0 {
			p := m.Protected[a]
			out = append(out, aliasRow{Alias: a, Approvals: p.Approvals, Reason: p.Reason, By: p.Actor})
		}
	}
	return out
}

func pending(m *registry.Model) []registry.Request {
	var out []registry.Request
	for _, q := range m.Requests {
		if q.Status == "pending" {
			out = append(out, q)
		}
	}
	return out
}

func (s *Server) models(ctx context.Context) ([]modelRow, error) {
	ms, err := s.reg.List(ctx)
	if err != nil {
		return nil, err
	}
	rows := []modelRow{}
	for _, m := range ms {
		row := modelRow{Name: m.Name, Versions: len(m.Versions), Latest: m.Latest(), Aliases: aliasRows(m), Pending: len(pending(m)), Gates: m.Gates}
		for _, a := range sortedKeys(m.Protected) {
			row.Protected = append(row.Protected, a)
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, nil
}

func (s *Server) modelsPage(r *http.Request) (*view, error) {
	rows, err := s.models(r.Context())
	if err != nil {
		return nil, err
	}
	return &view{Page: "models", Title: "Models", Nav: "models", Data: rows}, nil
}

func (s *Server) apiModels(r *http.Request) (any, error) { return s.models(r.Context()) }

// modelData is a model's page.
type modelData struct {
	Model    *registry.Model     `json:"model"`
	Versions []*registry.Version `json:"versions"`
	Aliases  []aliasRow          `json:"aliases"`
	Pending  []registry.Request  `json:"pending_requests"`
	Waivers  governance.Waivers  `json:"waivers,omitempty"`
}

// HeadMetric returns a version's metric for the table ("—" when absent).
func (d *modelData) HeadMetric(v *registry.Version, name string) string {
	if x, ok := v.Metrics[name]; ok {
		return num(x)
	}
	return "—"
}

// AliasesOf lists the aliases a version holds.
func (d *modelData) AliasesOf(v int) []string {
	var out []string
	for _, a := range d.Aliases {
		if a.Version == v {
			out = append(out, a.Alias)
		}
	}
	return out
}

func (s *Server) model(ctx context.Context, r *http.Request) (*modelData, error) {
	name, err := validName(r, "name")
	if err != nil {
		return nil, err
	}
	if registry.CheckName(name) != nil {
		return nil, notFound("no model %q", name)
	}
	m, err := s.reg.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	d := &modelData{Model: m, Aliases: aliasRows(m), Pending: pending(m)}
	for _, vr := range m.Versions {
		v, err := s.reg.Version(ctx, m, vr.Version)
		if err != nil {
			return nil, err
		}
		d.Versions = append(d.Versions, v)
	}
	if view, err := s.st.View(ctx); err == nil {
		if ws, err := governance.ListWaivers(ctx, view); err == nil {
			d.Waivers = ws.ForModel(name)
		}
	}
	return d, nil
}

func (s *Server) modelPage(r *http.Request) (*view, error) {
	d, err := s.model(r.Context(), r)
	if err != nil {
		return nil, err
	}
	return &view{Page: "model", Title: "Model " + d.Model.Name, Nav: "models", Data: d}, nil
}

func (s *Server) apiModel(r *http.Request) (any, error) { return s.model(r.Context(), r) }
