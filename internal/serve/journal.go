package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// ErrJournal reports a journal that can no longer make decisions durable
// (a failed write or fsync): the server answers 503 from then on.
var ErrJournal = errors.New("decision journal failed")

// ErrClosed reports an append to a closed journal.
var ErrClosed = errors.New("decision journal closed")

// journalExt is the file name extension of a journal segment.
const journalExt = ".journal"

// Segment is the first frame of a journal segment: the model version every
// decision of the segment was made with, and the batch record the segment
// becomes.
type Segment struct {
	Batch       string             `json:"batch"`
	Model       string             `json:"model,omitempty"`
	Version     int                `json:"version,omitempty"`
	Run         string             `json:"run"`
	Step        string             `json:"step"`
	ModelObject lineage.ID         `json:"model_object"`
	Threshold   float64            `json:"threshold"`
	Protected   []string           `json:"protected,omitempty"`
	Baseline    map[string]float64 `json:"baseline,omitempty"`
	Pipeline    string             `json:"pipeline,omitempty"`
	// Server is the address the server listened on.
	Server  string    `json:"server"`
	Started time.Time `json:"started"`
}

// JournalOptions configure OpenJournal.
type JournalOptions struct {
	// Dir holds the segment files (created if needed).
	Dir string
	// Store receives the segments' decision logs and batch records.
	Store *lineage.Store
	// SegmentRows and SegmentAge bound a segment: it is rolled into the
	// store when it holds SegmentRows decisions or is SegmentAge old
	// (defaults 10000 and 10s).
	SegmentRows int
	SegmentAge  time.Duration
	// Log receives the journal's messages (nil: none).
	Log hclog.Logger
	// OnSync is called after each fsync with the number of decisions it
	// made durable (metrics); OnCommit after each segment committed.
	OnSync   func(decisions int)
	OnCommit func(seg *Segment, rows int, err error)
}

// Journal makes online decisions durable in groups: every Append waits for
// the fsync of the write that holds its decisions, and one write and one
// fsync serve every Append queued meanwhile (group commit). Decisions go
// to the segment file of their model version (two may be open at once:
// the version served and the one before it, whose requests in flight
// finish after a reload), which is rolled into the store (a decision log
// object, a batch record and a batch.scored audit entry: see
// CommitSegment) when it is full or old, when a third version comes, and
// at Close. A segment left by a server that died is committed by
// Recover.
type Journal struct {
	o       JournalOptions
	reqs    chan *appendReq
	rolled  chan *segFile
	stop    chan struct{}
	writerD chan struct{}
	commitD chan struct{}
	// mu is held shared by Append while it queues, exclusive by Close.
	mu     sync.RWMutex
	closed bool
	failMu sync.Mutex
	failed error
}

type appendReq struct {
	seg  *Segment
	decs []decisions.Decision
	done chan error
}

type segFile struct {
	// key is the Segment the appends name; seg is this file's header.
	key    *Segment
	seg    *Segment
	path   string
	f      *os.File
	rows   int
	opened time.Time
	// buf holds the frames of the appends not yet written.
	buf bytes.Buffer
}

// OpenJournal starts a journal. Call Recover first to commit the segments
// of servers that died.
func OpenJournal(o JournalOptions) (*Journal, error) {
	if o.SegmentRows <= 0 {
		o.SegmentRows = 10000
	}
	if o.SegmentAge <= 0 {
		o.SegmentAge = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("decision journal: %w", err)
	}
	j := &Journal{o: o, reqs: make(chan *appendReq, 4096), rolled: make(chan *segFile, 64),
		stop: make(chan struct{}), writerD: make(chan struct{}), commitD: make(chan struct{})}
	go j.writer()
	go j.committer()
	return j, nil
}

// Append writes decisions made with the model version seg describes and
// returns once they are durable (fsynced), with their Row (1-based
// position in the segment) set. Appends with the same *Segment go to the
// same segment while it is open.
func (j *Journal) Append(seg *Segment, decs []decisions.Decision) error {
	if err := j.Healthy(); err != nil {
		return err
	}
	j.mu.RLock()
	if j.closed {
		j.mu.RUnlock()
		return ErrClosed
	}
	r := &appendReq{seg: seg, decs: decs, done: make(chan error, 1)}
	j.reqs <- r
	j.mu.RUnlock()
	return <-r.done
}

// Healthy returns the error that stopped the journal, or nil.
func (j *Journal) Healthy() error {
	j.failMu.Lock()
	defer j.failMu.Unlock()
	return j.failed
}

// Close makes every appended decision durable, rolls the open segment
// into the store and waits until every rolled segment is committed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	close(j.stop)
	j.mu.Unlock()
	<-j.writerD
	<-j.commitD
	return j.Healthy()
}

