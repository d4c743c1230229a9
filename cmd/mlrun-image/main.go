// Command mlrun-image assembles mlrun's container image from a static
// Linux mlrun binary, without a daemon (internal/image), and writes it as
// an OCI image layout directory and, with -tar, a tarball that docker load
// and podman load read. It prints the image's digest. make image runs it.
//
//	CGO_ENABLED=0 GOOS=linux go build -trimpath -o bin/linux/mlrun ./cmd/mlrun
//	go run ./cmd/mlrun-image -binary bin/linux/mlrun -out bin/image
//
// Times in the image are SOURCE_DATE_EPOCH's (default 0), so the same
// binary and CA bundle give the same digest.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/mlrun-cli/mlrun/internal/image"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mlrun-image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mlrun-image", flag.ContinueOnError)
	bin := fs.String("binary", "bin/linux/mlrun", "the static Linux mlrun `binary`")
	certs := fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates (Debian's ca-certificates)")
	out := fs.String("out", "bin/image", "OCI image layout `directory` to write")
	tarPath := fs.String("tar", "", "also write a docker/podman-loadable tarball to this `file`")
	ref := fs.String("tag", "mlrun:latest", "the image's reference name")
	version := fs.String("version", "", "org.opencontainers.image.version label")
	if err := fs.Parse(args); err != nil {
		return err
	}
	created := time.Unix(0, 0)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		created = time.Unix(n, 0)
	}
	labels := map[string]string{
		"org.opencontainers.image.title":  "mlrun",
		"org.opencontainers.image.source": "https://github.com/mlrun-cli/mlrun",
	}
	if *version != "" {
		labels["org.opencontainers.image.version"] = *version
	}
	img, err := image.Build(image.Options{Binary: *bin, CACerts: *certs, Created: created, Labels: labels})
	if err != nil {
		return err
	}
	if err := image.Check(img); err != nil {
		return err
	}
	if err := image.WriteLayout(*out, img, *ref); err != nil {
		return err
	}
	if *tarPath != "" {
		tag, err := name.NewTag(*ref)
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(*tarPath, tag, img); err != nil {
			return err
		}
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", *ref, d)
	return nil
}
