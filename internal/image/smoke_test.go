package image_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mlrun-cli/mlrun/internal/image"
)

// TestImageSmoke checks the image make image wrote (MLRUN_IMAGE: its OCI
// layout directory; make image-test sets it): its config and files, then
// runs mlrun version from the binary in its layer. Without MLRUN_IMAGE it
// skips, unless MLRUN_REQUIRE_IMAGE=1.
func TestImageSmoke(t *testing.T) {
	dir := os.Getenv("MLRUN_IMAGE")
	if dir == "" {
		if os.Getenv("MLRUN_REQUIRE_IMAGE") == "1" {
			t.Fatal("MLRUN_IMAGE is not set (MLRUN_REQUIRE_IMAGE=1): run make image-test")
		}
		t.Skip("MLRUN_IMAGE is not set: make image-test builds the image and runs this")
	}
	img, err := image.ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := image.Check(img); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(extract(t, img), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "mlrun ") {
		t.Fatalf("mlrun version from the image: %q %v", out, err)
	}
	d, _ := img.Digest()
	t.Logf("%s: %s", d, strings.TrimSpace(string(out)))
}
