package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/identity"
	"github.com/mlrun-cli/mlrun/internal/outpath"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/diag"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store"
	"github.com/mlrun-cli/mlrun/steps"
)

// app holds what every command shares: streams, global flags, the logger.
// It is built once per Main call; there is no package-level state.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	storeDir  string
	logLevel  string
	logFormat string

	log hclog.Logger

	// args are the command line; cmd the command being run (set before it
	// runs): together they say whether errors are printed as JSON.
	args []string
	cmd  *cobra.Command
	// keepWarnings makes loadPipeline keep the warnings of a pipeline that
	// loaded in warnings instead of printing them (validate --json, run -q).
	keepWarnings bool
	warnings     []diag.Diagnostic

	// store is the store opened by openStore, shared by the schema memo
	// and the command.
	store *lineage.Store
	// memoIgnore makes every schema memo lookup miss (--rehash). Set by a
	// command before loadPipeline.
	memoIgnore bool
	// noRegister keeps register steps from registering (run --no-register).
	noRegister bool
	// memoStore are this user's memos, opened once (memosOpened).
	memoStore   *lineage.Memos
	memosOpened bool
	// actor is who acts (internal/identity), resolved once.
	actor         identity.Principal
	principalOnce sync.Once
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr}
}

const rootLong = `mlrun turns machine-learning work in regulated finance into pipeline-as-code.

A pipeline is one YAML file: load (CSV, fingerprinted), validate, derive,
split, train and evaluate steps, connected by references. mlrun runs the steps
as a DAG, in parallel where it can, caches each one by a hash of its inputs
and resolved configuration, and records every run in a content-addressed
lineage store (default .mlrun/, or --store / MLRUN_STORE).

Exit codes:
  0  ok
  1  a validation rule, gate or check failed
  2  invalid pipeline file, input or usage
  3  runtime failure (I/O, corrupt store, internal error)`

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "mlrun",
		Short:         "Pipeline-as-code for credit-risk machine learning",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.cmd = cmd
			return a.setup()
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return pipeline.WithExitCode(pipeline.ExitInvalid, fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath()))
	})
	pf := root.PersistentFlags()
	defStore := os.Getenv("MLRUN_STORE")
	if defStore == "" {
		defStore = ".mlrun"
	}
	pf.StringVar(&a.storeDir, "store", defStore, "lineage store: a directory, or s3://BUCKET/PREFIX (env MLRUN_STORE)")
	pf.StringVar(&a.logLevel, "log-level", "warn", "log level: trace, debug, info, warn, error")
	pf.StringVar(&a.logFormat, "log-format", "human", "log format: human or json")

	root.AddCommand(
		a.runCommand(),
		a.planCommand(),
		a.validateCommand(),
		a.dagCommand(),
		a.runsCommand(),
		a.lineageCommand(),
		a.verifyCommand(),
		a.gcCommand(),
		a.auditCommand(),
		a.monitorCommand(),
		a.versionCommand(),
		a.diffCommand(), a.fmtCommand(), a.whyCommand(),
		a.schemaCommand(),
		a.modelsCommand(), a.predictCommand(), a.serveCommand(),
		a.reportCommand(),
		a.alertsCommand(),
		a.storeCommand(),
		a.exportCommand(), a.retrainCommand(),
		a.waiveCommand(), a.waiversCommand(), a.signersCommand(),
		a.uiCommand(),
	)
	a.finishTree(root)
	return root
}

func (a *app) setup() error {
	switch a.logFormat {
	case "human", "json":
	default:
		return pipeline.Invalidf("--log-format must be human or json, not %q", a.logFormat)
	}
	level := hclog.LevelFromString(a.logLevel)
	if level == hclog.NoLevel {
		return pipeline.Invalidf("--log-level must be trace, debug, info, warn or error, not %q", a.logLevel)
	}
	a.log = hclog.New(&hclog.LoggerOptions{
		Name:       "mlrun",
		Level:      level,
		Output:     a.stderr,
		JSONFormat: a.logFormat == "json",
		Color:      hclog.AutoColor,
	})
	return nil
}

// registry builds the registry of built-in step kinds.
func (a *app) registry() (*pipeline.Registry, error) {
	reg, err := steps.Builtin()
	if err != nil {
		return nil, fmt.Errorf("registering step kinds: %w", err)
	}
	return reg, nil
}

// openStore opens (creating if needed) the lineage store, once. A store
// that cannot be written is opened read-only (every read command works on
// it). A writable store first records the runs whose process died as
// interrupted.
func (a *app) openStore() (*lineage.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	var st *lineage.Store
	var err error
	if s3store.IsURL(a.storeDir) {
		st, err = a.openS3Store() // its errors name the store
	} else if st, err = lineage.Open(a.storeDir, a.storeOptions()...); err != nil {
		err = fmt.Errorf("opening store %s: %w", a.storeDir, err)
	}
	if err != nil {
		return nil, err
	}
	a.store = st
	ids, err := st.RecoverInterrupted(context.Background())
	for _, id := range ids {
		fmt.Fprintf(a.stderr, "mlrun: run %s was interrupted (its process died before it finished); recorded as interrupted\n", id)
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "mlrun: cannot record interrupted runs: %v\n", err)
	}
	return st, nil
}

