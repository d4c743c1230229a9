package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/decisions"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store"
	"github.com/mlrun-cli/mlrun/pipeline/registry"
)

func (a *app) verifyCommand() *cobra.Command {
	var (
		asJSON bool
		repair bool
		head   string
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-hash every stored object and check every record's references",
		Long: `Check the whole lineage store against its audit chain:

  - the audit chain: every entry re-hashed, every link checked (see
    'mlrun audit verify'); --head HASH: a head printed earlier is still in it;
  - the records (runs, cache entries, registry models, pins, scored and
    monitored batches, queued alerts): the state tree each audit commit names
    is rebuilt from the writes the commits declare, and every record is
    re-hashed, so an edited, deleted or substituted record is named;
  - every object is re-hashed, and every object a record names must exist
    and be intact: problems name the runs, cache entries and records that
    depend on the object; the next 'mlrun run' recomputes what a cache entry
    lost;
  - every finished run has its run.finished entry.

What needs --head: an attacker who rewrites the end of the audit chain
consistently (or removes its last commits and the head hint) leaves a chain
that checks; only a head recorded elsewhere (a ticket, a signed tag, a CI job
summary) shows that entries are missing or were rewritten.

--repair re-creates state tree nodes that are missing or damaged (they are a
function of the records the chain declares); records and data objects cannot
be re-created.

Verify works on a read-only store.

Exit codes: 0 intact, 1 problems found, 3 the store cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			rep, err := st.Verify(cmd.Context(), lineage.VerifyOptions{Refs: storeRefs(), Repair: repair})
			if err != nil {
				return err
			}
			arep, err := st.VerifyAudit(cmd.Context())
			if err != nil {
				return err
			}
			if err := checkAuditHead(cmd.Context(), st, head, arep); err != nil {
				return err
			}
			if asJSON {
				out := struct {
					*lineage.VerifyReport
					Audit *lineage.AuditReport `json:"audit"`
				}{rep, arep}
				if err := a.writeJSON(out); err != nil {
					return err
				}
			} else {
				writeVerify(a.stdout, st, rep)
				writeAuditVerify(a.stdout, arep)
			}
			if !rep.OK() || !arep.OK() {
				return &silentError{code: pipeline.ExitCheckFailed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&head, "head", "", "an audit head printed earlier that must still be in the chain")
	cmd.Flags().BoolVar(&repair, "repair", false, "re-create the state tree nodes that are missing or damaged from the audit chain")
	return cmd
}

// storeRefs are the references of the records kept by other packages, for
// verify: a model's version descriptions, a batch's decision log and model,
// a monitored batch's report.
func storeRefs() map[string]lineage.RefFunc {
	return map[string]lineage.RefFunc{
		registry.NS: registry.Refs,
		// A batch's decision log is checked through its pin, which gc
		// releases after the retention period.
		decisions.NS: func(data []byte) ([]lineage.ID, error) {
			var b decisions.Batch
			if err := json.Unmarshal(data, &b); err != nil {
				return nil, err
			}
			return []lineage.ID{b.ModelObject}, nil
		},
		monitorNS: func(data []byte) ([]lineage.ID, error) {
			var r monitorRecord
			if err := json.Unmarshal(data, &r); err != nil {
				return nil, err
			}
			return []lineage.ID{r.Report}, nil
		},
	}
}

func writeVerify(w io.Writer, st *lineage.Store, rep *lineage.VerifyReport) {
	fmt.Fprintf(w, "checked %d objects (%s), %d records (%d run records, %d cache entries), %d state nodes, %d commits in %s\n",
		rep.Objects, fmtBytes(rep.Bytes), rep.Records, rep.Runs, rep.CacheEntries, rep.Nodes, rep.Commits, st.Dir())
	for _, p := range rep.RecordProblems {
		fmt.Fprintf(w, "  %s\n", p.String())
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s\n", p.String())
	}
	for _, b := range rep.BadRecords {
		fmt.Fprintf(w, "  bad record %s\n", b)
	}
	for _, p := range rep.StateProblems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	for _, id := range rep.Repaired {
		fmt.Fprintf(w, "  repaired state node %s from the audit chain\n", id.Short())
	}
	for _, r := range rep.Running {
		fmt.Fprintf(w, "  run %s is in progress\n", r)
	}
	if rep.OK() {
		fmt.Fprintln(w, "store intact")
		return
	}
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{len(rep.RecordProblems), "record problem(s)"}, {len(rep.Problems), "object problem(s)"},
		{len(rep.BadRecords), "bad record(s)"}, {len(rep.StateProblems), "state problem(s)"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	fmt.Fprintf(w, "store damaged: %s\n", strings.Join(parts, ", "))
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func (a *app) gcCommand() *cobra.Command {
	var (
		opts      lineage.GCOptions
		asJSON    bool
		retention string
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove objects no run or cache entry references",
		Long: `Remove the objects that no kept run record or cache entry references, and
temporary files of interrupted writes. With --keep-last N, only the last N runs
of each pipeline are kept, with the cache entries they use.

Registered model versions, the audit chain and the decision logs of scored
batches younger than --retention (default 25mo, the record period of US
Regulation B) are always kept; an older decision log is removed (its batch
record and audit entries remain). --retention forever keeps every log.

gc refuses to start while an 'mlrun run' holds the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.KeepLast < 0 {
				return pipeline.Invalidf("--keep-last must not be negative")
			}
			cutoff, err := retentionCutoff(retention, time.Now().UTC())
			if err != nil {
				return pipeline.Invalidf("--retention: %v", err)
			}
			opts.RetainSince = cutoff
			st, err := a.openStore()
			if err != nil {
				return err
			}
			rep, err := st.GC(cmd.Context(), opts)
			if err != nil {
				return err
			}
			var head string
			if !rep.DryRun {
				head, err = st.AppendAudit(cmd.Context(), lineage.AuditEntry{Type: lineage.AuditGC, Detail: map[string]string{
					"phase": "done", "deleted_objects": fmt.Sprint(rep.DeletedObjects), "deleted_bytes": fmt.Sprint(rep.DeletedBytes),
					"dropped_runs": strings.Join(rep.DroppedRuns, ","), "pruned_cache": fmt.Sprint(len(rep.PrunedCache)),
					"expired_pins": strings.Join(rep.ExpiredPins, ","), "retention": retention,
				}})
				if err != nil {
					return err
				}
			}
			if asJSON {
				return a.writeJSON(rep)
			}
			defer func() {
				if head != "" {
					fmt.Fprintf(a.stdout, "audit head %s\n", head)
				}
			}()
			verb := "removed"
			if rep.DryRun {
				verb = "would remove"
			}
			fmt.Fprintf(a.stdout, "%s %d of %d objects (%s), %d of %d run records, %d cache entries, %d temporary files\n",
				verb, rep.DeletedObjects, rep.Objects, fmtBytes(rep.DeletedBytes), len(rep.DroppedRuns), rep.Runs, len(rep.PrunedCache), rep.TempFiles)
			for _, r := range rep.DroppedRuns {
				fmt.Fprintf(a.stdout, "  run %s\n", r)
			}
			for _, p := range rep.ExpiredPins {
				fmt.Fprintf(a.stdout, "  %s: past the %s retention\n", p, retention)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&opts.DryRun, "dry-run", "n", false, "report what would be removed, remove nothing")
	cmd.Flags().IntVar(&opts.KeepLast, "keep-last", 0, "keep only the last N runs of each pipeline (0: keep all runs)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&retention, "retention", "25mo", "keep decision logs of scored batches this long: N followed by y, mo, w or d, or forever")
	return cmd
}

// retentionCutoff returns now minus a retention period written as N
// followed by y (years), mo (calendar months), w (weeks) or d (days), or
// the zero time for "forever".
func retentionCutoff(s string, now time.Time) (time.Time, error) {
	if s == "forever" {
		return time.Time{}, nil
	}
	m := retentionRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is not a period: want N followed by y, mo, w or d (25mo, 2y, 90d), or forever", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > 1000 {
		return time.Time{}, fmt.Errorf("%q is too long a period", s)
	}
	switch m[2] {
	case "y":
		return now.AddDate(-n, 0, 0), nil
	case "mo":
		return now.AddDate(0, -n, 0), nil
	case "w":
		return now.AddDate(0, 0, -7*n), nil
	default:
		return now.AddDate(0, 0, -n), nil
	}
}

// retentionRE matches a retention period.
var retentionRE = regexp.MustCompile(`^(\d+)(y|mo|w|d)$`)

// lineageNode is one step in the upstream tree of an object.
type lineageNode struct {
	Step     string                       `json:"step"`
	Kind     string                       `json:"kind"`
	Run      string                       `json:"run"`
	CacheKey string                       `json:"cache_key,omitempty"`
	CacheHit bool                         `json:"cache_hit"`
	Files    []pipeline.FileInfo          `json:"files,omitempty"`
	Outputs  map[string]lineage.ObjectRef `json:"outputs,omitempty"`
	Metrics  lineage.Metrics              `json:"metrics,omitempty"`
	Inputs   map[string]*lineageInput     `json:"inputs,omitempty"`
}

type lineageInput struct {
	Object lineage.ObjectRef `json:"object"`
	From   *lineageNode      `json:"from,omitempty"`
}

func (a *app) lineageCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lineage (OBJECT | RUN [STEP])",
		Short: "Trace an object or a step back to the data files and settings behind it",
		Long: `Trace a model, dataset or metrics object back through every step that led to
it, down to the input files and their SHA-256.

  mlrun lineage RUN STEP     the step of a run (RUN: id, unique prefix or "latest")
  mlrun lineage RUN          the last step of the run
  mlrun lineage OBJECT_ID    an object id (or a unique prefix of at least 8
                             hex digits), found in the newest run that made it`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			run, step, err := resolveLineageTarget(cmd.Context(), st, args)
			if err != nil {
				return err
			}
			node := buildLineage(run, step, map[string]bool{})
			if asJSON {
				return a.writeJSON(node)
			}
			fmt.Fprintf(a.stdout, "run %s  pipeline %s  file %s sha256:%s  mlrun %s\n", run.ID, run.Pipeline, run.File, short(run.FileSHA256), run.Version)
			writeLineage(a.stdout, node, "", "", map[string]bool{})
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the lineage tree as JSON")
	return cmd
}

