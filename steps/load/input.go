package load

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// ErrNotRegular is returned (wrapped, with the kind of file) for an input
// that is not a regular file: a directory, or a device, FIFO, socket, ...
// without max_bytes.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLong is returned (wrapped, with the limit) for an input longer than
// max_bytes.
var ErrTooLong = errors.New("longer than max_bytes")

// fileKind names the type of a file that is not regular, for messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeIrregular != 0:
		return "an irregular file"
	}
	return "a special file"
}

// checkInput checks the stat of the input (taken with os.Stat, not Open:
// opening a FIFO blocks) against maxBytes (0 for none): a directory is an
// error; any other file that is not regular needs maxBytes; a regular file
// must not be longer than maxBytes. The error does not name the path.
func checkInput(fi fs.FileInfo, maxBytes int64) error {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		if maxBytes > 0 && fi.Size() > maxBytes {
			return tooLong(maxBytes)
		}
		return nil
	case m.IsDir():
		return fmt.Errorf("%w (a directory)", ErrNotRegular)
	case maxBytes == 0:
		return fmt.Errorf("%w (%s); give max_bytes: to read a device, FIFO or other stream up to a limit", ErrNotRegular, fileKind(m))
	}
	return nil
}

// tooLong is the error for an input longer than maxBytes.
func tooLong(maxBytes int64) error {
	return fmt.Errorf("%w (%d bytes)", ErrTooLong, maxBytes)
}

// capReader reads r up to max+1 bytes: once it has read more than max it
// fails with ErrTooLong. So memory stays bounded by the limit, and a longer
// input is an error, never silently cut.
type capReader struct {
	r   io.Reader
	max int64
	n   int64 // bytes read so far
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n > c.max {
		return 0, tooLong(c.max)
	}
	if room := c.max + 1 - c.n; int64(len(p)) > room {
		p = p[:room]
	}
	k, err := c.r.Read(p)
	c.n += int64(k)
	if c.n > c.max {
		return k, tooLong(c.max)
	}
	return k, err
}

// readInput reads the whole input at path (a device, FIFO, ... read
// once: its bytes are kept for Run) into memory, at most maxBytes of it,
// and returns the bytes with their fingerprint. The buffer never grows
// past maxBytes+1 bytes. Opening a FIFO waits for a writer.
func readInput(path string, maxBytes int64) ([]byte, pipeline.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, pipeline.FileInfo{}, err
	}
	defer f.Close()
	r := &capReader{r: f, max: maxBytes}
	buf := make([]byte, 0, min(maxBytes+1, 64<<10))
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), maxBytes+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, pipeline.FileInfo{}, err
		}
	}
	sum := sha256.Sum256(buf)
	return buf, pipeline.FileInfo{Path: path, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(buf))}, nil
}

// readCSVLimited reads and parses the CSV file at path as
// table.ReadCSVFile does, reading at most maxBytes+1 bytes of it: a regular
// file longer than maxBytes fails before it is read, any other input once
// it has given more.
func readCSVLimited(path string, maxBytes int64, opts table.CSVOptions) (*table.Dataset, table.ReadInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, table.ReadInfo{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > maxBytes {
		return nil, table.ReadInfo{}, tooLong(maxBytes)
	}
	return table.ReadCSV(&capReader{r: f, max: maxBytes}, opts)
}
