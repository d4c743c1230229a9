package lineage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// legacyRecordNS are the namespaces of mutable record files in a layout
// version 1 store, imported into the state tree by the upgrade.
var legacyRecordNS = []string{"runs", "cache", "lastkey", "pins", "models", "batches", "monitor", "alerts"}

// legacyMemoNS are the memo namespaces of a layout version 1 store; they
// are dropped by the upgrade (memos now live outside the store).
var legacyMemoNS = []string{"verified", "fingerprints", "memos"}

// upgrade imports the records of a layout version 1 store into the state
// tree, in one commit ("store.upgraded", which declares every record like
// any commit). Layout 1 records were mutable files outside the chain: the
// upgrade takes them as they are, and from then on they are bound to it.
// An upgrade interrupted before the version file is rewritten is done
// again; the same records give the same state.
func (s *Store) upgrade(ctx context.Context) error {
	s.upgrading = true
	defer func() { s.upgrading = false }()
	_, err := s.Update(ctx, func(ctx context.Context, tx *Tx) error {
		detail := map[string]string{"from_layout": "1", "to_layout": fmt.Sprint(StoreVersion)}
		for _, ns := range legacyRecordNS {
			names, err := s.b.ListRecords(ctx, ns)
			if err != nil {
				return err
			}
			for _, name := range names {
				data, err := s.b.GetRecord(ctx, ns, name)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if _, err := tx.Put(ctx, ns, name, data); err != nil {
					return err
				}
			}
			if len(names) > 0 {
				detail["records."+ns] = fmt.Sprint(len(names))
			}
		}
		tx.Audit(AuditEntry{Type: AuditStoreUpgraded, Detail: detail})
		return nil
	})
	return err
}

// removeLegacy removes the record files of layout 1 once the upgrade is
// committed and the version file says 2. Failures leave stray files that
// nothing reads.
func (s *Store) removeLegacy(ctx context.Context) {
	for _, ns := range append(append([]string{}, legacyRecordNS...), legacyMemoNS...) {
		if l, ok := s.b.(*Local); ok {
			_ = os.RemoveAll(filepath.Join(l.dir, "records", ns))
			continue
		}
		names, err := s.b.ListRecords(ctx, ns)
		if err != nil {
			continue
		}
		for _, name := range names {
			_ = s.b.DeleteRecord(ctx, ns, name)
		}
	}
}