func (j *Journal) fail(err error) error {
	err = fmt.Errorf("%w: %v", ErrJournal, err)
	j.failMu.Lock()
	if j.failed == nil {
		j.failed = err
	}
	j.failMu.Unlock()
	j.o.Log.Error("decision journal failed: decisions are refused", "error", err)
	return err
}

// maxOpen is the most segments open at once: the version served and the
// one before it, whose requests in flight finish after a reload (without
// it, their decisions interleaved would roll a segment at each change).
const maxOpen = 2

// writer is the only goroutine writing segment files.
func (j *Journal) writer() {
	defer close(j.writerD)
	defer close(j.rolled)
	var open []*segFile // oldest first
	tick := time.NewTicker(min(j.o.SegmentAge/4, time.Second))
	defer tick.Stop()
	var batch []*appendReq
	roll := func(sf *segFile) {
		open = slices.DeleteFunc(open, func(x *segFile) bool { return x == sf })
		j.rolled <- sf
	}
	// flush writes what the batch's appends framed, one write and one
	// fsync per segment written to, and answers them.
	flush := func() {
		if len(batch) == 0 {
			return
		}
		err := j.Healthy()
		for _, sf := range open {
			if err != nil || sf.buf.Len() == 0 {
				continue
			}
			if _, werr := sf.f.Write(sf.buf.Bytes()); werr != nil {
				err = j.fail(werr)
			} else if serr := datasync(sf.f); serr != nil {
				err = j.fail(serr)
			}
			sf.buf.Reset()
		}
		n := 0
		for _, r := range batch {
			n += len(r.decs)
			r.done <- err
		}
		if err == nil && j.o.OnSync != nil {
			j.o.OnSync(n)
		}
		batch = batch[:0]
	}
	handle := func(r *appendReq) {
		if err := j.Healthy(); err != nil {
			batch = append(batch, r)
			return
		}
		var cur *segFile
		for _, sf := range open {
			if sf.key == r.seg {
				cur = sf
			}
		}
		if cur != nil && cur.rows >= j.o.SegmentRows {
			flush()
			roll(cur)
			cur = nil
		}
		if cur == nil {
			if len(open) >= maxOpen {
				flush()
				roll(open[0])
			}
			var err error
			if cur, err = j.create(r.seg); err != nil {
				j.fail(err)
				batch = append(batch, r)
				return
			}
			open = append(open, cur)
		}
		for i := range r.decs {
			cur.rows++
			r.decs[i].Row = cur.rows
			writeFrame(&cur.buf, &r.decs[i])
		}
		batch = append(batch, r)
	}
	for {
		select {
		case r := <-j.reqs:
			handle(r)
		drain:
			for len(batch) < 4096 {
				select {
				case r := <-j.reqs:
					handle(r)
				default:
					break drain
				}
			}
			flush()
		case <-tick.C:
			for _, sf := range slices.Clone(open) {
				if time.Since(sf.opened) >= j.o.SegmentAge {
					roll(sf)
				}
			}
		case <-j.stop:
			// Appends are refused from now on: take what is queued.
			for {
				select {
				case r := <-j.reqs:
					handle(r)
					continue
				default:
				}
				break
			}
			flush()
			for len(open) > 0 {
				roll(open[0])
			}
			return
		}
	}
}

// create opens a new segment file (its directory fsynced), locked for as
// long as this process holds it, with its header frame.
func (j *Journal) create(seg *Segment) (*segFile, error) {
	s := *seg
	var (
		path string
		f    *os.File
		err  error
	)
	for range 3 { // batch ids hold 24 random bits: a clash is rare
		s.Batch = lineage.NewRunID(time.Now())
		s.Started = time.Now().UTC()
		path = filepath.Join(j.o.Dir, s.Batch+journalExt)
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644); !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if ok, err := tryLock(f); !ok || err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: locked elsewhere (%v)", path, err)
	}
	var buf bytes.Buffer
	writeFrame(&buf, &s)
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(j.o.Dir); err != nil {
		f.Close()
		return nil, err
	}
	return &segFile{key: seg, seg: &s, path: path, f: f, opened: time.Now()}, nil
}

