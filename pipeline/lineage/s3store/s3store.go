package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"

	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Defaults of Options.
const (
	DefaultLeaseTTL      = 60 * time.Second
	DefaultLeaseRefresh  = 15 * time.Second
	DefaultUploads       = 2
	DefaultMaxAttempts   = 6
	DefaultRequestTimout = 2 * time.Minute
	// multipartAbove is the object size above which uploads go in parts.
	multipartAbove = 64 << 20
	partSize       = 32 << 20
	// checksumUpTo is the size up to which uploads carry their SHA-256.
	checksumUpTo = 8 << 20
)

// Options configure Open.
type Options struct {
	// CacheDir holds the local cache of the store's objects (required); a
	// directory per store URL is made below it.
	CacheDir string
	// Uploads bounds the uploads in flight (0: DefaultUploads).
	Uploads int
	// LeaseTTL and LeaseRefresh time the leases that stand for locks (0:
	// the defaults).
	LeaseTTL, LeaseRefresh time.Duration
	// MaxAttempts bounds the attempts of each request: 5xx, throttling
	// and timeouts are retried with exponential backoff and jitter (0:
	// DefaultMaxAttempts).
	MaxAttempts int
	// RequestTimeout bounds each request (0: DefaultRequestTimout).
	RequestTimeout time.Duration
	// HTTPClient sends the requests (nil: one made for the store, which
	// honours AWS_CA_BUNDLE).
	HTTPClient aws.HTTPClient
}

// Backend is a lineage.Backend on an S3 bucket. It is safe for concurrent
// use; Close flushes the uploads in flight.
type Backend struct {
	client   *s3.Client
	uploader *manager.Uploader
	bucket   string
	prefix   string // "" or "some/prefix/"
	url      string
	cache    string
	ttl      time.Duration
	refresh  time.Duration

	q uploadQueue

	leaseMu sync.Mutex
	shared  map[string]*lease // shared leases held by this process, by lock name
}

// Location is a parsed s3:// store URL.
type Location struct {
	Bucket, Prefix string
	// PathStyle is nil when the URL does not say (?addressing=path|virtual).
	PathStyle *bool
}

// IsURL reports whether s names an S3 store (s3://...).
func IsURL(s string) bool { return strings.HasPrefix(s, "s3://") }

// ParseURL parses s3://BUCKET[/PREFIX][?addressing=path|virtual].
func ParseURL(raw string) (Location, error) {
	var loc Location
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return loc, fmt.Errorf("store %q: want s3://BUCKET/PREFIX", raw)
	}
	if u.User != nil {
		return loc, fmt.Errorf("store %q: credentials do not belong in the URL (use the AWS environment or profile)", "s3://"+u.Host+u.Path)
	}
	loc.Bucket = u.Host
	loc.Prefix = strings.Trim(u.Path, "/")
	if strings.Contains(loc.Prefix, "//") || strings.Contains(loc.Prefix, "..") {
		return loc, fmt.Errorf("store %q: bad prefix %q", raw, loc.Prefix)
	}
	if loc.Prefix != "" {
		loc.Prefix += "/"
	}
	for k, v := range u.Query() {
		switch {
		case k == "addressing" && len(v) == 1 && (v[0] == "path" || v[0] == "virtual"):
			p := v[0] == "path"
			loc.PathStyle = &p
		default:
			return loc, fmt.Errorf("store %q: unknown option %q (want addressing=path or addressing=virtual)", raw, k)
		}
	}
	return loc, nil
}

// String renders the location as an s3:// URL.
func (l Location) String() string {
	return "s3://" + l.Bucket + "/" + strings.TrimSuffix(l.Prefix, "/")
}

