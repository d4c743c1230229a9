package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
)

func progressPipeline() *pipeline.Pipeline {
	return &pipeline.Pipeline{Steps: []*pipeline.StepSpec{{ID: "data", Kind: "load"}, {ID: "model", Kind: "train"}}}
}

func TestProgressDisplay(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1_000_000, 0)
	d := newProgressDisplayFor(&buf, progressPipeline(), time.Second, func() time.Time { return now })

	load := d.step("data")
	load.Total(4 << 20)
	load.Add(1 << 20)
	now = now.Add(999 * time.Millisecond)
	d.tick()
	if buf.Len() != 0 {
		t.Fatalf("drew %q before the step had run a second", buf.String())
	}

	now = now.Add(time.Millisecond)
	d.step("model") // starts now: not shown, but counted
	d.tick()
	out := buf.String()
	for _, want := range []string{"data (load) 1s  1.0 MiB of 4.0 MiB  (+1 running)", " 25% |"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar %q lacks %q", out, want)
		}
	}

	load.Add(3 << 20)
	buf.Reset()
	d.tick()
	if out := buf.String(); !strings.Contains(out, "100%") {
		t.Errorf("bar %q lacks 100%%", out)
	}

	// The step's line is about to be printed: the bar is erased first.
	buf.Reset()
	d.event(exec.Event{Type: exec.EventFinished, Step: "data"}, func() { buf.WriteString("  data  load  + ok\n") })
	if out := buf.String(); out != "\033[2K\r  data  load  + ok\n" {
		t.Errorf("finishing wrote %q, want the erase-line sequence, then the step's line", out)
	}
	buf.Reset()
	d.tick()
	if buf.Len() != 0 {
		t.Errorf("drew %q for a step running for less than a second", buf.String())
	}

	// A step that reports nothing gets a spinner with its name.
	now = now.Add(2 * time.Second)
	d.tick()
	if out := buf.String(); !strings.Contains(out, "model (train) 2s") || strings.Contains(out, "running") {
		t.Errorf("spinner %q: want the step and kind, and no other step running", out)
	}

	buf.Reset()
	d.close()
	d.close()
	if out := buf.String(); out != "\033[2K\r" {
		t.Errorf("close wrote %q, want the erase-line sequence", out)
	}
	buf.Reset()
	d.tick()
	if buf.Len() != 0 {
		t.Errorf("drew %q after close", buf.String())
	}
}

// TestProgressSilentWhenNotATerminal: piped or redirected stderr gets no
// progress display at all.
func TestProgressSilentWhenNotATerminal(t *testing.T) {
	if d := newProgressDisplay(&bytes.Buffer{}, progressPipeline()); d != nil {
		t.Error("a progress display for a bytes.Buffer")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if d := newProgressDisplay(w, progressPipeline()); d != nil {
		t.Error("a progress display for a pipe")
	}
}