// openS3Store opens the store at an s3:// URL, its objects cached in the
// user's cache directory.
func (a *app) openS3Store() (*lineage.Store, error) {
	ctx := context.Background()
	b, err := s3store.Open(ctx, a.storeDir, a.s3Options())
	if err != nil {
		return nil, pipeline.WithExitCode(pipeline.ExitRuntime, err)
	}
	return lineage.OpenBackend(ctx, b, b.URL(), a.storeOptions()...)
}

// s3Options are the options of S3 stores: the local cache, and
// MLRUN_S3_LEASE_TTL (a Go duration; default 60s), after which a run whose
// lease was not refreshed is taken for dead.
func (a *app) s3Options() s3store.Options {
	o := s3store.Options{CacheDir: a.cacheDir()}
	if d, err := time.ParseDuration(os.Getenv("MLRUN_S3_LEASE_TTL")); err == nil && d > 0 {
		o.LeaseTTL, o.LeaseRefresh = d, d/4
	}
	return o
}

// openStoreRead opens an existing store for reading: a missing store is a
// usage error (exit 2), and nothing is created.
func (a *app) openStoreRead() (*lineage.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	if s3store.IsURL(a.storeDir) {
		return a.openStore()
	}
	if _, err := os.Stat(filepath.Join(a.storeDir, lineage.VersionFile)); err != nil {
		return nil, pipeline.Invalidf("no mlrun store at %s (run a pipeline first, or give --store)", a.storeDir)
	}
	return a.openStore()
}

// cacheDir is this user's cache: $MLRUN_CACHE_DIR, else the user cache
// directory's mlrun/ ("" when there is none).
func (a *app) cacheDir() string {
	if dir := os.Getenv("MLRUN_CACHE_DIR"); dir != "" {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "mlrun-cache")
	}
	return filepath.Join(base, "mlrun")
}

// memos returns this user's memos, in the cache directory; nil (no memo)
// when it cannot be used.
func (a *app) memos() *lineage.Memos {
	if a.memosOpened {
		return a.memoStore
	}
	a.memosOpened = true
	dir := a.cacheDir()
	m, err := lineage.OpenMemos(dir)
	if err != nil {
		if a.log != nil {
			a.log.Debug("memos disabled", "error", err)
		}
		return nil
	}
	a.memoStore = m
	return m
}

// outputGuard refuses output paths inside the store (for a store on S3:
// inside its local cache).
func (a *app) outputGuard() *outpath.Guard {
	if s3store.IsURL(a.storeDir) {
		return outpath.NewGuard(filepath.Join(a.cacheDir(), "s3"))
	}
	return outpath.NewGuard(a.storeDir)
}

// schemaMemo is loadPipeline's pipeline.SchemaMemo: the schemas load steps
// inferred, in this user's memos (outside the store: validate, plan and dag
// never open one). Entries are kept until the pipeline has loaded, then
// written by flush: an invalid pipeline leaves none.
type schemaMemo struct {
	a       *app
	memos   *lineage.Memos
	opened  bool
	pending [][2]string
}

func (m *schemaMemo) get() *lineage.Memos {
	if !m.opened {
		m.opened = true
		m.memos = m.a.memos()
	}
	return m.memos
}

func (m *schemaMemo) Get(key string) ([]byte, bool) {
	if m.a.memoIgnore {
		return nil, false
	}
	return m.get().GetSchema(key)
}

func (m *schemaMemo) Put(key string, data []byte) {
	m.pending = append(m.pending, [2]string{key, string(data)})
}

// flush writes the pending entries of a pipeline that loaded.
func (m *schemaMemo) flush() {
	for _, e := range m.pending {
		m.get().PutSchema(e[0], []byte(e[1]))
	}
	m.pending = nil
}

// loadPipeline loads and compiles a pipeline file with -p overrides.
func (a *app) loadPipeline(path string, overrides []string) (*pipeline.Pipeline, error) {
	reg, err := a.registry()
	if err != nil {
		return nil, err
	}
	ov := map[string]string{}
	for _, kv := range overrides {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, pipeline.Invalidf("-p %q: want name=value", kv)
		}
		ov[k] = v
	}
	memo := &schemaMemo{a: a}
	var warnings diag.List
	p, err := pipeline.Load(path, pipeline.LoadOptions{Registry: reg, Overrides: ov, SchemaMemo: memo, Warnings: &warnings})
	if err == nil {
		memo.flush()
		a.warnings = warnings.Items()
		if !a.keepWarnings {
			a.printWarnings(a.warnings)
		}
	}
	return p, err
}

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// writeJSON writes v as indented JSON to stdout.
func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func defaultJobs() int { return runtime.NumCPU() }