// Open returns the backend of the store at an s3:// URL, configured from
// the standard AWS environment (see the package doc). It checks that the
// bucket can be reached.
func Open(ctx context.Context, rawURL string, o Options) (*Backend, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if o.CacheDir == "" {
		return nil, errors.New("s3 store: no local cache directory")
	}
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	timeout := o.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimout
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConnsPerHost = 32
			tr.ResponseHeaderTimeout = timeout
		})
	}
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithHTTPClient(hc),
		config.WithLogger(logging.Nop{}), // the SDK's own warnings stay out of mlrun's output
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = 10 * time.Second
			})
		}))
	if err != nil {
		return nil, fmt.Errorf("s3 store %s: AWS configuration: %w", loc, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // S3-compatible servers accept any
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return nil, fmt.Errorf("s3 store %s: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with a role (web identity, instance or task role)", loc)
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	pathStyle := endpoint != ""
	if loc.PathStyle != nil {
		pathStyle = *loc.PathStyle
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = pathStyle
		// Objects carry their own SHA-256 (x-amz-checksum-sha256): no
		// other checksum is computed.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	sum := sha256.Sum256([]byte(loc.String() + "\x00" + endpoint))
	b := &Backend{
		client: client, bucket: loc.Bucket, prefix: loc.Prefix, url: loc.String(),
		cache:   filepath.Join(o.CacheDir, "s3", hex.EncodeToString(sum[:10])),
		ttl:     o.LeaseTTL,
		refresh: o.LeaseRefresh,
		shared:  map[string]*lease{},
	}
	if b.ttl <= 0 {
		b.ttl = DefaultLeaseTTL
	}
	if b.refresh <= 0 {
		b.refresh = DefaultLeaseRefresh
	}
	b.uploader = manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = 2
		u.LeavePartsOnError = false // abort a failed multipart upload
	})
	n := o.Uploads
	if n <= 0 {
		n = DefaultUploads
	}
	b.q.init(n, b.upload)
	for _, d := range []string{"objects", "tmp"} {
		if err := os.MkdirAll(filepath.Join(b.cache, d), 0o755); err != nil {
			return nil, fmt.Errorf("s3 store %s: local cache: %w", loc, err)
		}
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b.bucket)}); err != nil {
		return nil, fmt.Errorf("s3 store %s: %w", loc, cleanErr(err))
	}
	return b, nil
}

// URL returns the store's s3:// URL.
func (b *Backend) URL() string { return b.url }

// CacheDir returns the store's local cache directory.
func (b *Backend) CacheDir() string { return b.cache }

// Close waits for the uploads in flight.
func (b *Backend) Close(ctx context.Context) error { return b.Flush(ctx) }

func (b *Backend) objectKey(id lineage.ID) string {
	h := id.String()
	return b.prefix + "objects/" + h[:2] + "/" + h
}

func (b *Backend) recordKey(ns, name string) (string, error) {
	if err := lineage.ValidateName(ns); err != nil {
		return "", fmt.Errorf("namespace: %w", err)
	}
	if err := lineage.ValidateName(name); err != nil {
		return "", err
	}
	return b.prefix + "records/" + ns + "/" + name + ".json", nil
}

func (b *Backend) cachePath(id lineage.ID) string {
	h := id.String()
	return filepath.Join(b.cache, "objects", h[:2], h)
}

// status returns the HTTP status of a failed request (0: none).
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

func isNotFound(err error) bool {
	var nk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nk) || errors.As(err, &nf) || status(err) == http.StatusNotFound
}

// cleanErr shortens an SDK error to its operation and cause.
func cleanErr(err error) error { return err }

// withPayloadHash signs a request with a payload SHA-256 the caller knows
// (an object's id), so that the SDK does not hash the body again.
func withPayloadHash(hexSum string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("mlrunPayloadHash",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					return next.HandleFinalize(v4.SetPayloadHash(ctx, hexSum), in)
				}), "ComputePayloadHash", middleware.Before)
		})
	}
}

// PutObject implements lineage.Backend: the bytes go to the local cache
// (their hash checked) and are uploaded in the background; Flush waits for
// the upload.
func (b *Backend) PutObject(ctx context.Context, id lineage.ID, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.q.remote(id) {
		return nil
	}
	p := b.cachePath(id)
	if fi, err := os.Stat(p); err == nil {
		b.q.enqueue(id, p, fi.Size())
		return nil
	}
	f, err := os.CreateTemp(filepath.Join(b.cache, "tmp"), "put-*")
	if err != nil {
		return fmt.Errorf("put object %s: %w", id.Short(), err)
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("put object %s: %w", id.Short(), err)
	}
	if got := lineage.ID(h.Sum(nil)); got != id {
		return fmt.Errorf("put object %s: %w (got %s)", id.Short(), lineage.ErrInvalidData, got.Short())
	}
	if err := b.intoCache(f.Name(), id); err != nil {
		return err
	}
	b.q.enqueue(id, p, n)
	return nil
}

