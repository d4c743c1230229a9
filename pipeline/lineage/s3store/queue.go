package s3store

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/mlrun-cli/mlrun/pipeline/lineage"
)

func newBufWriter(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 1<<16) }

// uploadQueue uploads objects in the background, at most n at once, and
// remembers which objects this process knows to be in the bucket.
type uploadQueue struct {
	mu   sync.Mutex
	sem  chan struct{}
	do   func(ctx context.Context, id lineage.ID, path string, size int64) error
	jobs map[lineage.ID]*job
	// known are the objects this process uploaded or found in the bucket.
	known map[lineage.ID]bool
	// errs are the failures since the last flush.
	errs []error
}

type job struct {
	size int64
	done chan struct{}
}

func (q *uploadQueue) init(n int, do func(ctx context.Context, id lineage.ID, path string, size int64) error) {
	q.sem = make(chan struct{}, n)
	q.do = do
	q.jobs = map[lineage.ID]*job{}
	q.known = map[lineage.ID]bool{}
}

// remote reports whether id is known to be in the bucket.
func (q *uploadQueue) remote(id lineage.ID) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.known[id]
}

// pending returns the size of an object whose upload is queued or running.
func (q *uploadQueue) pending(id lineage.ID) (int64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if j, ok := q.jobs[id]; ok {
		return j.size, true
	}
	return 0, false
}

// forget drops what the queue knows of id (it was deleted).
func (q *uploadQueue) forget(id lineage.ID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.known, id)
}

// enqueue starts the upload of the cached file path as object id, unless
// it is known to be there or already on its way.
func (q *uploadQueue) enqueue(id lineage.ID, path string, size int64) {
	q.mu.Lock()
	if q.known[id] || q.jobs[id] != nil {
		q.mu.Unlock()
		return
	}
	j := &job{size: size, done: make(chan struct{})}
	q.jobs[id] = j
	q.mu.Unlock()
	go func() {
		q.sem <- struct{}{}
		// Uploads outlive the request that queued them: a commit waits for
		// them (flush), whatever became of the caller's context.
		err := q.do(context.Background(), id, path, size)
		<-q.sem
		q.mu.Lock()
		delete(q.jobs, id)
		if err == nil {
			q.known[id] = true
		} else {
			q.errs = append(q.errs, err)
		}
		q.mu.Unlock()
		close(j.done)
	}()
}

// flush waits for every upload queued so far and returns the failures
// since the last flush.
func (q *uploadQueue) flush(ctx context.Context) error {
	q.mu.Lock()
	var wait []*job
	for _, j := range q.jobs {
		wait = append(wait, j)
	}
	q.mu.Unlock()
	for _, j := range wait {
		select {
		case <-j.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	err := errors.Join(q.errs...)
	q.errs = nil
	return err
}