// committer commits rolled segments into the store, in order.
func (j *Journal) committer() {
	defer close(j.commitD)
	for sf := range j.rolled {
		n, err := CommitSegment(context.Background(), j.o.Store, sf.path, false)
		if err != nil {
			j.o.Log.Error("segment not committed: it stays in the journal, and is committed when a server starts on this store", "segment", sf.path, "error", err)
		} else {
			j.o.Log.Info("segment committed", "batch", sf.seg.Batch, "decisions", n)
		}
		if j.o.OnCommit != nil {
			j.o.OnCommit(sf.seg, n, err)
		}
		sf.f.Close() // releases the lock
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// writeFrame appends one frame: the CRC-32C of the JSON in 8 hex digits, a
// space, the JSON, a newline.
func writeFrame(buf *bytes.Buffer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and numbers
	}
	var sum [4]byte
	var crc [9]byte // "%08x "
	binary.BigEndian.PutUint32(sum[:], crc32.Checksum(b, crcTable))
	hex.Encode(crc[:8], sum[:])
	crc[8] = ' '
	buf.Write(crc[:])
	buf.Write(b)
	buf.WriteByte('\n')
}

// ReadSegment parses a segment file: its header, its decisions, and the
// SHA-256 and size of the bytes read. A last frame without its newline (a
// write cut by a crash, never fsynced, so never answered) is left out; any
// other damaged frame is an error.
func ReadSegment(path string) (*Segment, []decisions.Decision, string, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, "", 0, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i+1 < len(b) {
		b = b[:i+1] // a torn last frame
	}
	var seg *Segment
	var decs []decisions.Decision
	line := 0
	for rest := b; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		fr := rest[:i]
		rest = rest[i+1:]
		line++
		if len(fr) < 10 || fr[8] != ' ' {
			return nil, nil, "", 0, fmt.Errorf("%s:%d: malformed frame", path, line)
		}
		want, err := strconv.ParseUint(string(fr[:8]), 16, 32)
		if err != nil || crc32.Checksum(fr[9:], crcTable) != uint32(want) {
			return nil, nil, "", 0, fmt.Errorf("%s:%d: frame checksum mismatch: %w", path, line, lineage.ErrInvalidData)
		}
		if seg == nil {
			seg = new(Segment)
			if err := json.Unmarshal(fr[9:], seg); err != nil || seg.Batch == "" {
				return nil, nil, "", 0, fmt.Errorf("%s:%d: bad segment header: %v", path, line, err)
			}
			continue
		}
		var d decisions.Decision
		if err := json.Unmarshal(fr[9:], &d); err != nil {
			return nil, nil, "", 0, fmt.Errorf("%s:%d: bad decision: %w", path, line, err)
		}
		decs = append(decs, d)
	}
	if seg == nil {
		return nil, nil, "", 0, nil
	}
	sum := sha256.Sum256(b)
	return seg, decs, hex.EncodeToString(sum[:]), int64(len(b)), nil
}

// CommitSegment commits a segment file into the store and removes it: its
// decisions as a decision log object, with its pin, its batch record
// (source "serve", input the segment file, first and last decision times)
// and a batch.scored audit entry, in one commit (decisions.Commit). A
// segment whose batch is already recorded (a server that died between its
// commit and the removal) is removed only. An empty one is removed. It
// returns the number of decisions committed.
func CommitSegment(ctx context.Context, st *lineage.Store, path string, recovered bool) (int, error) {
	seg, decs, sum, size, err := ReadSegment(path)
	if err != nil {
		return 0, err
	}
	if seg == nil || len(decs) == 0 {
		return 0, removeSegment(path)
	}
	view, err := st.View(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := view.RecordID(ctx, decisions.NS, seg.Batch); err == nil {
		return 0, removeSegment(path)
	} else if !errors.Is(err, lineage.ErrNotFound) {
		return 0, err
	}
	unlock, err := st.RunLock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	b := &decisions.Batch{
		ID: seg.Batch, Time: time.Now().UTC(), Model: seg.Model, Version: seg.Version, Run: seg.Run, Step: seg.Step,
		ModelObject: seg.ModelObject, Threshold: seg.Threshold, Protected: seg.Protected, Baseline: seg.Baseline,
		Input:  pipeline.FileInfo{Path: path, SHA256: sum, Size: size},
		Source: "serve", First: decs[0].Time, Last: decs[len(decs)-1].Time, Rows: len(decs),
	}
	for _, d := range decs {
		if d.Decision == "adverse" {
			b.Adverse++
		}
	}
	dlog := &decisions.Log{Batch: seg.Batch, Model: seg.Model, Version: seg.Version, Run: seg.Run, Step: seg.Step,
		Input: sum, Threshold: seg.Threshold, Decisions: decs}
	detail := map[string]string{"source": "serve", "server": seg.Server}
	if recovered {
		detail["recovered"] = "true"
	}
	if _, err := decisions.Commit(ctx, st, b, dlog, seg.Pipeline, detail); err != nil {
		return 0, err
	}
	return len(decs), removeSegment(path)
}

func removeSegment(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Recover commits the segments in dir that no live server holds (their
// lock is free: the server died or was killed) and returns the batch ids
// committed, with their decision counts.
func Recover(ctx context.Context, st *lineage.Store, dir string) (map[string]int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), journalExt) && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	out := map[string]int{}
	var errs []error
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok, err := tryLock(f); err != nil || !ok {
			f.Close() // a live server's
			if err != nil {
				errs = append(errs, fmt.Errorf("segment %s: %w", name, err))
			}
			continue
		}
		n, err := CommitSegment(ctx, st, path, true)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("segment %s: %w", name, err))
			continue
		}
		if n > 0 {
			out[strings.TrimSuffix(name, journalExt)] = n
		}
	}
	return out, errors.Join(errs...)
}
