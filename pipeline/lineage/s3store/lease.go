package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

// Locks are leases: to hold lock NAME, a process writes
// locks/NAME/x-RANDOM (exclusive) or locks/NAME/s-RANDOM (shared), then
// lists locks/NAME/: a live lease that conflicts with its own (any other
// for an exclusive one, an exclusive one for a shared one) means the lock
// is taken: it deletes its own and tries again later. Both contenders see
// each other, so at most one wins; random waits break ties. A lease is
// refreshed (rewritten) every LeaseRefresh and is live while the server's
// clock says it was written less than LeaseTTL ago: comparing the
// server's own timestamps (the other leases' Last-Modified with that of the
// lease just written) makes the test immune to this machine's clock.
//
// The "audit" lock is not a lease: commits are serialised by the
// conditional creation of their commit record.

var errConflict = errors.New("lock held by another process")

// lease is a lock held by this process.
type lease struct {
	b    *Backend
	name string
	key  string
	refs int // shared leases are shared within the process
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type leaseBody struct {
	Exclusive bool      `json:"exclusive"`
	Host      string    `json:"host,omitempty"`
	PID       int       `json:"pid"`
	Taken     time.Time `json:"taken"`
}

// Lock implements lineage.Backend with leases (see above).
func (b *Backend) Lock(ctx context.Context, name string, exclusive bool) (func() error, error) {
	if err := lineage.ValidateName(name); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if name == "audit" {
		return func() error { return nil }, nil
	}
	if !exclusive {
		b.leaseMu.Lock()
		if l := b.shared[name]; l != nil {
			l.refs++
			b.leaseMu.Unlock()
			return b.releaser(l), nil
		}
		b.leaseMu.Unlock()
	}
	wait := 50 * time.Millisecond
	for {
		l, err := b.tryLease(ctx, name, exclusive)
		if err == nil {
			if !exclusive {
				b.leaseMu.Lock()
				if other := b.shared[name]; other != nil {
					// Another goroutine took one meanwhile: share it.
					other.refs++
					b.leaseMu.Unlock()
					l.release()
					return b.releaser(other), nil
				}
				l.refs = 1
				b.shared[name] = l
				b.leaseMu.Unlock()
			}
			return b.releaser(l), nil
		}
		if !errors.Is(err, errConflict) {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		jitter := time.Duration(randUint64() % uint64(wait))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: %w", name, lineage.ErrLocked)
		case <-time.After(wait/2 + jitter):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Held implements lineage.LivenessProber: whether a live exclusive lease of
// lock name exists, found by listing (nothing is written).
func (b *Backend) Held(ctx context.Context, name string) (bool, error) {
	dir := b.prefix + "locks/" + name + "/"
	out, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &dir})
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	var newest time.Time
	var exclusive []time.Time
	for _, o := range out.Contents {
		if o.LastModified == nil {
			continue
		}
		if o.LastModified.After(newest) {
			newest = *o.LastModified
		}
		if strings.HasPrefix(strings.TrimPrefix(aws.ToString(o.Key), dir), "x-") {
			exclusive = append(exclusive, *o.LastModified)
		}
	}
	if len(exclusive) == 0 {
		return false, nil
	}
	// The server's clock: the time of a request answered now.
	now, err := b.serverTime(ctx)
	if err != nil {
		return true, err
	}
	for _, t := range exclusive {
		if now.Sub(t) <= b.ttl {
			return true, nil
		}
	}
	return false, nil
}

// serverTime returns the server's clock, from the Date of a response.
func (b *Backend) serverTime(ctx context.Context) (time.Time, error) {
	out, err := b.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b.bucket})
	if err != nil {
		return time.Time{}, err
	}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		if t, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			return t, nil
		}
	}
	return time.Now(), nil
}

// releaser returns the release of one hold of l.
func (b *Backend) releaser(l *lease) func() error {
	var once sync.Once
	return func() error {
		once.Do(func() {
			b.leaseMu.Lock()
			if l.refs > 0 {
				l.refs--
				if l.refs > 0 {
					b.leaseMu.Unlock()
					return
				}
				if b.shared[l.name] == l {
					delete(b.shared, l.name)
				}
			}
			b.leaseMu.Unlock()
			l.release()
		})
		return nil
	}
}

// tryLease writes a lease and checks it against the others once.
func (b *Backend) tryLease(ctx context.Context, name string, exclusive bool) (*lease, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	kind := "s-"
	if exclusive {
		kind = "x-"
	}
	dir := b.prefix + "locks/" + name + "/"
	key := dir + kind + randHex()
	host, _ := os.Hostname()
	body, _ := json.Marshal(leaseBody{Exclusive: exclusive, Host: host, PID: os.Getpid(), Taken: time.Now().UTC()})
	if err := b.putLease(rctx, key, body); err != nil {
		return nil, err
	}
	l := &lease{b: b, name: name, key: key, stop: make(chan struct{}), done: make(chan struct{})}
	head, err := b.client.HeadObject(rctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil || head.LastModified == nil {
		b.deleteKey(key)
		return nil, fmt.Errorf("lease %s: %w", name, err)
	}
	mine := *head.LastModified
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &dir})
	for p.HasMorePages() {
		page, err := p.NextPage(rctx)
		if err != nil {
			b.deleteKey(key)
			return nil, fmt.Errorf("lease %s: %w", name, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if k == key || o.LastModified == nil {
				continue
			}
			if mine.Sub(*o.LastModified) > b.ttl {
				if mine.Sub(*o.LastModified) > 10*b.ttl {
					b.deleteKey(k) // long dead: tidy up
				}
				continue
			}
			other := strings.TrimPrefix(k, dir)
			if exclusive || strings.HasPrefix(other, "x-") {
				b.deleteKey(key)
				return nil, errConflict
			}
		}
	}
	go l.keep(body)
	return l, nil
}

func (b *Backend) putLease(ctx context.Context, key string, body []byte) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))})
	if err != nil {
		return fmt.Errorf("write lease: %w", err)
	}
	return nil
}

func (b *Backend) deleteKey(key string) {
	// Best effort: a lease left behind goes stale after LeaseTTL.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &key})
}

// keep refreshes the lease until it is released.
func (l *lease) keep(body []byte) {
	defer close(l.done)
	t := time.NewTicker(l.b.refresh)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.b.refresh)
			_ = l.b.putLease(ctx, l.key, body)
			cancel()
		}
	}
}

// release stops refreshing the lease and deletes it.
func (l *lease) release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.b.deleteKey(l.key)
	})
}

func randHex() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func randUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}