// intoCache renames a verified temporary file into the cache as id.
func (b *Backend) intoCache(tmp string, id lineage.ID) error {
	p := b.cachePath(id)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	_ = os.Chmod(tmp, 0o444)
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	return nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// PutObjectStream implements lineage.StreamPutter: the encoding is written
// to the local cache while it is hashed, then uploaded in the background.
func (b *Backend) PutObjectStream(ctx context.Context, write func(w io.Writer) error) (lineage.ID, int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return lineage.ID{}, 0, false, err
	}
	f, err := os.CreateTemp(filepath.Join(b.cache, "tmp"), "put-*")
	if err != nil {
		return lineage.ID{}, 0, false, fmt.Errorf("put object: %w", err)
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	var cw countWriter
	bw := newBufWriter(io.MultiWriter(f, h, &cw))
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return lineage.ID{}, 0, false, fmt.Errorf("put object: %w", err)
	}
	id := lineage.ID(h.Sum(nil))
	if b.q.remote(id) {
		return id, cw.n, false, nil
	}
	if _, err := os.Stat(b.cachePath(id)); err != nil {
		if err := b.intoCache(f.Name(), id); err != nil {
			return lineage.ID{}, 0, false, err
		}
	}
	b.q.enqueue(id, b.cachePath(id), cw.n)
	return id, cw.n, true, nil
}

// upload makes object id durable in the bucket.
func (b *Backend) upload(ctx context.Context, id lineage.ID, path string, size int64) error {
	key := b.objectKey(id)
	if size > multipartAbove {
		// A single PUT is conditional (If-None-Match: *); a multipart one
		// is not, so an object that is there is not sent again.
		if _, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key}); err == nil {
			return nil
		} else if !isNotFound(err) {
			return fmt.Errorf("upload object %s: %w", id.Short(), err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("upload object %s: %w", id.Short(), err)
	}
	defer f.Close()
	// The body of a large object is not signed (UNSIGNED-PAYLOAD, as the
	// SDK does over TLS) and carries no checksum: hashing it again on
	// both ends would cost more than the upload, and an object is checked
	// against its id, its SHA-256, whenever it is read and by verify. A
	// small object (records, state nodes, models, metrics: what cannot be
	// recomputed) carries its SHA-256, which the server checks on write.
	unsigned := s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	switch {
	case size > multipartAbove:
		// In parts; a failure aborts the upload, so no part of the
		// object is ever visible.
		_, err = b.uploader.Upload(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: f},
			manager.WithUploaderRequestOptions(unsigned))
	case size > checksumUpTo:
		_, err = b.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &b.bucket, Key: &key, Body: f, ContentLength: aws.Int64(size), IfNoneMatch: aws.String("*"),
		}, unsigned)
	default:
		sum := id
		_, err = b.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &b.bucket, Key: &key, Body: f, ContentLength: aws.Int64(size), IfNoneMatch: aws.String("*"),
			ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		}, withPayloadHash(id.String()))
	}
	if s := status(err); s == http.StatusPreconditionFailed || s == http.StatusConflict {
		err = nil // written meanwhile by another process: the same bytes
	}
	if err != nil {
		return fmt.Errorf("upload object %s: %w", id.Short(), err)
	}
	return nil
}

// Flush implements lineage.Flusher: it waits for every upload queued so far
// and returns their failures (the objects stay in the local cache; a later
// PutObject of the same id queues them again).
func (b *Backend) Flush(ctx context.Context) error { return b.q.flush(ctx) }

// GetObject implements lineage.Backend: from the local cache when the copy
// there is intact, else from the bucket (kept in the cache when it hashes
// to its id; handed on as it is otherwise, for the Store to report).
func (b *Backend) GetObject(ctx context.Context, id lineage.ID) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := b.cachePath(id)
	if data, err := os.ReadFile(p); err == nil {
		if lineage.Hash(data) == id {
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		os.Remove(p) // a damaged copy: fetch it again
	}
	return b.fetch(ctx, id, true)
}

