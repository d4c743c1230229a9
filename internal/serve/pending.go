package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

// Pending is a decision found in a segment of a decision journal that is
// not yet committed into the store: durable (it was fsynced before its
// answer), but not yet in a decision log nor the audit chain. It gets
// there when its segment rolls, or when a server next starts on the
// store (Recover).
type Pending struct {
	// Segment is the segment file's path, Header its header.
	Segment  string             `json:"segment"`
	Header   *Segment           `json:"header"`
	Decision decisions.Decision `json:"decision"`
}

// FindPending looks for the decisions matching q (by request id or row
// hash prefix; a batch query finds a segment's batch id and row) in the
// segments of journal directory dir. A missing directory holds nothing;
// a segment that cannot be read is an error naming it.
func FindPending(dir string, q decisions.Query) ([]Pending, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("decision journal: %w", err)
	}
	hash := strings.ToLower(q.RowHash)
	var out []Pending
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), journalExt) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		seg, decs, _, _, err := ReadSegment(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // committed and removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("decision journal segment %s: %w", path, err)
		}
		for _, d := range decs {
			switch {
			case q.Request != "" && d.Request == q.Request,
				hash != "" && strings.HasPrefix(d.RowHash, hash),
				q.Batch != "" && q.Batch == seg.Batch && q.Row == d.Row:
				out = append(out, Pending{Segment: path, Header: seg, Decision: d})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Decision.Time.Before(out[j].Decision.Time) })
	return out, nil
}

// JournalDir is the decision journal of a local store (STORE/journal),
// or "" for a store that is not a local directory (mlrun serve then needs
// --journal).
func JournalDir(st *lineage.Store) string {
	if st.Dir() == "" {
		return ""
	}
	return filepath.Join(st.Dir(), "journal")
}

// Explain explains the recorded decisions matching q (decisions.Explain)
// and, when none is recorded, looks in the decision journal journal ("":
// JournalDir of st) for decisions of mlrun serve whose segment is not
// committed yet. It returns the explanations or the pending decisions;
// with neither, decisions.Explain's error (decisions.ErrNoDecision).
func Explain(ctx context.Context, st *lineage.Store, reg *registry.Registry, q decisions.Query, journal string) ([]*decisions.Explanation, []Pending, error) {
	exps, err := decisions.Explain(ctx, st, reg, q)
	if !errors.Is(err, decisions.ErrNoDecision) {
		return exps, nil, err
	}
	if journal == "" {
		journal = JournalDir(st)
	}
	if journal == "" {
		return nil, nil, err
	}
	pending, perr := FindPending(journal, q)
	if perr != nil {
		return nil, nil, errors.Join(err, perr)
	}
	if len(pending) == 0 {
		return nil, nil, err
	}
	return nil, pending, nil
}
