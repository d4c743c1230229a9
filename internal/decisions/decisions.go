// Package decisions holds the record of scored decisions: a scored batch
// (records/batches/<id>) and its decision log (an object: every row's hash,
// score, decision and reasons), committed with a "batch.scored" audit entry;
// and the lookup that explains one decision from the records alone, back to
// the model version and its training data. mlrun predict, mlrun serve (whose
// online decisions roll into decision logs the same way), mlrun audit
// explain and mlrun ui share it.
package decisions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
	"github.com/mlrun-cli/mlrun/steps/explain"
)

// Audit type, record namespace and object type of scored batches.
const (
	AuditBatchScored = "batch.scored"
	NS               = "batches"
	LogType          = "decision-log"
	// MaxReasons is the number of reason codes given for an adverse
	// decision.
	MaxReasons = 4
)

// Batch is records/batches/<id>.json: a scored batch (a file scored by
// mlrun predict, or a segment of online decisions of mlrun serve).
type Batch struct {
	ID          string             `json:"id"`
	Time        time.Time          `json:"time"`
	Model       string             `json:"model,omitempty"`
	Version     int                `json:"version,omitempty"`
	Run         string             `json:"run"`
	Step        string             `json:"step"`
	ModelObject lineage.ID         `json:"model_object"`
	Threshold   float64            `json:"threshold"`
	Input       pipeline.FileInfo  `json:"input"`
	Output      pipeline.FileInfo  `json:"output"`
	DecisionLog lineage.ID         `json:"decision_log"`
	Rows        int                `json:"rows"`
	Adverse     int                `json:"adverse"`
	Checks      []pipeline.Check   `json:"checks,omitempty"`
	Baseline    map[string]float64 `json:"baseline,omitempty"`
	Protected   []string           `json:"protected,omitempty"`
	// Source is "predict" (a file; the default) or "serve" (online
	// decisions, Input naming the server).
	Source string `json:"source,omitempty"`
	// First and Last are the times of an online segment's first and last
	// decisions.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// Decision is one row of a decision log.
type Decision struct {
	Row      int              `json:"row"`
	ID       string           `json:"id,omitempty"`
	RowHash  string           `json:"row_hash"`
	Score    float64          `json:"score"`
	Decision string           `json:"decision"`
	Reasons  []explain.Reason `json:"reasons,omitempty"`
	// Request and Time identify an online decision (mlrun serve).
	Request string    `json:"request,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

// Log is the decision log object of a batch.
type Log struct {
	Batch     string     `json:"batch"`
	Model     string     `json:"model,omitempty"`
	Version   int        `json:"version,omitempty"`
	Run       string     `json:"run"`
	Step      string     `json:"step"`
	Input     string     `json:"input_sha256"`
	Threshold float64    `json:"threshold"`
	Decisions []Decision `json:"decisions"`
}

// RowHash is the hex SHA-256 of the canonical JSON of a row's entered
// values: an object of column name to the field as written, keys sorted.
// A CSV row and a JSON record with the same fields as entered hash alike.
func RowHash(header, rec []string) string {
	m := make(map[string]string, len(header))
	for i, h := range header {
		if i < len(rec) {
			m[h] = rec[i]
		}
	}
	return RowHashMap(m)
}

// RowHashMap is RowHash of a row given as column -> value as entered.
func RowHashMap(m map[string]string) string {
	if m == nil {
		s := sha256.Sum256([]byte("null")) // json.Marshal of a nil map
		return hex.EncodeToString(s[:])
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// encoding/json writes a map's keys sorted as strings.Compare orders
	// them.
	sort.Strings(keys)
	b := make([]byte, 0, 32*len(m)+2)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	b = append(b, '}')
	s := sha256.Sum256(b)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], s[:])
	return string(out[:])
}

// appendJSONString appends s as json.Marshal writes it: printable ASCII
// that needs no escape (json.Marshal escapes ", \, <, > and &) as is,
// anything else through json.Marshal itself, so that the bytes hashed are
// always json.Marshal's.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Commit stores a batch's decision log and records the batch (the log
// object, a pin held for the retention period, the batch record and a
// batch.scored audit entry) in one commit, and returns the audit head.
// detail adds to the audit entry's facts. Callers hold the store's
// RunLock.
func Commit(ctx context.Context, st *lineage.Store, b *Batch, dlog *Log, pipelineName string, detail map[string]string) (string, error) {
	logID, _, err := st.PutObject(ctx, LogType, &pipeline.Document{Type: LogType, Value: dlog})
	if err != nil {
		return "", err
	}
	b.DecisionLog = logID
	c, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		pin := &lineage.Pin{Objects: []lineage.ID{logID, b.ModelObject}, Runs: []string{b.Run}, Why: "scored batch " + b.ID,
			Created: b.Time, Expires: true} // kept for the retention period (mlrun gc --retention)
		if err := tx.PutPin(ctx, "batch-"+b.ID, pin); err != nil {
			return err
		}
		if _, err := tx.PutJSON(ctx, NS, b.ID, b); err != nil {
			return err
		}
		d := map[string]string{
			"batch": b.ID, "model": b.Model, "version": strconv.Itoa(b.Version), "model_object": b.ModelObject.String(),
			"input": b.Input.Path, "input_sha256": b.Input.SHA256, "output": b.Output.Path, "output_sha256": b.Output.SHA256,
			"decision_log": logID.String(), "rows": strconv.Itoa(b.Rows), "adverse": strconv.Itoa(b.Adverse),
		}
		for k, v := range detail {
			d[k] = v
		}
		tx.Audit(lineage.AuditEntry{Type: AuditBatchScored, Run: b.Run, Step: b.Step, Pipeline: pipelineName, Detail: d})
		return nil
	})
	if err != nil {
		return "", err
	}
	return c.Head, nil
}

// Query selects decisions: by row hash (a prefix of at least 8 hex
// digits), by batch and 1-based row (Batch "latest": the newest batch), or
// by online request id.
type Query struct {
	RowHash string
	Batch   string
	Row     int
	Request string
}

// Explanation answers a regulator's question about one decision from the
// records alone.
type Explanation struct {
	Decision   Decision            `json:"decision"`
	Batch      *Batch              `json:"batch"`
	ScoredBy   string              `json:"scored_by,omitempty"`
	AuditEntry uint64              `json:"audit_seq,omitempty"`
	AuditHash  string              `json:"audit_hash,omitempty"`
	Version    *registry.Version   `json:"model_version"`
	Data       []pipeline.FileInfo `json:"training_data"`
}

// Check validates a query.
func (q Query) Check() error {
	n := 0
	for _, set := range []bool{q.RowHash != "", q.Batch != "", q.Request != ""} {
		if set {
			n++
		}
	}
	switch {
	case n != 1 || (q.Batch != "" && q.Row < 1):
		return pipeline.Invalidf("give a row hash, a batch and a row (1-based), or a request id")
	case q.RowHash != "" && (len(q.RowHash) < 8 || !isHex(strings.ToLower(q.RowHash))):
		return pipeline.Invalidf("a row hash needs at least 8 hex digits, got %q", q.RowHash)
	}
	return nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// ErrNoDecision is the error of Explain when no recorded decision matches
// (errors.Is; exit code 2).
var ErrNoDecision = errors.New("no scored decision matches")

// Explain finds the decisions q selects and explains each: its batch, the
// audit entry that recorded the batch, the model version (from the
// registry, or described from the run for a model scored by run and step)
// and its training data. No match is an error with exit code 2.
func Explain(ctx context.Context, st *lineage.Store, reg *registry.Registry, q Query) ([]*Explanation, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	q.RowHash = strings.ToLower(q.RowHash)
	exps, err := Find(ctx, st, q)
	if err != nil {
		return nil, err
	}
	if len(exps) == 0 {
		return nil, pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("%w (searched every recorded batch)", ErrNoDecision))
	}
	entries, hashes, err := st.AuditLog(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range exps {
		for i, en := range entries {
			if en.Type == AuditBatchScored && en.Detail["batch"] == e.Batch.ID {
				e.ScoredBy, e.AuditEntry, e.AuditHash = en.User+"@"+en.Host, en.Seq, hashes[i]
				if en.Actor != "" {
					e.ScoredBy = en.Actor
				}
			}
		}
		if e.Batch.Model != "" && e.Batch.Version > 0 {
			if _, e.Version, err = reg.Resolve(ctx, fmt.Sprintf("%s@%d", e.Batch.Model, e.Batch.Version)); err != nil {
				return nil, err
			}
		} else {
			run, err := st.GetRun(ctx, e.Batch.Run)
			if err != nil {
				return nil, fmt.Errorf("run %s of batch %s: %w", e.Batch.Run, e.Batch.ID, err)
			}
			if e.Version, err = registry.Describe(run, e.Batch.Step); err != nil {
				return nil, err
			}
		}
		e.Data = e.Version.TrainingData
	}
	return exps, nil
}

// Find scans the recorded batches for the decisions q selects (no
// explanation beyond the decision and its batch).
func Find(ctx context.Context, st *lineage.Store, q Query) ([]*Explanation, error) {
	view, err := st.View(ctx)
	if err != nil {
		return nil, err
	}
	names, err := view.List(ctx, NS)
	if err != nil {
		return nil, err
	}
	batchID := q.Batch
	if batchID == "latest" {
		// Ids have one-second resolution: pick by recorded time.
		var newest time.Time
		for _, name := range names {
			var br Batch
			if err := view.GetJSON(ctx, NS, name, &br); err != nil {
				return nil, fmt.Errorf("batch record %s: %w", name, err)
			}
			if !br.Time.Before(newest) {
				newest, batchID = br.Time, name
			}
		}
	}
	var out []*Explanation
	var expired []string
	for _, name := range names {
		if batchID != "" && name != batchID {
			continue
		}
		var br Batch
		if err := view.GetJSON(ctx, NS, name, &br); err != nil {
			return nil, fmt.Errorf("batch record %s: %w", name, err)
		}
		raw, err := st.GetObject(ctx, br.DecisionLog)
		if errors.Is(err, lineage.ErrNotFound) {
			if _, perr := view.RecordID(ctx, "pins", "batch-"+name); errors.Is(perr, lineage.ErrNotFound) {
				expired = append(expired, name) // released by gc after the retention period
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("decision log of batch %s: %w", name, err)
		}
		var dl Log
		if err := json.Unmarshal(raw, &dl); err != nil {
			return nil, fmt.Errorf("decision log of batch %s: %w", name, err)
		}
		for _, d := range dl.Decisions {
			if (q.RowHash != "" && strings.HasPrefix(d.RowHash, q.RowHash)) || (batchID != "" && d.Row == q.Row) ||
				(q.Request != "" && d.Request == q.Request) {
				brc := br
				out = append(out, &Explanation{Decision: d, Batch: &brc})
			}
		}
	}
	if q.RowHash != "" {
		seen := map[string]bool{}
		for _, e := range out {
			seen[e.Decision.RowHash] = true
		}
		if len(seen) > 1 {
			return nil, pipeline.Invalidf("row hash prefix %q is ambiguous: %d different rows match", q.RowHash, len(seen))
		}
	}
	if len(out) == 0 && len(expired) > 0 {
		return nil, pipeline.Invalidf("no scored decision matches; the decision logs of %d batch(es) were removed by gc after the retention period (%s): their batch records and audit entries remain",
			len(expired), strings.Join(expired, ", "))
	}
	return out, nil
}
