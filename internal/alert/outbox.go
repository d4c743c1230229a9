package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// The outbox: every alert is committed to the store's state (namespace
// "alerts", one record per alert and sink) before its first delivery
// attempt, so a process killed while it waits between retries loses
// nothing; the next mlrun command delivers it. Delivery holds the store's
// "alerts" lock, so one process delivers a given alert at a time, re-reads
// the record under the lock (an alert another process delivered meanwhile
// is not sent again), and commits the outcome: the record removed with an
// "alert.delivered" entry, recorded once, or its attempts and last error
// kept with "alert.undelivered". Each delivery carries the entry's stable
// id (an Idempotency-Key header for webhooks, the "delivery" field of a
// file line), so a receiver can drop the duplicate of a delivery whose
// outcome a killed process could not record.

// NS is the record namespace of the outbox.
const NS = "alerts"

// Audit event types of the outbox.
const (
	AuditQueued      = "alert.queued"
	AuditDelivered   = "alert.delivered"
	AuditUndelivered = "alert.undelivered"
)

const lockOutbox = "alerts"

// Pending is an alert waiting in the outbox for one sink.
type Pending struct {
	// Key is the entry's stable id: the hex SHA-256 of the alert's id and
	// the sink, its record name and idempotency key.
	Key      string `json:"key,omitempty"`
	Sink     Sink   `json:"sink"`
	Alert    *Alert `json:"alert"`
	Attempts int    `json:"attempts"`
	// LastError is the last attempt's failure ("" before any).
	LastError string    `json:"last_error"`
	Since     time.Time `json:"since"`
}

// EntryKey returns the stable id of an alert at a sink.
func EntryKey(a *Alert, s Sink) string {
	b, _ := json.Marshal(s)
	sum := sha256.Sum256([]byte(a.ID + "\x00" + string(b)))
	return hex.EncodeToString(sum[:])
}

// Queue stages the alert for each sink in a transaction (committed with
// the caller's other records), with an "alert.queued" entry each.
func Queue(ctx context.Context, tx *lineage.Tx, a *Alert, sinks []Sink, now time.Time) ([]string, error) {
	var keys []string
	for _, s := range sinks {
		p := &Pending{Key: EntryKey(a, s), Sink: s, Alert: a, Since: now.UTC()}
		if _, err := tx.RecordID(ctx, NS, p.Key); err == nil {
			keys = append(keys, p.Key) // already queued (a retried commit)
			continue
		}
		if _, err := tx.PutJSON(ctx, NS, p.Key, p); err != nil {
			return nil, fmt.Errorf("queue alert: %w", err)
		}
		tx.Audit(lineage.AuditEntry{Type: AuditQueued, Run: a.Run, Step: a.Step,
			Detail: map[string]string{"alert": a.ID, "delivery": p.Key, "sink": s.Name(), "severity": a.Severity}})
		keys = append(keys, p.Key)
	}
	return keys, nil
}

// Outcome is what became of one outbox entry in Flush.
type Outcome struct {
	Key       string
	Alert     *Alert
	Sink      Sink
	Delivered bool
	// Attempts counts every attempt made so far, over all flushes.
	Attempts int
	Err      error
}

// FlushOptions configure Flush.
type FlushOptions struct {
	// Backoff is the first wait between webhook attempts (0: DefaultBackoff).
	Backoff time.Duration
	// Guard refuses file sinks whose path lies inside the store.
	Guard FileGuard
	// LockWait bounds the wait for another process's flush (0: a minute).
	LockWait time.Duration
}

// FileGuard writes alert lines to a file sink (internal/outpath's Guard);
// nil appends without checks.
type FileGuard interface {
	AppendFile(path string, data []byte) error
}

// Flush delivers every alert of the outbox, oldest first, under the
// store's "alerts" lock, and commits each outcome. It returns the outcomes
// of the entries it tried; a failed delivery is an Outcome, never an error
// (errors are the store's).
func Flush(ctx context.Context, st *lineage.Store, opts FlushOptions) ([]Outcome, error) {
	if st.ReadOnly() {
		return nil, nil
	}
	v, err := st.View(ctx)
	if err != nil {
		return nil, err
	}
	if names, err := v.List(ctx, NS); err != nil || len(names) == 0 {
		return nil, err
	}
	wait := opts.LockWait
	if wait <= 0 {
		wait = time.Minute
	}
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	unlock, err := st.Backend().Lock(lctx, lockOutbox, true)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer unlock()
	// Re-read under the lock: what another process delivered is gone.
	if v, err = st.View(ctx); err != nil {
		return nil, err
	}
	pending, err := readOutbox(ctx, v)
	if err != nil {
		return nil, err
	}
	var out []Outcome
	for _, p := range pending {
		n, derr := p.Sink.deliver(ctx, p.Alert, deliverOptions{backoff: opts.Backoff, key: p.Key, guard: opts.Guard})
		p.Attempts += n
		o := Outcome{Key: p.Key, Alert: p.Alert, Sink: p.Sink, Delivered: derr == nil, Attempts: p.Attempts, Err: derr}
		_, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
			if _, err := tx.RecordID(ctx, NS, p.Name); err != nil {
				return nil // delivered and removed by another process meanwhile
			}
			d := map[string]string{"alert": p.Alert.ID, "delivery": p.Key, "sink": p.Sink.Name(),
				"attempts": strconv.Itoa(p.Attempts), "queued": p.Since.Format(time.RFC3339)}
			if derr == nil {
				tx.Delete(ctx, NS, p.Name)
				tx.Audit(lineage.AuditEntry{Type: AuditDelivered, Run: p.Alert.Run, Step: p.Alert.Step, Detail: d})
				return nil
			}
			p.LastError = derr.Error()
			d["error"] = derr.Error()
			if _, err := tx.PutJSON(ctx, NS, p.Name, &p.Pending); err != nil {
				return err
			}
			tx.Audit(lineage.AuditEntry{Type: AuditUndelivered, Run: p.Alert.Run, Step: p.Alert.Step, Detail: d})
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("alerts: record the delivery of %s: %w", p.Alert.ID, err)
		}
		out = append(out, o)
	}
	return out, nil
}

type namedPending struct {
	Pending
	Name string
}

// readOutbox returns the outbox's entries, oldest first. An entry written
// by an older mlrun has no Key: its record name stands in.
func readOutbox(ctx context.Context, v *lineage.View) ([]*namedPending, error) {
	names, err := v.List(ctx, NS)
	if err != nil {
		return nil, err
	}
	var out []*namedPending
	for _, name := range names {
		var p namedPending
		if err := v.GetJSON(ctx, NS, name, &p.Pending); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		if p.Alert == nil {
			return nil, fmt.Errorf("alerts: record %s holds no alert", name)
		}
		p.Name = name
		if p.Key == "" {
			p.Key = name
		}
		out = append(out, &p)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}

// Queued returns the outbox's entries, oldest first.
func Queued(ctx context.Context, v *lineage.View) ([]Pending, error) {
	ps, err := readOutbox(ctx, v)
	if err != nil {
		return nil, err
	}
	out := make([]Pending, len(ps))
	for i, p := range ps {
		out[i] = p.Pending
	}
	return out, nil
}
