package lineage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A run holds the lock "run-<id>" exclusively from before it commits its
// start until it has committed its outcome; the kernel drops the lock when
// the process dies. A run recorded as running whose lock can be taken is
// therefore interrupted: its process died. No timeout is involved, so a
// run that lasts a day is never mistaken for a dead one.

func runLockName(id string) string { return "run-" + id }

// LockRemover is implemented by backends whose locks are files that can be
// removed once nobody needs them (Local).
type LockRemover interface {
	RemoveLock(name string) error
}

// LockRun takes the liveness lock of run id (see RecoverInterrupted) and
// returns its release, which also removes the lock file.
func (s *Store) LockRun(ctx context.Context, id string) (func(), error) {
	if err := ValidateName(runLockName(id)); err != nil {
		return nil, fmt.Errorf("run lock: %w", err)
	}
	now, cancel := context.WithCancel(ctx)
	cancel()
	unlock, err := s.b.Lock(now, runLockName(id), true)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	return func() {
		_ = unlock()
		if lr, ok := s.b.(LockRemover); ok {
			_ = lr.RemoveLock(runLockName(id))
		}
	}, nil
}

// LivenessProber is implemented by backends that can tell whether a lock
// is held without taking it (an S3 backend: by listing its leases, so that
// readers with read-only access can tell).
type LivenessProber interface {
	Held(ctx context.Context, name string) (bool, error)
}

// runAlive reports whether the process of run id still holds its lock.
// When that cannot be told, the run is taken as alive.
func (s *Store) runAlive(ctx context.Context, id string) bool {
	if ValidateName(runLockName(id)) != nil {
		return true
	}
	if p, ok := s.b.(LivenessProber); ok {
		held, err := p.Held(ctx, runLockName(id))
		return held || err != nil
	}
	now, cancel := context.WithCancel(ctx)
	cancel()
	unlock, err := s.b.Lock(now, runLockName(id), false)
	if err != nil {
		return true
	}
	_ = unlock()
	return false
}

// interruptedError is the error recorded on an interrupted run.
const interruptedError = "interrupted: the process running it died before it finished"

// deriveInterrupted shows a run whose process died as interrupted, until a
// command that writes records it so (RecoverInterrupted).
func (s *Store) deriveInterrupted(ctx context.Context, r *RunRecord) {
	if r.Status != RunRunning || s.runAlive(ctx, r.ID) {
		return
	}
	r.Status, r.ExitCode = RunInterrupted, 3
	r.Error = interruptedError + " (not yet recorded: the next mlrun command that writes to the store records it)"
}

// RecoverInterrupted records as interrupted every run in progress whose
// process died (see LockRun): its record gets status "interrupted" and the
// audit log a "run.interrupted" entry. It returns their ids. Commands that
// open the store for writing call it first; on a read-only store it does
// nothing (readers see such runs as interrupted all the same).
func (s *Store) RecoverInterrupted(ctx context.Context) ([]string, error) {
	if s.readOnly {
		return nil, nil
	}
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	active, err := v.Entries(ctx, nsActive)
	if err != nil || len(active) == 0 {
		return nil, err
	}
	var out []string
	for _, id := range sortedKeys(active) {
		release, err := s.LockRun(ctx, id)
		if errors.Is(err, ErrLocked) {
			continue // alive
		}
		if err != nil {
			return out, err
		}
		recorded := false
		_, err = s.Update(ctx, func(ctx context.Context, tx *Tx) error {
			recorded = false
			if _, err := tx.RecordID(ctx, nsActive, id); errors.Is(err, ErrNotFound) {
				return nil // finished meanwhile
			}
			tx.ClearActive(ctx, id)
			r, err := tx.GetRun(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if r.Status != RunRunning {
				return nil
			}
			r.Status, r.ExitCode, r.Error = RunInterrupted, 3, interruptedError
			r.End = s.now().UTC()
			if _, err := tx.PutRun(ctx, r); err != nil {
				return err
			}
			done := 0
			for _, st := range r.Steps {
				if st.Status != StepSkipped {
					done++
				}
			}
			who, host := s.whoami()
			tx.Audit(AuditEntry{Type: AuditRunInterrupted, Run: id, Pipeline: r.Pipeline, Detail: map[string]string{
				"status": RunInterrupted, "steps_recorded": fmt.Sprint(done), "started": r.Start.Format(time.RFC3339Nano),
				"detected_by": who + "@" + host,
			}})
			recorded = true
			return nil
		})
		release()
		if recorded {
			out = append(out, id)
		}
		if err != nil {
			return out, fmt.Errorf("record interrupted run %s: %w", id, err)
		}
	}
	return out, nil
}

// ActiveRuns returns the ids of the runs in progress (or interrupted and not
// yet recorded so).
func (v *View) ActiveRuns(ctx context.Context) ([]string, error) { return v.List(ctx, nsActive) }
