package lineage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// CopyReport is the outcome of Copy.
type CopyReport struct {
	// Objects and Bytes count the objects copied; Present those the
	// destination already held.
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Present int   `json:"present"`
	// Commits counts the audit commits copied; CommitsPresent those the
	// destination already held (the same bytes).
	Commits        int `json:"commits"`
	CommitsPresent int `json:"commits_present"`
	// Head is the audit head both stores have after the copy.
	Head string `json:"head"`
	// Source and Dest are the verify reports of both ends.
	Source *VerifyReport `json:"source"`
	Dest   *VerifyReport `json:"dest"`
}

// CopyOptions configure Copy.
type CopyOptions struct {
	// Verify configures the verification of both ends.
	Verify VerifyOptions
	// Progress, when not nil, is called as objects are copied.
	Progress func(done, total int)
}

// ErrDiverged reports a destination whose audit chain is not a prefix of
// the source's.
var ErrDiverged = errors.New("the stores' audit chains diverge")

// Copy copies the store src into dst (local to S3, S3 to local, any two
// backends): every object, then every audit commit, byte for byte, so the
// chain, the state and every head printed before stay valid. Both ends
// are verified: src before (a damaged store is not copied), dst after. It
// is resumable: objects dst holds are skipped, and commits dst holds must
// be the source's own (otherwise the chains diverged: ErrDiverged); a copy
// interrupted anywhere leaves dst a valid store at some commit of the
// source's, since commits are copied after the objects they name, in
// order.
func Copy(ctx context.Context, src, dst *Store, opts CopyOptions) (*CopyReport, error) {
	progress := opts.Progress
	rep := &CopyReport{}
	arep, err := src.VerifyAudit(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	if !arep.OK() {
		return nil, fmt.Errorf("copy: the source's audit chain is broken (%s): not copied", arep.Problems[0])
	}
	if rep.Source, err = src.Verify(ctx, opts.Verify); err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	if !rep.Source.OK() {
		return rep, fmt.Errorf("copy: the source store is damaged (see mlrun verify): not copied")
	}
	st, err := src.readTip(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	dt, err := dst.readTip(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy: destination: %w", err)
	}
	if dt.commit > st.commit {
		return nil, fmt.Errorf("copy: the destination has %d commits, the source %d: %w", dt.commit, st.commit, ErrDiverged)
	}
	for n := uint64(1); n <= dt.commit; n++ {
		a, err := src.b.GetRecord(ctx, nsAudit, auditName(n))
		if err != nil {
			return nil, fmt.Errorf("copy: source commit %d: %w", n, err)
		}
		b, err := dst.b.GetRecord(ctx, nsAudit, auditName(n))
		if err != nil {
			return nil, fmt.Errorf("copy: destination commit %d: %w", n, err)
		}
		if !bytes.Equal(a, b) {
			return nil, fmt.Errorf("copy: commit %d differs: %w", n, ErrDiverged)
		}
		rep.CommitsPresent++
	}

	// Objects first: a commit never names an object the destination lacks.
	have := map[ID]bool{}
	if err := dst.b.ListObjects(ctx, func(id ID, size int64) error { have[id] = true; return nil }); err != nil {
		return nil, fmt.Errorf("copy: destination: %w", err)
	}
	var todo []ID
	if err := src.b.ListObjects(ctx, func(id ID, size int64) error {
		if have[id] {
			rep.Present++
		} else {
			todo = append(todo, id)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("copy: source: %w", err)
	}
	read := src
	if d, ok := src.b.(DirectReader); ok {
		read = &Store{b: d.Direct()}
	}
	for i, id := range todo {
		data, err := read.GetObject(ctx, id) // re-hashed
		if err != nil {
			return rep, fmt.Errorf("copy: %w", err)
		}
		if err := dst.b.PutObject(ctx, id, bytes.NewReader(data)); err != nil {
			return rep, fmt.Errorf("copy: %w", err)
		}
		rep.Objects++
		rep.Bytes += int64(len(data))
		if progress != nil {
			progress(i+1, len(todo))
		}
	}
	if f, ok := dst.b.(Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return rep, fmt.Errorf("copy: %w", err)
		}
	}
	// Then the commits, in order.
	for n := dt.commit + 1; n <= st.commit; n++ {
		data, err := src.b.GetRecord(ctx, nsAudit, auditName(n))
		if err != nil {
			return rep, fmt.Errorf("copy: source commit %d: %w", n, err)
		}
		if err := dst.b.CreateRecord(ctx, nsAudit, auditName(n), data); err != nil {
			if errors.Is(err, ErrExists) {
				return rep, fmt.Errorf("copy: the destination gained commit %d during the copy (someone is writing to it): %w", n, ErrDiverged)
			}
			return rep, fmt.Errorf("copy: commit %d: %w", n, err)
		}
		rep.Commits++
	}
	// The head signatures (named by the heads they sign, so never in
	// conflict).
	sigs, err := src.b.ListRecords(ctx, nsAuditSig)
	if err != nil {
		return rep, fmt.Errorf("copy: source head signatures: %w", err)
	}
	for _, name := range sigs {
		if _, err := dst.b.GetRecord(ctx, nsAuditSig, name); err == nil {
			continue
		}
		data, err := src.b.GetRecord(ctx, nsAuditSig, name)
		if err != nil {
			return rep, fmt.Errorf("copy: source head signature %s: %w", short(name), err)
		}
		if err := dst.b.PutRecord(ctx, nsAuditSig, name, data); err != nil {
			return rep, fmt.Errorf("copy: head signature %s: %w", short(name), err)
		}
	}
	if hb, err := src.b.GetRecord(ctx, nsAuditHead, "head"); err == nil {
		_ = dst.b.PutRecord(ctx, nsAuditHead, "head", hb)
	}
	rep.Head = st.hash
	if rep.Dest, err = dst.Verify(ctx, opts.Verify); err != nil {
		return rep, fmt.Errorf("copy: destination: %w", err)
	}
	if !rep.Dest.OK() {
		return rep, fmt.Errorf("copy: the destination does not verify after the copy (see mlrun verify)")
	}
	if h, _, err := dst.AuditHead(ctx); err != nil || h != st.hash {
		return rep, fmt.Errorf("copy: the destination's head is %s, not the source's %s", short(h), short(st.hash))
	}
	return rep, nil
}
