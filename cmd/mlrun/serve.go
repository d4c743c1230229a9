package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/serve"
	"github.com/mlrun-cli/mlrun/pipeline"
)

func (a *app) serveCommand() *cobra.Command {
	var (
		modelRef, addr, journal, idField string
		segRows                          int
		segAge, reload, drain            time.Duration
		maxBody                          int64
	)
	cmd := &cobra.Command{
		Use:   "serve --model NAME@ALIAS [--addr 127.0.0.1:8080]",
		Short: "Score applications online over HTTP, each decision recorded before it is answered",
		Long: `Serve a registered model over HTTP: the Open Inference Protocol v2 REST API
(as KServe, Triton and Seldon speak it) and a plain JSON endpoint.

  GET  /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME[/ready]
  POST /v2/models/NAME/infer      one input tensor per field, shape [N]
  POST /score                     a record {"field": value, ...}, a list of
                                  records, or {"records": [...]}
  GET  /metrics                   Prometheus text format

Each record goes through the version's scoring chain (the validate and
derive steps it was trained behind, as mlrun predict applies them; rules
that judge a whole dataset, such as rows or unique, do not apply to one
record), then the model: the score, the decision at the version's threshold
("adverse" when score >= threshold) and, for adverse decisions, the top 4
reason codes with their texts. A record with unknown fields, missing
required fields or values that do not parse is answered 400 with every bad
field named; one failing a validation rule is refused (400) and not scored.

Every decision (request id, row hash of the fields as entered, score,
decision, reasons) is fsynced in the decision journal (--journal, default
STORE/journal) before its response is sent, many requests sharing one fsync.
Segments of the journal roll into the store as decision logs with a
batch.scored audit entry (every --segment-rows decisions, every
--segment-age, on SIGTERM; each holds one model version), where 'mlrun audit explain
--request ID' finds them. A server killed before that leaves its segment:
the next 'mlrun serve' on the store commits it first.

With NAME@ALIAS (or NAME: the latest version), a promotion or rollback that
moves the alias is picked up within --reload, without a restart; requests in
flight finish with the version they started with. SIGTERM or SIGINT stops
accepting, drains requests in flight (up to --drain-timeout) and commits the
journal.

Exit codes: 0 stopped cleanly, 2 invalid usage or model, 3 runtime failure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if modelRef == "" {
				return pipeline.Invalidf("--model NAME@ALIAS is required")
			}
			ctx := cmd.Context()
			st, reg, err := a.openRegistry()
			if err != nil {
				return err
			}
			if st.ReadOnly() {
				return pipeline.Invalidf("the store %s is read-only: mlrun serve records every decision in it", a.storeDir)
			}
			if journal == "" {
				if journal = serve.JournalDir(st); journal == "" {
					return pipeline.Invalidf("a store that is not a local directory needs --journal DIR (a local directory for the decision journal)")
				}
			}
			if journal, err = filepath.Abs(journal); err != nil {
				return err
			}
			kinds, err := a.registry()
			if err != nil {
				return err
			}
			srv, recovered, err := serve.New(ctx, serve.Options{
				Store: st, Registry: reg, Kinds: kinds, Ref: modelRef, JournalDir: journal,
				SegmentRows: segRows, SegmentAge: segAge, Reload: reload, MaxBody: maxBody, IDField: idField,
				Log: a.log.Named("serve"),
			})
			ids := make([]string, 0, len(recovered))
			for id := range recovered {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				fmt.Fprintf(a.stdout, "recovered %d decision(s) of a server that stopped before recording them: batch %s\n", recovered[id], id)
			}
			if err != nil {
				return err
			}
			// A server's heap is small and steady: collect less often
			// (GOGC=400) unless GOGC says otherwise.
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(400)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return pipeline.Invalidf("--addr %s: %v", addr, err)
			}
			v := srv.Served()
			fmt.Fprintf(a.stdout, "serving %s (%s) on http://%s\n", v.Ref(), modelRef, ln.Addr())
			if err := srv.Serve(ctx, ln, drain); err != nil {
				return pipeline.WithExitCode(pipeline.ExitRuntime, err)
			}
			fmt.Fprintln(a.stdout, "stopped: every decision answered is recorded")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&modelRef, "model", "", "the model to serve: NAME@ALIAS (followed when it moves), NAME (the latest version) or NAME@VERSION")
	fl.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
	fl.StringVar(&journal, "journal", "", "directory of the decision journal (default STORE/journal)")
	fl.IntVar(&segRows, "segment-rows", 10000, "decisions per journal segment before it rolls into the store")
	fl.DurationVar(&segAge, "segment-age", 10*time.Second, "age at which a journal segment rolls into the store")
	fl.DurationVar(&reload, "reload", time.Second, "how often to look for a moved alias (0: the default; negative: never)")
	fl.DurationVar(&drain, "drain-timeout", 30*time.Second, "on SIGTERM, how long to wait for requests in flight")
	fl.Int64Var(&maxBody, "max-body", 1<<20, "largest request body in bytes")
	fl.StringVar(&idField, "id", "", "a record field kept as each decision's id (as predict --id)")
	return cmd
}
