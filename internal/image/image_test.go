package image_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/mlrun-cli/mlrun/internal/image"
)

const caCerts = "/etc/ssl/certs/ca-certificates.crt"

// hello builds a small static program standing in for mlrun.
func hello(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the image holds a Linux binary that the test runs")
	}
	if _, err := os.Stat(caCerts); err != nil {
		t.Skipf("no CA bundle (apt-get install ca-certificates): %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello \" + os.Args[1] + \"\\n\") }\n"), 0o644)
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// extract writes the image's /mlrun to a file and returns its path.
func extract(t *testing.T, img v1.Image) string {
	t.Helper()
	hdrs, data, err := image.Files(img)
	if err != nil {
		t.Fatal(err)
	}
	if hdrs[image.BinaryPath].Mode&0o111 == 0 {
		t.Fatalf("mode %o", hdrs[image.BinaryPath].Mode)
	}
	p := filepath.Join(t.TempDir(), "mlrun")
	if err := os.WriteFile(p, data[image.BinaryPath], 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBuild assembles an image, checks its config and files, writes and
// reads its OCI layout, runs the binary from its layer, and builds it
// again to the same digest.
func TestBuild(t *testing.T) {
	bin := hello(t)
	o := image.Options{Binary: bin, CACerts: caCerts, Labels: map[string]string{"org.opencontainers.image.version": "t"}}
	img, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := image.Check(img); err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != "/mlrun" || len(cf.Config.Cmd) != 0 ||
		cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("config %+v", cf)
	}
	mt, _ := img.MediaType()
	if mt != types.OCIManifestSchema1 {
		t.Errorf("media type %s", mt)
	}
	hdrs, _, err := image.Files(img)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range hdrs {
		names = append(names, n)
	}
	for _, want := range []string{"/etc/passwd", "/etc/group", image.CACertsPath, "/tmp", "/home/nonroot", "/mlrun"} {
		if hdrs[want] == nil {
			t.Errorf("no %s in %v", want, names)
		}
	}
	if hdrs["/tmp"].Mode != 0o1777 {
		t.Errorf("/tmp mode %o", hdrs["/tmp"].Mode)
	}

	dir := filepath.Join(t.TempDir(), "layout")
	if err := image.WriteLayout(dir, img, "mlrun:test"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"oci-layout", "index.json", "blobs/sha256"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	back, err := image.ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := back.Digest()
	if d1 != d2 {
		t.Errorf("layout round trip: %s, want %s", d2, d1)
	}
	out, err := exec.Command(extract(t, back), "from-the-layer").Output()
	if err != nil || string(out) != "hello from-the-layer\n" {
		t.Errorf("binary from the layer: %q %v", out, err)
	}

	again, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if d3, _ := again.Digest(); d3 != d1 {
		t.Errorf("not reproducible: %s then %s", d1, d3)
	}
	o.Created = time.Unix(1700000000, 0)
	later, _ := image.Build(o)
	if d4, _ := later.Digest(); d4 == d1 {
		t.Error("the creation time does not reach the digest")
	}
}

// TestRefused checks what Build and Check refuse.
func TestRefused(t *testing.T) {
	bin := hello(t)
	if _, err := image.Build(image.Options{Binary: "/bin/ls", CACerts: caCerts}); !errors.Is(err, image.ErrNotStatic) {
		t.Errorf("dynamic binary: %v", err)
	}
	if _, err := image.Build(image.Options{Binary: bin, CACerts: bin}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("not a CA bundle: %v", err)
	}
	img, err := image.Build(image.Options{Binary: bin, CACerts: caCerts})
	if err != nil {
		t.Fatal(err)
	}
	// A shell added on top, and root as the user: both reported.
	sh, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	withShell, err := mutate.AppendLayers(img, tarLayer(t, "bin/sh", sh))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := withShell.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.User = "0"
	withShell, _ = mutate.ConfigFile(withShell, cf)
	err = image.Check(withShell)
	if err == nil || err.Error() != `image: user "0" is root; has a shell: /bin/sh` {
		t.Errorf("check: %v", err)
	}
}

func tarLayer(t *testing.T, name string, data []byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}
