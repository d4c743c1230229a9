package argotest

import (
	"context"
	"strings"
	"testing"
)

// manifestOf is a workflow whose tasks run sh scripts: name -> (depends
// or dependencies, when, continueOn, script).
func manifestOf(tasks [][5]string) string {
	var dag, tmpls strings.Builder
	for _, t := range tasks {
		dag.WriteString("      - name: " + t[0] + "\n        template: " + t[0] + "\n")
		if strings.HasPrefix(t[1], "[") {
			dag.WriteString("        dependencies: " + t[1] + "\n")
		} else if t[1] != "" {
			dag.WriteString("        depends: '" + t[1] + "'\n")
		}
		if t[2] != "" {
			dag.WriteString("        when: '" + t[2] + "'\n")
		}
		if t[3] != "" {
			dag.WriteString("        continueOn: {failed: true}\n")
		}
		tmpls.WriteString("  - name: " + t[0] + "\n    container: {image: x, command: [sh], args: [-c, '" + t[4] + "'], volumeMounts: [{name: tmp, mountPath: /tmp}]}\n")
	}
	return "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: t-}\nspec:\n  entrypoint: main\n  volumes: [{name: tmp, emptyDir: {}}]\n  templates:\n  - name: main\n    dag:\n      tasks:\n" +
		dag.String() + tmpls.String()
}

// TestSubmit checks the DAG semantics the export relies on: dependencies,
// depends with phases, when on an exit code, continueOn, and parallel
// tasks.
func TestSubmit(t *testing.T) {
	tests := []struct {
		name   string
		tasks  [][5]string
		phases string
		wf     string
	}{
		{"chain", [][5]string{
			{"a", "", "", "", "exit 0"},
			{"b", "[a]", "", "", "exit 0"},
			{"c", "[a, b]", "", "", "exit 0"},
		}, "a:Succeeded b:Succeeded c:Succeeded", "Succeeded"},
		{"failure stops dependants", [][5]string{
			{"a", "", "", "", "exit 3"},
			{"b", "[a]", "", "", "exit 0"},
			{"c", "", "", "", "exit 0"},
		}, "a:Failed b:Omitted c:Succeeded", "Failed"},
		{"retrain on exit 1", [][5]string{
			{"m", "", "", "yes", "exit 1"},
			{"r1", "m.Failed", "{{tasks.m.exitCode}} == 1", "", "exit 0"},
			{"r2", "r1.Succeeded", "", "", "exit 0"},
		}, "m:Failed r1:Succeeded r2:Succeeded", "Succeeded"},
		{"no retrain on exit 3", [][5]string{
			{"m", "", "", "yes", "exit 3"},
			{"r1", "m.Failed", "{{tasks.m.exitCode}} == 1", "", "exit 0"},
			{"r2", "r1.Succeeded", "", "", "exit 0"},
		}, "m:Failed r1:Skipped r2:Omitted", "Succeeded"},
		{"no retrain when the monitor passes", [][5]string{
			{"m", "", "", "yes", "exit 0"},
			{"r1", "m.Failed", "{{tasks.m.exitCode}} == 1", "", "exit 0"},
			{"after", "m", "", "", "exit 0"},
		}, "m:Succeeded r1:Omitted after:Succeeded", "Succeeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{Binary: "sh", Root: t.TempDir() + "/root"}
			res, err := c.Submit(context.Background(), []byte(manifestOf(tt.tasks)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, task := range res.Tasks {
				got = append(got, task.Name+":"+task.Phase)
			}
			if strings.Join(got, " ") != tt.phases || res.Phase != tt.wf {
				t.Errorf("got %s (%s), want %s (%s)", strings.Join(got, " "), res.Phase, tt.phases, tt.wf)
			}
		})
	}
}

// TestParallel checks that independent tasks run at the same time: each
// waits for the other's file.
func TestParallel(t *testing.T) {
	c := &Cluster{Binary: "sh", Root: t.TempDir() + "/root"}
	dir := t.TempDir()
	wait := func(me, other string) string {
		return "touch " + dir + "/" + me + "; i=0; while [ ! -e " + dir + "/" + other + " ]; do i=$((i+1)); [ $i -gt 200 ] && exit 5; sleep 0.05; done"
	}
	res, err := c.Submit(context.Background(), []byte(manifestOf([][5]string{
		{"a", "", "", "", wait("a", "b")},
		{"b", "", "", "", wait("b", "a")},
	})))
	if err != nil {
		t.Fatal(err)
	}
	if res.Phase != "Succeeded" || res.MaxParallel != 2 {
		t.Errorf("%s, at most %d at a time", res.Phase, res.MaxParallel)
	}
}
