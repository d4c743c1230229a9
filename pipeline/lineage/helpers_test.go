package lineage_test

import (
	"context"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// putRun commits a run record.
func putRun(ctx context.Context, s *lineage.Store, r *lineage.RunRecord) error {
	_, err := s.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		_, err := tx.PutRun(ctx, r)
		typ := lineage.AuditRunUpdated
		switch r.Status {
		case lineage.RunOK, lineage.RunFailed, lineage.RunCheckFailed:
			typ = lineage.AuditRunFinished
		case lineage.RunInterrupted:
			typ = lineage.AuditRunInterrupted
		}
		tx.Audit(lineage.AuditEntry{Type: typ, Run: r.ID})
		return err
	})
	return err
}

// putCache commits a cache entry.
func putCache(ctx context.Context, s *lineage.Store, e *lineage.CacheEntry) error {
	_, err := s.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		_, err := tx.PutCache(ctx, e)
		return err
	})
	return err
}

// putPin commits a pin.
func putPin(ctx context.Context, s *lineage.Store, name string, p *lineage.Pin) error {
	_, err := s.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		return tx.PutPin(ctx, name, p)
	})
	return err
}
