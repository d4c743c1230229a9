package exec_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/exec"
)

func TestRunInMemory(t *testing.T) {
	dir := t.TempDir()
	g := newDiamond(dir)
	res, err := exec.RunInMemory(context.Background(), g.p, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.calls(); got != "1 1 1 1 1 1" {
		t.Errorf("calls %s, want each step once", got)
	}
	var d any
	if err := res["d"].Outputs["data"].(*pipeline.Document).Into(&d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mustJSON(t, d), `"other":{"out":"data"`) {
		t.Errorf("d did not get c's output: %s", mustJSON(t, d))
	}
	// A failing step stops the walk with its error; nothing is stored.
	g.b.fail = errors.New("boom")
	_, err = exec.RunInMemory(context.Background(), g.p, 1, nil)
	if err == nil || err.Error() != `step "b": boom` {
		t.Errorf("err = %v", err)
	}
	// Failed checks are in the result, not an error.
	g.b.fail = nil
	pass := false
	g.c.pass = &pass
	res, err = exec.RunInMemory(context.Background(), g.p, 1, nil)
	if err != nil || !res["c"].Failed() {
		t.Errorf("check failure: %v, failed=%v", err, res["c"] != nil && res["c"].Failed())
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
