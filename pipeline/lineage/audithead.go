package lineage

import (
	"context"
	"strings"
)

// AuditContains reports whether an entry with the given hash is in the
// audit log (the ZeroHash, the head of an empty log, always is). Checked
// against a head recorded elsewhere, it catches what VerifyAudit alone
// cannot: a tail removed or rewritten consistently, with a head record to
// match.
func (s *Store) AuditContains(ctx context.Context, hash string) (bool, error) {
	if strings.EqualFold(hash, ZeroHash) {
		return true, nil
	}
	_, hashes, err := s.AuditLog(ctx)
	if err != nil {
		return false, err
	}
	for _, h := range hashes {
		if strings.EqualFold(h, hash) {
			return true, nil
		}
	}
	return false, nil
}
