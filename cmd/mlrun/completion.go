package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

// Shell completion beyond command and flag names (cobra's __complete, which
// the scripts of `mlrun completion SHELL` call): the step ids of a pipeline
// (why STEP, --force=STEP,..., --step), run ids and "latest" (runs show,
// runs diff, lineage, report, --run) and registered models with their
// aliases and versions (models show|history|promote|rollback, --model).
// The commands are found in the tree by name, so the commands' own files
// need no hook. Completion never writes: the store is opened read-only,
// only when it exists, and only a local one (an S3 store offers nothing
// rather than make the shell wait on the network).

// maxCompletions bounds the run ids offered.
const maxCompletions = 200

// registerCompletions attaches the completion functions to the commands
// and flags of the tree under root.
func (a *app) registerCompletions(root *cobra.Command) {
	yamlFiles := func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	}
	walkCommands(root, func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		if c.ValidArgsFunction == nil {
			switch path {
			case "run", "plan", "validate", "dag":
				c.ValidArgsFunction = yamlFiles
			case "why":
				c.ValidArgsFunction = a.completeWhyArgs
			case "runs show", "report":
				c.ValidArgsFunction = a.completeRunArgs(1)
			case "runs diff":
				c.ValidArgsFunction = a.completeRunArgs(2)
			case "lineage":
				c.ValidArgsFunction = a.completeLineageArgs
			case "models show":
				c.ValidArgsFunction = a.completeModelArgs(true)
			case "models history", "models promote", "models rollback":
				c.ValidArgsFunction = a.completeModelArgs(false)
			}
		}
		flag := func(name string, fn cobra.CompletionFunc) {
			if f := c.Flags().Lookup(name); f != nil && f.Value.Type() != "bool" {
				if _, ok := c.GetFlagCompletionFunc(name); !ok {
					_ = c.RegisterFlagCompletionFunc(name, fn)
				}
			}
		}
		flag("force", a.completeForce)
		flag("run", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return a.runCompletions(toComplete), cobra.ShellCompDirectiveNoFileComp
		})
		flag("model", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return a.modelCompletions(toComplete, true), cobra.ShellCompDirectiveNoFileComp
		})
		flag("step", a.completeStepFlag)
	})
}

// completionStore opens the store for completion: read-only, local, and
// only when it exists (nil otherwise).
func (a *app) completionStore() *lineage.Store {
	if s3store.IsURL(a.storeDir) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(a.storeDir, lineage.VersionFile)); err != nil {
		return nil
	}
	st, err := lineage.Open(a.storeDir, lineage.ReadOnly())
	if err != nil {
		return nil
	}
	return st
}

// runCompletions are "latest" and the run ids, newest first.
func (a *app) runCompletions(toComplete string) []string {
	st := a.completionStore()
	if st == nil {
		return nil
	}
	runs, err := st.ListRuns(context.Background())
	if err != nil {
		return nil
	}
	var out []string
	for i := len(runs) - 1; i >= 0; i-- {
		if r := runs[i]; r.Finished() {
			out = append(out, "latest\tnewest finished run: "+r.ID)
			break
		}
	}
	for i := len(runs) - 1; i >= 0 && len(out) < maxCompletions; i-- {
		r := runs[i]
		out = append(out, fmt.Sprintf("%s\t%s %s", r.ID, r.Pipeline, r.Status))
	}
	return filterPrefix(out, toComplete)
}

// completeRunArgs completes the first n arguments with run ids.
func (a *app) completeRunArgs(n int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) >= n {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return a.runCompletions(toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// runStepCompletions are the step ids of a recorded run (nil when it is
// not found).
func (a *app) runStepCompletions(ref, toComplete string) []string {
	st := a.completionStore()
	if st == nil {
		return nil
	}
	if ref == "" {
		ref = "latest"
	}
	r, err := st.GetRun(context.Background(), ref)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.ID+"\t"+s.Kind)
	}
	return filterPrefix(out, toComplete)
}