// fetch reads object id from the bucket, keeping an intact copy in the
// local cache when keep is set.
func (b *Backend) fetch(ctx context.Context, id lineage.ID, keep bool) (io.ReadCloser, error) {
	key := b.objectKey(id)
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("object %s: %w", id.Short(), lineage.ErrNotFound)
		}
		return nil, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	defer out.Body.Close()
	f, err := os.CreateTemp(filepath.Join(b.cache, "tmp"), "get-*")
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), out.Body)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	if keep && lineage.ID(h.Sum(nil)) == id {
		if err := b.intoCache(f.Name(), id); err == nil {
			return f, nil // the open file reads on after the rename
		}
	}
	return &removeOnClose{File: f}, nil
}

type removeOnClose struct{ *os.File }

func (r *removeOnClose) Close() error {
	err := r.File.Close()
	os.Remove(r.File.Name())
	return err
}

// StatObject implements lineage.Backend. Whether the object exists is
// asked of the bucket (an object another process removed is gone whatever
// the local cache holds), except for an object whose upload is queued.
func (b *Backend) StatObject(ctx context.Context, id lineage.ID) (lineage.ObjectInfo, error) {
	if size, ok := b.q.pending(id); ok {
		return lineage.ObjectInfo{Size: size}, nil
	}
	key := b.objectKey(id)
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return lineage.ObjectInfo{}, fmt.Errorf("object %s: %w", id.Short(), lineage.ErrNotFound)
		}
		return lineage.ObjectInfo{}, fmt.Errorf("object %s: %w", id.Short(), err)
	}
	info := lineage.ObjectInfo{Size: aws.ToInt64(out.ContentLength)}
	if out.LastModified != nil {
		info.ModTime = out.LastModified.UnixNano()
	}
	return info, nil
}

// ListObjects implements lineage.Backend. It first waits for the uploads
// in flight, so that it lists every object this process put.
func (b *Backend) ListObjects(ctx context.Context, fn func(id lineage.ID, size int64) error) error {
	if err := b.Flush(ctx); err != nil {
		return fmt.Errorf("list objects: %w", err)
	}
	var ids []lineage.ID
	sizes := map[lineage.ID]int64{}
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(b.prefix + "objects/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		for _, o := range page.Contents {
			name := aws.ToString(o.Key)
			name = name[strings.LastIndexByte(name, '/')+1:]
			id, err := lineage.ParseID(name)
			if err != nil || !strings.HasSuffix(aws.ToString(o.Key), "objects/"+name[:2]+"/"+name) {
				continue
			}
			ids = append(ids, id)
			sizes[id] = aws.ToInt64(o.Size)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	for _, id := range ids {
		if err := fn(id, sizes[id]); err != nil {
			return err
		}
	}
	return nil
}

// DeleteObject implements lineage.Backend.
func (b *Backend) DeleteObject(ctx context.Context, id lineage.ID) error {
	if _, ok := b.q.pending(id); ok {
		if err := b.Flush(ctx); err != nil {
			return fmt.Errorf("delete object %s: %w", id.Short(), err)
		}
	}
	if _, err := b.StatObject(ctx, id); err != nil {
		return err
	}
	key := b.objectKey(id)
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &key}); err != nil {
		return fmt.Errorf("delete object %s: %w", id.Short(), err)
	}
	b.q.forget(id)
	os.Remove(b.cachePath(id))
	return nil
}

// PutRecord implements lineage.Backend.
func (b *Backend) PutRecord(ctx context.Context, ns, name string, data []byte) error {
	key, err := b.recordKey(ns, name)
	if err != nil {
		return err
	}
	if _, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}); err != nil {
		return fmt.Errorf("write record %s/%s: %w", ns, name, err)
	}
	return nil
}

