package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/pipeline/lineage"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/lineagetest"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store"
	"github.com/mlrun-cli/mlrun/pipeline/lineage/s3store/s3test"
)

func open(t *testing.T, url string, o s3store.Options) *s3store.Backend {
	t.Helper()
	if o.CacheDir == "" {
		o.CacheDir = t.TempDir()
	}
	b, err := s3store.Open(context.Background(), url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return b
}

// TestConformance runs the backend conformance suite against a real S3
// server (versitygw) on the loopback interface, each subtest on its own
// prefix, with short leases.
func TestConformance(t *testing.T) {
	srv := s3test.Start(t, "conformance")
	srv.Setenv(t)
	n := 0
	lineagetest.TestBackend(t, func(t *testing.T) lineage.Backend {
		n++
		return open(t, fmt.Sprintf("s3://conformance/suite-%d", n), s3store.Options{LeaseTTL: 2 * time.Second, LeaseRefresh: 500 * time.Millisecond})
	})
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in, bucket, prefix, err string
	}{
		{"s3://b", "b", "", ""},
		{"s3://b/", "b", "", ""},
		{"s3://b/team/store", "b", "team/store/", ""},
		{"s3://b/team/store/?addressing=virtual", "b", "team/store/", ""},
		{"s3://", "", "", "want s3://BUCKET/PREFIX"},
		{"file:///x", "", "", "want s3://BUCKET/PREFIX"},
		{"s3://key:secret@b/p", "", "", "credentials do not belong in the URL"},
		{"s3://b/a/../c", "", "", "bad prefix"},
		{"s3://b/p?x=1", "", "", `unknown option "x"`},
	} {
		loc, err := s3store.ParseURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseURL(%q) = %v, want error containing %q", c.in, err, c.err)
			}
			if strings.Contains(fmt.Sprint(err), "secret") {
				t.Errorf("ParseURL(%q): the error shows the secret: %v", c.in, err)
			}
			continue
		}
		if err != nil || loc.Bucket != c.bucket || loc.Prefix != c.prefix {
			t.Errorf("ParseURL(%q) = %+v, %v; want %s %q", c.in, loc, err, c.bucket, c.prefix)
		}
	}
}

