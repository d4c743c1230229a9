package lineage

import (
	"context"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
)

// NewRunRecord starts the record of a run of p at start: a new id, the
// pipeline's name, file, hash and params, the user, host, git state of the
// pipeline file's directory and the mlrun version; status RunRunning.
func NewRunRecord(ctx context.Context, p *pipeline.Pipeline, version string, start time.Time) *RunRecord {
	r := NewRunRecordNoGit(p, version, start)
	if dir := pipelineDir(p); dir != "" {
		r.Git = GitState(ctx, dir)
	}
	return r
}

// pipelineDir is the directory of the pipeline file ("" when unknown).
func pipelineDir(p *pipeline.Pipeline) string {
	if p.Dir == "" && p.File != "" {
		return filepath.Dir(p.File)
	}
	return p.Dir
}

// GitStateOf starts reading the git state of p's directory in the
// background (two git processes), for a caller that has other work to do
// meanwhile; the function it returns waits for it.
func GitStateOf(ctx context.Context, p *pipeline.Pipeline) func() *GitInfo {
	dir := pipelineDir(p)
	if dir == "" {
		return func() *GitInfo { return nil }
	}
	ch := make(chan *GitInfo, 1)
	go func() { ch <- GitState(ctx, dir) }()
	var g *GitInfo
	done := false
	return func() *GitInfo {
		if !done {
			g, done = <-ch, true
		}
		return g
	}
}

// NewRunRecordNoGit is NewRunRecord without the git state.
func NewRunRecordNoGit(p *pipeline.Pipeline, version string, start time.Time) *RunRecord {
	r := &RunRecord{
		ID:         NewRunID(start),
		Pipeline:   p.Name,
		File:       p.File,
		FileSHA256: p.SHA256,
		Version:    version,
		Start:      start.UTC(),
		Status:     RunRunning,
		Steps:      []StepRecord{},
	}
	if len(p.Params) > 0 {
		r.Params = p.ParamMap()
	}
	r.User, r.Host = Who()
	return r
}

// GitState returns the commit checked out in dir's git repository and
// whether tracked files have uncommitted changes, or nil when dir is not
// in a git repository or git is not installed.
func GitState(ctx context.Context, dir string) *GitInfo {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	head := exec.CommandContext(ctx, "git", "rev-parse", "HEAD")
	head.Dir = dir
	out, err := head.Output()
	if err != nil {
		return nil
	}
	commit := strings.TrimSpace(string(out))
	if commit == "" {
		return nil
	}
	st := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no")
	st.Dir = dir
	out, err = st.Output()
	if err != nil {
		return &GitInfo{Commit: commit}
	}
	return &GitInfo{Commit: commit, Dirty: len(strings.TrimSpace(string(out))) > 0}
}

// Who returns the user running this process (the login name, else $USER)
// and the host name, for run records, audit entries and registry moves.
func Who() (user, host string) {
	if u, err := osuser.Current(); err == nil {
		user = u.Username
	} else {
		user = os.Getenv("USER")
	}
	host, _ = os.Hostname()
	return user, host
}

// Step returns the record of step id in the run, or nil.
func (r *RunRecord) Step(id string) *StepRecord {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return &r.Steps[i]
		}
	}
	return nil
}

// Producer returns the step whose output object id step consumer read:
// the nearest step recorded before consumer that output it, or "". Steps
// are recorded in pipeline (topological) order, and a step that passes its
// input through (validate) outputs the same object as its upstream, so the
// nearest earlier producer is the one read from.
func (r *RunRecord) Producer(consumer string, id ID) string {
	producer := ""
	for i := range r.Steps {
		if r.Steps[i].ID == consumer {
			break
		}
		for _, o := range r.Steps[i].Outputs {
			if o.ID == id {
				producer = r.Steps[i].ID
			}
		}
	}
	return producer
}
