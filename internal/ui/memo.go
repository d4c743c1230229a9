package ui

import "sync"

// memo is a small cache of values derived from content-addressed inputs
// (so never stale): at most n entries, the oldest dropped first.
type memo[K comparable, V any] struct {
	mu    sync.Mutex
	n     int
	m     map[K]V
	order []K
}

func newMemo[K comparable, V any](n int) *memo[K, V] {
	return &memo[K, V]{n: n, m: map[K]V{}}
}

// get returns the value of k, computing it with fn on a miss. Errors are
// not cached. Two requests missing at once may both compute it.
func (c *memo[K, V]) get(k K, fn func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := fn()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		if len(c.order) >= c.n {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, k)
	}
	c.m[k] = v
	return v, nil
}
