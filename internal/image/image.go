// Package image assembles mlrun's container image without a daemon or a
// base image to pull: an OCI image of two layers (the CA certificates with
// a passwd entry for the non-root user and a /tmp, then the static mlrun
// binary at /mlrun), with User 65532:65532 and Entrypoint ["/mlrun"], and
// no shell. It is what the Dockerfile builds on distroless/static, written
// with go-containerregistry so that CI can build and check it where no
// container runtime runs.
//
// The image is reproducible: every tar entry has a fixed time (Options.Created,
// SOURCE_DATE_EPOCH in cmd/mlrun-image), owner and order, so the same binary
// and certificates give the same digest.
package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the image's user and group: distroless's "nonroot".
const User = "65532:65532"

// BinaryPath is where the image holds mlrun.
const BinaryPath = "/mlrun"

// CACertsPath is where the image holds the CA bundle (where Go's crypto/x509
// looks on Linux).
const CACertsPath = "/etc/ssl/certs/ca-certificates.crt"

// Options say what goes into the image.
type Options struct {
	// Binary is the static Linux mlrun executable.
	Binary string
	// CACerts is a PEM bundle of CA certificates (Debian's
	// ca-certificates package: /etc/ssl/certs/ca-certificates.crt).
	CACerts string
	// Created is the image's creation time and every file's modification
	// time (default: the Unix epoch).
	Created time.Time
	// Labels are the config's labels (org.opencontainers.image.*).
	Labels map[string]string
}

// ErrNotStatic is returned for a binary that needs a dynamic loader.
var ErrNotStatic = errors.New("not a static executable")

// Build assembles the image.
func Build(o Options) (v1.Image, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	arch, err := staticArch(bin)
	if err != nil {
		return nil, fmt.Errorf("image: %s: %w", o.Binary, err)
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("image: CA certificates: %w", err)
	}
	if !bytes.Contains(certs, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("image: %s: no PEM certificate", o.CACerts)
	}
	t := o.Created.UTC()
	if o.Created.IsZero() {
		t = time.Unix(0, 0).UTC()
	}
	base := []file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(CACertsPath, "/"), mode: 0o644, data: certs},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, dir: true, uid: 65532},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	l1, err := layer(base, t)
	if err != nil {
		return nil, err
	}
	l2, err := layer([]file{{name: strings.TrimPrefix(BinaryPath, "/"), mode: 0o755, data: bin}}, t)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: l1, History: v1.History{Created: v1.Time{Time: t}, CreatedBy: "mlrun-image: CA certificates, passwd, /tmp", Comment: "ca-certificates"}, MediaType: types.OCILayer},
		mutate.Addendum{Layer: l2, History: v1.History{Created: v1.Time{Time: t}, CreatedBy: "mlrun-image: COPY mlrun " + BinaryPath}, MediaType: types.OCILayer},
	)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, "linux"
	cf.Created = v1.Time{Time: t}
	cf.Config.User = User
	cf.Config.Entrypoint = []string{BinaryPath}
	cf.Config.Cmd = nil
	cf.Config.WorkingDir = "/"
	cf.Config.Env = []string{"HOME=/home/nonroot", "SSL_CERT_FILE=" + CACertsPath}
	cf.Config.Labels = o.Labels
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

type file struct {
	name string
	mode int64
	dir  bool
	uid  int
	data []byte
}

// layer makes a gzipped tar layer of the files, sorted, with fixed times
// and owners.
func layer(files []file, t time.Time) (v1.Layer, error) {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: t, Uid: f.uid, Gid: f.uid, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// staticArch returns the OCI architecture of a static Linux ELF
// executable, or ErrNotStatic.
func staticArch(b []byte) (string, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("not an ELF executable: %w", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%w: it needs the dynamic loader (build with CGO_ENABLED=0)", ErrNotStatic)
		}
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	}
	return "", fmt.Errorf("architecture %v", f.Machine)
}

// WriteLayout writes the image as an OCI image layout directory (replacing
// one there), its index naming it ref.
func WriteLayout(dir string, img v1.Image, ref string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return nil
}

// ReadLayout returns the image of an OCI layout written by WriteLayout.
func ReadLayout(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("image: %s: %d images, want 1", dir, len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}

// Files lists the image's files (the layers applied in order) with their
// contents, for checks.
func Files(img v1.Image) (map[string]*tar.Header, map[string][]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("image: %w", err)
	}
	hdrs, data := map[string]*tar.Header{}, map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, nil, fmt.Errorf("image: %w", err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				rc.Close()
				return nil, nil, fmt.Errorf("image: %w", err)
			}
			name := "/" + strings.TrimSuffix(path.Clean(h.Name), "/")
			hdrs[name] = h
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					rc.Close()
					return nil, nil, fmt.Errorf("image: %w", err)
				}
				data[name] = b
			}
		}
		rc.Close()
	}
	return hdrs, data, nil
}

// Check verifies what the image promises: a non-root user, the entrypoint
// /mlrun, a static binary there, CA certificates, and no shell.
func Check(img v1.Image) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	var problems []string
	if cf.Config.User == "" || strings.HasPrefix(cf.Config.User, "0") || strings.HasPrefix(cf.Config.User, "root") {
		problems = append(problems, fmt.Sprintf("user %q is root", cf.Config.User))
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != BinaryPath {
		problems = append(problems, fmt.Sprintf("entrypoint %q, want [%s]", cf.Config.Entrypoint, BinaryPath))
	}
	hdrs, data, err := Files(img)
	if err != nil {
		return err
	}
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/sh"} {
		if hdrs[sh] != nil {
			problems = append(problems, "has a shell: "+sh)
		}
	}
	if b, ok := data[BinaryPath]; !ok {
		problems = append(problems, "no "+BinaryPath)
	} else if _, err := staticArch(b); err != nil {
		problems = append(problems, BinaryPath+": "+err.Error())
	} else if hdrs[BinaryPath].Mode&0o111 == 0 {
		problems = append(problems, BinaryPath+" is not executable")
	}
	if !bytes.Contains(data[CACertsPath], []byte("-----BEGIN CERTIFICATE-----")) {
		problems = append(problems, "no CA certificates at "+CACertsPath)
	}
	if len(problems) > 0 {
		return fmt.Errorf("image: %s", strings.Join(problems, "; "))
	}
	return nil
}