func resolveLineageTarget(ctx context.Context, st *lineage.Store, args []string) (*lineage.RunRecord, string, error) {
	if len(args) == 2 {
		run, err := getRun(ctx, st, args[0])
		if err != nil {
			return nil, "", err
		}
		if run.Step(args[1]) == nil {
			return nil, "", pipeline.Invalidf("run %s has no step %q", run.ID, args[1])
		}
		return run, args[1], nil
	}
	ref := strings.ToLower(args[0])
	if isHexPrefix(ref) && len(ref) >= 8 {
		runs, err := st.ListRuns(ctx)
		if err != nil {
			return nil, "", err
		}
		matches := map[string]bool{}
		var hitRun *lineage.RunRecord
		var hitStep string
		for i := len(runs) - 1; i >= 0; i-- {
			for _, s := range runs[i].Steps {
				for _, o := range s.Outputs {
					if strings.HasPrefix(o.ID.String(), ref) {
						matches[o.ID.String()] = true
						if hitRun == nil {
							hitRun, hitStep = runs[i], s.ID
						}
					}
				}
			}
		}
		switch len(matches) {
		case 1:
			return hitRun, hitStep, nil
		case 0:
		default:
			ids := sortedKeys(matches)
			return nil, "", pipeline.Invalidf("object prefix %q is ambiguous: %s", ref, strings.Join(ids, ", "))
		}
	}
	run, err := getRun(ctx, st, args[0])
	if err != nil {
		return nil, "", pipeline.Invalidf("%q is neither an object produced by a recorded run nor a run id", args[0])
	}
	if len(run.Steps) == 0 {
		return nil, "", pipeline.Invalidf("run %s has no steps", run.ID)
	}
	return run, run.Steps[len(run.Steps)-1].ID, nil
}

