package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlrun-cli/mlrun/internal/ui"
	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func (a *app) uiCommand() *cobra.Command {
	var addr, token string
	cmd := &cobra.Command{
		Use:   "ui [--addr 127.0.0.1:8080] [--token TOKEN]",
		Short: "Serve a read-only web UI over the store: runs, models, monitoring, audit",
		Long: `Serve a read-only web UI over the lineage store (a directory or s3://):

  /runs            the runs, filtered with the expressions of 'runs list --where',
                   sorted by time or any metric (-auc), paged; tick runs to compare
  /runs/RUN        steps with cache hits and timings, params, data SHA-256s, git
                   commit, metrics, checks and gates, the lineage graph, the report
  /compare?run=A&run=B   the semantic pipeline diff, params and metrics side by
                   side, ROC curves overlaid
  /models          versions, aliases, promotion history, approvals (pending ones)
  /models/NAME/monitoring  drift per feature, AUC and fairness over batches, alerts
  /audit           the chain's status (audit verify), entries by run, model, type
  /explain         a decision lookup, as 'audit explain'
  /api/...         the same data as JSON (/api/runs, /api/runs/RUN, /api/compare,
                   /api/models, /api/models/NAME, /api/models/NAME/monitoring,
                   /api/audit, /api/explain)

Pages are rendered on the server with inline SVG charts: no script, nothing
fetched from elsewhere, so the UI works offline. Only GET and HEAD are
answered. The run list is kept in memory and refreshed from the records that
changed since the last request.

The UI binds to 127.0.0.1:8080 by default and then answers only to loopback
host names. Any other address needs --token (or MLRUN_UI_TOKEN): every
request must then carry it, as "Authorization: Bearer TOKEN" or through the
cookie set by opening the printed address with ?token=TOKEN once. Port 0
picks a free port.

Exit codes: 0 stopped by a signal, 2 invalid usage (a non-loopback --addr
without --token), 3 the store cannot be read or the address cannot be bound.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ui.CheckAddr(addr, token); err != nil {
				return err
			}
			st, err := a.openStoreRead()
			if err != nil {
				return err
			}
			kinds, err := a.registry()
			if err != nil {
				return err
			}
			srv, err := ui.New(ui.Options{Store: st, Kinds: kinds, SchemaMemo: readMemo{a.memos()}, Jobs: defaultJobs(), Token: token,
				MonitorNS: monitorNS, Logger: a.log.Named("ui")})
			if err != nil {
				return err
			}
			return a.serveUI(cmd.Context(), srv, st, addr, token)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address HOST:PORT (a non-loopback host needs --token)")
	cmd.Flags().StringVar(&token, "token", os.Getenv("MLRUN_UI_TOKEN"), "require this token of every request (env MLRUN_UI_TOKEN)")
	return cmd
}

// serveUI listens on addr and serves until ctx is cancelled (a signal).
func (a *app) serveUI(ctx context.Context, srv *ui.Server, st *lineage.Store, addr, token string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return pipeline.WithExitCode(pipeline.ExitRuntime, fmt.Errorf("mlrun ui: %w", err))
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	u := url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/runs"}
	if token != "" {
		u.RawQuery = url.Values{"token": {token}}.Encode()
	}
	where := st.Dir()
	if a.storeDir != "" {
		where = a.storeDir
	}
	fmt.Fprintf(a.stdout, "mlrun ui: store %s at %s (Ctrl-C stops it)\n", where, u.String())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return pipeline.WithExitCode(pipeline.ExitRuntime, fmt.Errorf("mlrun ui: %w", err))
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return pipeline.WithExitCode(pipeline.ExitRuntime, fmt.Errorf("mlrun ui: shutdown: %w", err))
	}
	return nil
}

// readMemo lends the UI the schemas load steps inferred (this user's
// memos) without writing any.
type readMemo struct{ m *lineage.Memos }

// Get returns a memoised schema.
func (r readMemo) Get(key string) ([]byte, bool) {
	if r.m == nil {
		return nil, false
	}
	return r.m.GetSchema(key)
}

// Put keeps nothing: the UI never writes memos.
func (r readMemo) Put(string, []byte) {}
