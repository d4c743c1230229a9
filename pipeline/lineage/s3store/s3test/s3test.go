// Package s3test starts a real S3 server on the loopback interface for
// tests: versitygw (github.com/versity/versitygw), serving a temporary
// directory. The binary is $VERSITYGW, else versitygw on $PATH, else
// $GOPATH/bin/versitygw (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0).
// Without it tests skip, unless MLRUN_REQUIRE_S3=1 (CI), where they fail.
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// Root is the directory it serves; each bucket is a directory in it.
	Root string
	bin  string
	port string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	t    testing.TB
}

// Binary returns the versitygw binary, or "" when there is none.
func Binary() string {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if p := filepath.Join(gopath, "bin", "versitygw"); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Start starts a server for the test, stopped at its end, with buckets
// made for each name given.
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("MLRUN_REQUIRE_S3") == "1" {
			t.Fatal("versitygw not found (MLRUN_REQUIRE_S3=1): go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
		}
		t.Skip("versitygw not found: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 (or set VERSITYGW)")
	}
	s := &Server{AccessKey: "mlrun-test-access", SecretKey: "mlrun-test-secret-" + fmt.Sprint(time.Now().UnixNano()),
		Root: t.TempDir(), bin: bin, t: t}
	for _, b := range buckets {
		if err := os.Mkdir(filepath.Join(s.Root, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.port = freePort(t)
	s.Endpoint = "http://127.0.0.1:" + s.port
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func (s *Server) start() {
	s.t.Helper()
	s.log = &bytes.Buffer{}
	cmd := exec.Command(s.bin, "--port", "127.0.0.1:"+s.port, "--access", s.AccessKey, "--secret", s.SecretKey, "posix", s.Root)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start versitygw: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	s.t.Fatalf("versitygw did not start on %s:\n%s", s.Endpoint, s.log)
}

// Stop kills the server (SIGKILL: as a crash would).
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	killProcessGroup(s.cmd)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port and directory.
func (s *Server) Restart() {
	s.Stop()
	s.start()
}

// Env returns the environment a client needs: credentials, region and
// endpoint, with the AWS configuration files pointed away from the user's.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_SESSION_TOKEN=",
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL=" + s.Endpoint,
		"AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Setenv sets Env in the test's process environment (t.Setenv).
func (s *Server) Setenv(t *testing.T) {
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Log returns what the server printed.
func (s *Server) Log() string { return s.log.String() }

// Wait is a short pause for the server to settle, for tests that kill it.
func Wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