func isHexPrefix(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// buildLineage walks from a step of a run to the steps whose outputs it
// read, matching input object ids to outputs within the same run.
func buildLineage(run *lineage.RunRecord, stepID string, visiting map[string]bool) *lineageNode {
	s := run.Step(stepID)
	if s == nil || visiting[stepID] {
		return nil
	}
	visiting[stepID] = true
	defer delete(visiting, stepID)
	n := &lineageNode{Step: s.ID, Kind: s.Kind, Run: run.ID, CacheKey: s.CacheKey, CacheHit: s.CacheHit,
		Files: s.Files, Outputs: s.Outputs, Metrics: s.Metrics}
	for port, ref := range s.Inputs {
		in := &lineageInput{Object: ref}
		if producer := run.Producer(stepID, ref.ID); producer != "" {
			in.From = buildLineage(run, producer, visiting)
		}
		if n.Inputs == nil {
			n.Inputs = map[string]*lineageInput{}
		}
		n.Inputs[port] = in
	}
	return n
}

func writeLineage(w io.Writer, n *lineageNode, indent, via string, printed map[string]bool) {
	if printed[n.Step] {
		fmt.Fprintf(w, "%s%s%s (%s, see above)\n", indent, via, n.Step, n.Kind)
		return
	}
	printed[n.Step] = true
	hit := ""
	if n.CacheHit {
		hit = ", cache hit"
	}
	fmt.Fprintf(w, "%s%s%s (%s%s) key %s\n", indent, via, n.Step, n.Kind, hit, short(n.CacheKey))
	for _, k := range sortedKeys(n.Outputs) {
		o := n.Outputs[k]
		fmt.Fprintf(w, "%s    out %s: %s %s\n", indent, k, o.Type, o.ID)
	}
	if len(n.Metrics) > 0 {
		fmt.Fprintf(w, "%s    metrics %s\n", indent, fmtMetrics(n.Metrics, 8))
	}
	for _, f := range n.Files {
		fmt.Fprintf(w, "%s    file %s sha256:%s (%d bytes)\n", indent, f.Path, f.SHA256, f.Size)
	}
	ports := make([]string, 0, len(n.Inputs))
	for p := range n.Inputs {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	for _, p := range ports {
		in := n.Inputs[p]
		if in.From == nil {
			fmt.Fprintf(w, "%s  <- %s: %s %s (not produced in this run)\n", indent, p, in.Object.Type, in.Object.ID)
			continue
		}
		writeLineage(w, in.From, indent+"  ", "<- "+p+": ", printed)
	}
}

// storeCommand groups the commands that look into the store itself.
func (a *app) storeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Look into the lineage store: its records and their objects",
		Long: `The store keeps every record (runs, cache entries, registry models, pins,
scored and monitored batches, queued alerts) as an object, in a state tree
that each audit commit names. 'mlrun store ls' lists the records with the
object holding each; 'mlrun store cat' prints one (re-hashed on the way).`,
	}
	cmd.AddCommand(a.storeLsCommand(), a.storeCatCommand(), a.storeCopyCommand("push"), a.storeCopyCommand("pull"))
	return cmd
}

