package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestCITemplates keeps examples/ci honest: valid YAML; mlrun installed by
// a `go install` pinned to this release (no build from the source tree);
// the store from CI secrets, never from a CI cache; merge-request jobs
// register nothing.
func TestCITemplates(t *testing.T) {
	for _, f := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "..", "examples", "ci", f))
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			s := string(b)
			if want := "go install github.com/mlrun-cli/mlrun/cmd/mlrun@v" + Version; !strings.Contains(s, want) {
				t.Errorf("want %q (the pinned release)", want)
			}
			if strings.Contains(s, "go install ./cmd/mlrun") {
				t.Error("builds mlrun from the source tree")
			}
			if regexp.MustCompile(`(?m)^\s*(- )?(path|paths): .*\.mlrun`).MatchString(s) || strings.Contains(s, "actions/cache") {
				t.Error("keeps the store in a CI cache")
			}
			if !regexp.MustCompile(`MLRUN_STORE: \$(\{\{ secrets\.MLRUN_STORE \}\})?`).MatchString(s) && !strings.Contains(s, "MLRUN_STORE           s3://") {
				t.Error("does not take MLRUN_STORE from the CI secrets")
			}
			if !strings.Contains(s, `MLRUN_NO_REGISTER: "1"`) && !strings.Contains(s, `github.event_name == 'pull_request' && '1'`) {
				t.Error("merge-request jobs may register versions: set MLRUN_NO_REGISTER")
			}
		})
	}
}