// completeLineageArgs: a run id, then a step of that run.
func (a *app) completeLineageArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return a.runCompletions(toComplete), cobra.ShellCompDirectiveNoFileComp
	case 1:
		return a.runStepCompletions(args[0], toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeStepFlag completes --step with the steps of the run given by
// --run (default latest).
func (a *app) completeStepFlag(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	ref := ""
	if f := cmd.Flags().Lookup("run"); f != nil {
		ref = f.Value.String()
	}
	return a.runStepCompletions(ref, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// pipelineSteps returns the step ids (with their kinds) of a pipeline
// file: those of the loaded pipeline (matrix variants included), or, when
// it does not load, the keys of its steps mapping.
func (a *app) pipelineSteps(file string) []string {
	var out []string
	if reg, err := a.registry(); err == nil {
		memo := &schemaMemo{a: a}
		if p, err := pipeline.Load(file, pipeline.LoadOptions{Registry: reg, SchemaMemo: memo}); err == nil {
			memo.flush()
			for _, s := range p.Steps {
				out = append(out, s.ID+"\t"+s.Kind)
			}
			return out
		}
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var doc struct {
		Steps yaml.Node `yaml:"steps"`
	}
	if yaml.Unmarshal(src, &doc) != nil || doc.Steps.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(doc.Steps.Content); i += 2 {
		id, kind := doc.Steps.Content[i].Value, ""
		if v := doc.Steps.Content[i+1]; v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				if v.Content[j].Value == "kind" {
					kind = v.Content[j+1].Value
				}
			}
		}
		out = append(out, id+"\t"+kind)
	}
	slices.Sort(out)
	return out
}

// latestRunFile is the pipeline file of the latest run ("" when there is
// none), why's default FILE.
func (a *app) latestRunFile() string {
	st := a.completionStore()
	if st == nil {
		return ""
	}
	runs, err := st.ListRuns(context.Background())
	if err != nil || len(runs) == 0 {
		return ""
	}
	return runs[len(runs)-1].File
}

// commandPipelineFile is the pipeline file of a run, plan or why command
// line being completed ("" when not known yet).
func (a *app) commandPipelineFile(cmd *cobra.Command, args []string) string {
	switch cmd.Name() {
	case "why":
		if len(args) >= 2 {
			return args[1]
		}
		if f := cmd.Flags().Lookup("run"); f != nil && f.Value.String() != "" {
			return "" // the steps come from the run
		}
		return a.latestRunFile()
	default:
		for _, arg := range args {
			if isPipelineFile(arg) {
				return arg
			}
		}
		if len(args) > 0 {
			return args[0]
		}
	}
	return ""
}

// completeWhyArgs: why STEP [FILE]. STEP is a step of FILE's default
// (the latest run's file) or of the --run given; FILE a YAML file.
func (a *app) completeWhyArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		if f := cmd.Flags().Lookup("run"); f != nil && f.Value.String() != "" {
			return a.runStepCompletions(f.Value.String(), toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		file := a.latestRunFile()
		if file == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return filterPrefix(a.pipelineSteps(file), toComplete), cobra.ShellCompDirectiveNoFileComp
	case 1:
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeForce completes --force=STEP,STEP,... with the steps of the
// command's pipeline file not listed yet.
func (a *app) completeForce(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	file := a.commandPipelineFile(cmd, args)
	if file == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	done, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	listed := strings.Split(strings.TrimSuffix(done, ","), ",")
	var out []string
	for _, s := range filterPrefix(a.pipelineSteps(file), last) {
		id, _, _ := strings.Cut(s, "\t")
		if !slices.Contains(listed, id) {
			out = append(out, done+s)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// modelCompletions are the registered model names and, withRefs, NAME@ALIAS
// for each alias (and NAME@VERSION once an "@" is typed).
func (a *app) modelCompletions(toComplete string, withRefs bool) []string {
	st := a.completionStore()
	if st == nil {
		return nil
	}
	models, err := newRegistry(st).List(context.Background())
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range models {
		out = append(out, fmt.Sprintf("%s\tlatest version %d", m.Name, m.Latest()))
		if !withRefs {
			continue
		}
		for _, alias := range sortedKeys(m.Aliases) {
			out = append(out, fmt.Sprintf("%s@%s\tversion %d", m.Name, alias, m.Aliases[alias]))
		}
		if strings.HasPrefix(toComplete, m.Name+"@") {
			out = append(out, versionCompletions(m)...)
		}
	}
	return filterPrefix(out, toComplete)
}

func versionCompletions(m *registry.Model) []string {
	var out []string
	for _, v := range m.Versions {
		out = append(out, fmt.Sprintf("%s@%d\tregistered %s by run %s", m.Name, v.Version, v.Registered.Format("2006-01-02"), v.Run))
	}
	return out
}

// completeModelArgs completes the first argument with model names
// (withRefs: and their @aliases and @versions).
func (a *app) completeModelArgs(withRefs bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return a.modelCompletions(toComplete, withRefs), cobra.ShellCompDirectiveNoFileComp
	}
}

// filterPrefix keeps the completions ("value\tdescription") whose value
// starts with prefix.
func filterPrefix(cs []string, prefix string) []string {
	var out []string
	for _, c := range cs {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