// openStoreAt opens the store at a directory or s3:// URL other than
// --store's (push and pull).
func (a *app) openStoreAt(loc string) (*lineage.Store, error) {
	ctx := context.Background()
	if s3store.IsURL(loc) {
		b, err := s3store.Open(ctx, loc, a.s3Options())
		if err != nil {
			return nil, pipeline.WithExitCode(pipeline.ExitRuntime, err)
		}
		return lineage.OpenBackend(ctx, b, b.URL(), a.storeOptions()...)
	}
	return lineage.Open(loc, a.storeOptions()...)
}

func (a *app) storeCopyCommand(verb string) *cobra.Command {
	var asJSON bool
	use, short, long := "push DST", "Copy this store (--store) into another, local or on S3",
		`Copy the store named by --store (or MLRUN_STORE) into DST, a directory or
s3://BUCKET/PREFIX: every object, then every audit commit, byte for byte, so
that the chain, the records and every audit head printed before stay valid
in the copy. Both ends are verified: the source before (a damaged store is
not copied), the destination after. The copy is resumable: what DST already
holds is skipped, and an interrupted copy leaves DST a valid store at some
commit of the source's. DST must be empty or an earlier copy of the same
store (its audit chain a prefix of the source's); otherwise the chains have
diverged and nothing is copied (exit 1).`
	if verb == "pull" {
		use, short, long = "pull SRC", "Copy another store, local or on S3, into this one (--store)",
			`Copy the store SRC, a directory or s3://BUCKET/PREFIX, into the store named
by --store (or MLRUN_STORE), as 'mlrun store push' does the other way:
resumable, verified at both ends, the audit chain kept.`
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: long + `

Exit codes: 0 copied, 1 the chains diverged or a store does not verify, 2 usage, 3 a store cannot be read or written.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			here, err := a.openStore()
			if err != nil {
				return err
			}
			there, err := a.openStoreAt(args[0])
			if err != nil {
				return err
			}
			src, dst := here, there
			if verb == "pull" {
				src, dst = there, here
			}
			if src.Dir() == dst.Dir() {
				return pipeline.Invalidf("store %s: source and destination are the same store", src.Dir())
			}
			var prog func(done, total int)
			if isTerminal(a.stderr) && !asJSON {
				prog = func(done, total int) { fmt.Fprintf(a.stderr, "\rcopying objects: %d/%d", done, total) }
			}
			rep, err := lineage.Copy(cmd.Context(), src, dst, lineage.CopyOptions{Verify: lineage.VerifyOptions{Refs: storeRefs()}, Progress: prog})
			if prog != nil {
				fmt.Fprintln(a.stderr)
			}
			if err != nil {
				if errors.Is(err, lineage.ErrDiverged) || (rep != nil && ((rep.Source != nil && !rep.Source.OK()) || (rep.Dest != nil && !rep.Dest.OK()))) {
					fmt.Fprintf(a.stderr, "mlrun: %v\n", err)
					return &silentError{code: pipeline.ExitCheckFailed}
				}
				return err
			}
			if asJSON {
				return a.writeJSON(rep)
			}
			fmt.Fprintf(a.stdout, "copied %d objects (%s) and %d commits from %s to %s; %d objects and %d commits were there already\n",
				rep.Objects, fmtBytes(rep.Bytes), rep.Commits, src.Dir(), dst.Dir(), rep.Present, rep.CommitsPresent)
			fmt.Fprintf(a.stdout, "both stores verify; audit head %s\n", rep.Head)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func (a *app) storeLsCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls [NAMESPACE]",
		Short: "List the records of the store (or of one namespace) with their object ids",
		Long: `List the records of the store's state at the tip of the audit chain, as
NAMESPACE/NAME OBJECT_ID, sorted; with NAMESPACE (runs, cache, models, pins,
batches, monitor, alerts, lastkey, active) only its records.

Exit codes: 0 listed, 2 no store, 3 the store cannot be read.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			v, err := st.View(ctx)
			if err != nil {
				return err
			}
			nss, err := v.Namespaces(ctx)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				nss = []string{args[0]}
			}
			type rec struct {
				Record string     `json:"record"`
				ID     lineage.ID `json:"id"`
			}
			out := []rec{}
			for _, ns := range nss {
				m, err := v.Entries(ctx, ns)
				if err != nil {
					return err
				}
				for _, name := range sortedKeys(m) {
					out = append(out, rec{ns + "/" + name, m[name]})
				}
			}
			if asJSON {
				return a.writeJSON(out)
			}
			for _, r := range out {
				fmt.Fprintf(a.stdout, "%s %s\n", r.Record, r.ID)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the records as JSON")
	return cmd
}

func (a *app) storeCatCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cat NAMESPACE/NAME",
		Short: "Print a record of the store",
		Long: `Print the bytes of a record of the store's state (for example
runs/20261126T165100Z-3f9a2c or models/credit-risk), re-hashed on the way: an
altered or missing record is an error.

Exit codes: 0 printed, 2 no such record, 3 the record is damaged or the store cannot be read.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns, name, ok := strings.Cut(args[0], "/")
			if !ok || ns == "" || name == "" {
				return pipeline.Invalidf("want NAMESPACE/NAME, such as runs/RUN_ID or models/NAME, not %q", args[0])
			}
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			v, err := st.View(cmd.Context())
			if err != nil {
				return err
			}
			b, err := v.Get(cmd.Context(), ns, name)
			if err != nil {
				return notFound(err)
			}
			_, err = a.stdout.Write(b)
			return err
		},
	}
}
