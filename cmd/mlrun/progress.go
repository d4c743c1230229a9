package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
)

// progressDelay is how long a step runs before its progress bar appears:
// short steps never show one.
const progressDelay = time.Second

// progressDisplay draws one progress bar on a terminal (stderr) for the
// longest-running step that has run for more than progressDelay, with the
// number of other steps still running. Steps report through the
// pipeline.Progress that exec.Options.Progress hands them (load counts the
// bytes it reads); a step that reports nothing gets a spinner. The bar is
// cleared before the run's step lines are printed and when the step ends,
// so it never mixes with other output.
type progressDisplay struct {
	w     io.Writer
	after time.Duration
	now   func() time.Time
	kinds map[string]string // step id -> kind

	mu      sync.Mutex
	running map[string]*stepProgress
	bar     *progressbar.ProgressBar
	barStep string
	closed  bool

	looping bool // loop runs: close stops it
	stop    chan struct{}
	done    chan struct{}
}

// newProgressDisplay returns the progress display of a run of p, drawing
// on w, or nil when w is not a terminal: piped or redirected output gets no
// progress at all.
func newProgressDisplay(w io.Writer, p *pipeline.Pipeline) *progressDisplay {
	if !isTerminal(w) {
		return nil
	}
	d := newProgressDisplayFor(w, p, progressDelay, time.Now)
	d.looping = true
	go d.loop(100 * time.Millisecond)
	return d
}

// newProgressDisplayFor builds a display without its refresh loop (tests
// call tick themselves).
func newProgressDisplayFor(w io.Writer, p *pipeline.Pipeline, after time.Duration, now func() time.Time) *progressDisplay {
	kinds := map[string]string{}
	for _, s := range p.Steps {
		kinds[s.ID] = s.Kind
	}
	return &progressDisplay{
		w: w, after: after, now: now, kinds: kinds,
		running: map[string]*stepProgress{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// stepProgress is the pipeline.Progress of one step; Add is a single atomic
// add, cheap enough for a hot loop.
type stepProgress struct {
	id    string
	start time.Time
	total atomic.Int64 // -1 until Total is called
	done  atomic.Int64
}

// Total implements pipeline.Progress.
func (s *stepProgress) Total(n int64) { s.total.Store(n) }

// Add implements pipeline.Progress.
func (s *stepProgress) Add(n int64) { s.done.Add(n) }

// step is exec.Options.Progress: the executor calls it when a step starts.
func (d *progressDisplay) step(id string) pipeline.Progress {
	s := &stepProgress{id: id, start: d.now()}
	s.total.Store(-1)
	d.mu.Lock()
	d.running[id] = s
	d.mu.Unlock()
	return s
}

// event is called with every executor event: it forgets a step that ended
// and erases the bar, then calls show (which writes the step's line) before
// the bar can be drawn again at the next tick.
func (d *progressDisplay) event(e exec.Event, show func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.Type != exec.EventStarted {
		delete(d.running, e.Step)
	}
	d.clearLocked()
	show()
}

// loop redraws the bar every interval until close.
func (d *progressDisplay) loop(interval time.Duration) {
	defer close(d.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.tick()
		}
	}
}

// tick draws the bar of the step that has run longest, once it has run for
// d.after.
func (d *progressDisplay) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	now := d.now()
	var oldest *stepProgress
	for _, s := range d.running {
		if now.Sub(s.start) < d.after {
			continue
		}
		if oldest == nil || s.start.Before(oldest.start) || s.start.Equal(oldest.start) && s.id < oldest.id {
			oldest = s
		}
	}
	if oldest == nil {
		d.clearLocked()
		return
	}
	total, done := oldest.total.Load(), oldest.done.Load()
	if total > 0 {
		done = min(done, total)
	}
	// The bar starts late, so the elapsed time and the amounts are ours:
	// the library's rate and estimate would count from its own start.
	desc := fmt.Sprintf("%s (%s) %s", oldest.id, d.kinds[oldest.id], now.Sub(oldest.start).Truncate(time.Second))
	switch {
	case total > 0 && d.kinds[oldest.id] == "load":
		desc += fmt.Sprintf("  %s of %s", fmtBytes(done), fmtBytes(total))
	case total > 0:
		desc += fmt.Sprintf("  %d of %d", done, total)
	}
	if others := len(d.running) - 1; others > 0 {
		desc += fmt.Sprintf("  (+%d running)", others)
	}
	if d.bar == nil || d.barStep != oldest.id {
		d.clearLocked()
		d.barStep = oldest.id
		d.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(d.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSpinnerType(14),
			// No spinner goroutine: it would draw outside our lock, over
			// the step lines. The spinner turns with the ticks instead.
			progressbar.OptionSetSpinnerChangeInterval(0),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionUseANSICodes(true),
		)
	} else {
		d.bar.Describe(desc)
		if total > 0 && total != d.bar.GetMax64() {
			d.bar.ChangeMax64(total)
		}
	}
	if total > 0 {
		_ = d.bar.Set64(done)   // draws when the percentage changed
		_ = d.bar.RenderBlank() // draws anyway: the time moved on
	} else {
		_ = d.bar.Add64(1) // turns the spinner and draws
	}
}

// clearLocked erases the bar from the terminal and retires it; d.mu is
// held. It erases the line itself: the library's Clear does nothing for a
// bar whose first drawing was already complete.
func (d *progressDisplay) clearLocked() {
	if d.bar == nil {
		return
	}
	_ = d.bar.Exit()
	_, _ = io.WriteString(d.w, "\033[2K\r")
	d.bar = nil
	d.barStep = ""
}

// close stops the display and erases the bar. It may be called twice.
func (d *progressDisplay) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.clearLocked()
	d.mu.Unlock()
	if d.looping {
		close(d.stop)
		<-d.done
	}
}