func openStore(t *testing.T, url string) *lineage.Store {
	t.Helper()
	b := open(t, url, s3store.Options{LeaseTTL: 3 * time.Second, LeaseRefresh: time.Second})
	st, err := lineage.OpenBackend(context.Background(), b, b.URL())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Commits from several stores at once (each with its own local cache, as
// separate processes are) all land: none is lost, the chain verifies, and
// the state holds every record.
func TestConcurrentCommits(t *testing.T) {
	srv := s3test.Start(t, "team")
	srv.Setenv(t)
	ctx := context.Background()
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		st := openStore(t, "s3://team/store")
		wg.Go(func() {
			for i := range each {
				_, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
					_, err := tx.PutJSON(ctx, "notes", fmt.Sprintf("w%d-%d", w, i), map[string]int{"w": w, "i": i})
					tx.Audit(lineage.AuditEntry{Type: "note.added"})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := openStore(t, "s3://team/store")
	v, err := st.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names, err := v.List(ctx, "notes")
	if err != nil || len(names) != writers*each {
		t.Fatalf("%d records after concurrent commits, want %d: %v", len(names), writers*each, err)
	}
	arep, err := st.VerifyAudit(ctx)
	if err != nil || !arep.OK() || arep.Commits != writers*each {
		t.Fatalf("VerifyAudit = %+v, %v; want %d commits", arep, err, writers*each)
	}
	rep, err := st.Verify(ctx, lineage.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// A large object goes up in parts; a reader with another local cache reads
// it back intact; verify re-hashes what the bucket holds, not the cache.
func TestLargeObjectAndDirectVerify(t *testing.T) {
	srv := s3test.Start(t, "big")
	srv.Setenv(t)
	ctx := context.Background()
	st := openStore(t, "s3://big/p")
	data := bytes.Repeat([]byte("0123456789abcdef"), (80<<20)/16) // above the multipart threshold
	var id lineage.ID
	if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		var err error
		if id, err = st.PutBytes(ctx, data); err != nil {
			return err
		}
		return tx.PutPin(ctx, "big", &lineage.Pin{Objects: []lineage.ID{id}})
	}); err != nil {
		t.Fatal(err)
	}
	other := openStore(t, "s3://big/p")
	got, err := other.GetObject(ctx, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back from another cache: %d bytes, %v", len(got), err)
	}
	if rep, err := other.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	// Corrupt the object in the bucket (the server's directory): verify
	// sees it even though the local caches hold intact copies.
	p := srv.Root + "/big/p/objects/" + id.String()[:2] + "/" + id.String()
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("X"), 1000)
	f.Close()
	rep, err := other.Verify(ctx, lineage.VerifyOptions{})
	if err != nil || rep.OK() || len(rep.Problems) != 1 || rep.Problems[0].Problem != lineage.ProblemCorrupt {
		t.Fatalf("Verify of a corrupt object in the bucket = %+v, %v", rep, err)
	}
}

// The server dies mid-commit: the commit fails (after retries), nothing
// half-written is visible, and once the server is back the next commit
// succeeds and the store verifies.
func TestServerKilled(t *testing.T) {
	srv := s3test.Start(t, "crash")
	srv.Setenv(t)
	ctx := context.Background()
	b := open(t, "s3://crash/p", s3store.Options{MaxAttempts: 2, RequestTimeout: 2 * time.Second})
	st, err := lineage.OpenBackend(ctx, b, b.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendAudit(ctx, lineage.AuditEntry{Type: "first"}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_, err = st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		_, err := tx.PutJSON(ctx, "notes", "lost", map[string]string{"x": "y"})
		return err
	})
	if err == nil {
		t.Fatal("a commit with the server down succeeded")
	}
	srv.Restart()
	v, err := st.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.RecordID(ctx, "notes", "lost"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("the failed commit's record is visible: %v", err)
	}
	if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		_, err := tx.PutJSON(ctx, "notes", "kept", map[string]string{"x": "y"})
		return err
	}); err != nil {
		t.Fatalf("commit after the restart: %v", err)
	}
	if rep, err := st.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// GC works on S3: it removes what nothing names and refuses while a run
// holds the store (its shared lease).
func TestGC(t *testing.T) {
	srv := s3test.Start(t, "gc-test")
	srv.Setenv(t)
	ctx := context.Background()
	st := openStore(t, "s3://gc-test/p")
	keep, _, err := st.PutObject(ctx, "metrics", &pipeline.Document{Type: "metrics", Value: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	garbage, _, err := st.PutObject(ctx, "metrics", &pipeline.Document{Type: "metrics", Value: "garbage"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		return tx.PutPin(ctx, "keep", &lineage.Pin{Objects: []lineage.ID{keep}})
	}); err != nil {
		t.Fatal(err)
	}
	other := openStore(t, "s3://gc-test/p")
	unlock, err := other.RunLock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GC(ctx, lineage.GCOptions{}); !errors.Is(err, lineage.ErrStoreBusy) {
		t.Fatalf("GC while another store holds a run lock: %v, want ErrStoreBusy", err)
	}
	unlock()
	rep, err := st.GC(ctx, lineage.GCOptions{})
	if err != nil || rep.DeletedObjects < 1 {
		t.Fatalf("GC = %+v, %v", rep, err)
	}
	if _, err := st.GetObject(ctx, keep); err != nil {
		t.Fatalf("GC removed a pinned object: %v", err)
	}
	if _, err := other.Backend().StatObject(ctx, garbage); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("garbage still in the bucket: %v", err)
	}
	if rep, err := st.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("Verify after GC = %+v, %v", rep, err)
	}
}

// faultProxy stands between the client and the server: it fails requests
// as fail decides (with a 503, or by dropping the connection), to check
// retries and the abort of failed uploads.
func faultProxy(t *testing.T, target string, fail func(r *http.Request, n int64) int) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch code := fail(r, n.Add(1)); code {
		case 0:
			rp.ServeHTTP(w, r)
		case -1: // drop the connection mid-request
			io.Copy(io.Discard, io.LimitReader(r.Body, 1024))
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("no hijacker")
				return
			}
			c, _, _ := hj.Hijack()
			c.Close()
		default:
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(code)
			fmt.Fprintf(w, "<Error><Code>ServiceUnavailable</Code><Message>injected %d</Message></Error>", code)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// 5xx answers, dropped connections and timeouts are retried with backoff:
// a store behind a server that fails every other request works, and
// verifies.
func TestRetries(t *testing.T) {
	srv := s3test.Start(t, "flaky")
	srv.Setenv(t)
	proxy := faultProxy(t, srv.Endpoint, func(r *http.Request, n int64) int {
		switch {
		case n == 9 || n == 30 || n == 51:
			time.Sleep(1500 * time.Millisecond) // past the request timeout
		case n%6 == 2:
			return http.StatusServiceUnavailable
		case n%6 == 4:
			return -1
		}
		return 0
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	ctx := context.Background()
	b := open(t, "s3://flaky/p", s3store.Options{RequestTimeout: time.Second, LeaseTTL: 3 * time.Second, LeaseRefresh: time.Second})
	st, err := lineage.OpenBackend(ctx, b, b.URL())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
			id, err := st.PutBytes(ctx, bytes.Repeat([]byte{byte(i)}, 100_000))
			if err != nil {
				return err
			}
			return tx.PutPin(ctx, fmt.Sprint("p", i), &lineage.Pin{Objects: []lineage.ID{id}})
		}); err != nil {
			t.Fatalf("commit %d through a flaky server: %v", i, err)
		}
	}
	if rep, err := st.Verify(ctx, lineage.VerifyOptions{}); err != nil || !rep.OK() || rep.Records != 10 {
		t.Fatalf("Verify through a flaky server = %+v, %v", rep, err)
	}
}

// A large object whose upload fails half-way (every part after the second
// refused) is never visible, and its parts are aborted: the bucket holds no
// incomplete upload.
func TestMultipartAbort(t *testing.T) {
	srv := s3test.Start(t, "parts")
	srv.Setenv(t)
	var parts atomic.Int64
	proxy := faultProxy(t, srv.Endpoint, func(r *http.Request, n int64) int {
		if r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != "" && parts.Add(1) > 2 {
			return http.StatusInternalServerError
		}
		return 0
	})
	t.Setenv("AWS_ENDPOINT_URL", proxy)
	ctx := context.Background()
	b := open(t, "s3://parts/p", s3store.Options{MaxAttempts: 2})
	st, err := lineage.OpenBackend(ctx, b, b.URL())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("x"), 100<<20)
	_, err = st.Update(ctx, func(ctx context.Context, tx *lineage.Tx) error {
		id, err := st.PutBytes(ctx, data)
		if err != nil {
			return err
		}
		return tx.PutPin(ctx, "big", &lineage.Pin{Objects: []lineage.ID{id}})
	})
	if err == nil {
		t.Fatal("a commit whose object failed to upload succeeded")
	}
	id := lineage.Hash(data)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint) // no more faults
	direct := open(t, "s3://parts/p", s3store.Options{})
	if _, err := direct.StatObject(ctx, id); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("the half-uploaded object is visible: %v", err)
	}
	if n, err := direct.CleanTemp(ctx, 0); err != nil || n != 0 {
		t.Fatalf("CleanTemp found %d incomplete uploads (%v): the failed one was not aborted", n, err)
	}
	v, err := st.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.RecordID(ctx, "pins", "big"); !errors.Is(err, lineage.ErrNotFound) {
		t.Fatalf("the failed commit is visible: %v", err)
	}
}