// CreateRecord implements lineage.Backend with a conditional write
// (If-None-Match: *): the server creates the record only when it is not
// there, so of two writers exactly one succeeds.
func (b *Backend) CreateRecord(ctx context.Context, ns, name string, data []byte) error {
	key, err := b.recordKey(ns, name)
	if err != nil {
		return err
	}
	_, err = b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), IfNoneMatch: aws.String("*")})
	switch s := status(err); {
	case err == nil:
		return nil
	case s == http.StatusPreconditionFailed || s == http.StatusConflict:
		return fmt.Errorf("record %s/%s: %w", ns, name, lineage.ErrExists)
	default:
		return fmt.Errorf("write record %s/%s: %w", ns, name, err)
	}
}

// GetRecord implements lineage.Backend.
func (b *Backend) GetRecord(ctx context.Context, ns, name string) ([]byte, error) {
	key, err := b.recordKey(ns, name)
	if err != nil {
		return nil, err
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("record %s/%s: %w", ns, name, lineage.ErrNotFound)
		}
		return nil, fmt.Errorf("read record %s/%s: %w", ns, name, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read record %s/%s: %w", ns, name, err)
	}
	return data, nil
}

// ListRecords implements lineage.Backend.
func (b *Backend) ListRecords(ctx context.Context, ns string) ([]string, error) {
	if err := lineage.ValidateName(ns); err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	pre := b.prefix + "records/" + ns + "/"
	var names []string
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &pre})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list records %s: %w", ns, err)
		}
		for _, o := range page.Contents {
			rest := strings.TrimPrefix(aws.ToString(o.Key), pre)
			if name, ok := strings.CutSuffix(rest, ".json"); ok && !strings.Contains(name, "/") && lineage.ValidateName(name) == nil {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// DeleteRecord implements lineage.Backend.
func (b *Backend) DeleteRecord(ctx context.Context, ns, name string) error {
	key, err := b.recordKey(ns, name)
	if err != nil {
		return err
	}
	if _, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key}); err != nil {
		if isNotFound(err) {
			return fmt.Errorf("record %s/%s: %w", ns, name, lineage.ErrNotFound)
		}
		return fmt.Errorf("delete record %s/%s: %w", ns, name, err)
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &key}); err != nil {
		return fmt.Errorf("delete record %s/%s: %w", ns, name, err)
	}
	return nil
}

// GetMeta implements lineage.MetaKeeper: the store's version file.
func (b *Backend) GetMeta(ctx context.Context, name string) ([]byte, error) {
	key := b.prefix + name
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%s: %w", name, lineage.ErrNotFound)
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// PutMeta implements lineage.MetaKeeper.
func (b *Backend) PutMeta(ctx context.Context, name string, data []byte) error {
	key := b.prefix + name
	if _, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// CleanTemp implements lineage.Backend: stray files of the local cache,
// multipart uploads left by killed processes and stale leases, all older
// than age.
func (b *Backend) CleanTemp(ctx context.Context, age time.Duration) (int, error) {
	n := 0
	cutoff := time.Now().Add(-age)
	ents, _ := os.ReadDir(filepath.Join(b.cache, "tmp"))
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			if os.Remove(filepath.Join(b.cache, "tmp", e.Name())) == nil {
				n++
			}
		}
	}
	p := s3.NewListMultipartUploadsPaginator(b.client, &s3.ListMultipartUploadsInput{Bucket: &b.bucket, Prefix: aws.String(b.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("list multipart uploads: %w", err)
		}
		for _, u := range page.Uploads {
			if u.Initiated != nil && u.Initiated.Before(cutoff) {
				if _, err := b.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.bucket, Key: u.Key, UploadId: u.UploadId}); err == nil {
					n++
				}
			}
		}
	}
	return n, nil
}

// Direct returns a view of the backend that reads objects from the bucket,
// not from the local cache, for `mlrun verify` (which must see what the
// bucket holds) and store copies.
func (b *Backend) Direct() lineage.Backend { return direct{b} }

type direct struct{ *Backend }

func (d direct) GetObject(ctx context.Context, id lineage.ID) (io.ReadCloser, error) {
	if _, ok := d.q.pending(id); ok {
		return d.Backend.GetObject(ctx, id)
	}
	return d.fetch(ctx, id, false)
}

// errIsNotExist reports a missing local file.
func errIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
