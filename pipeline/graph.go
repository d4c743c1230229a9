package pipeline

import (
	"container/heap"
	"sort"
)

// stringHeap is a min-heap of strings: Kahn's ready set, so that ties in
// the topological order break by id.
type stringHeap []string

func (h stringHeap) Len() int           { return len(h) }
func (h stringHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h stringHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *stringHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *stringHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// topoSort orders ids so that every step comes after the steps it reads
// from (deps[id] lists them; ids not in ids are ignored). Among the steps
// ready at any point the smallest id goes first, so the order is a pure
// function of the graph. Steps on or downstream of a cycle are left out of
// order; cycles lists each cycle once, in data-flow order (producer first),
// starting at its smallest id and ending where it started:
// [a b c a] means a feeds b, b feeds c and c feeds a.
func topoSort(ids []string, deps map[string][]string) (order []string, cycles [][]string) {
	known := make(map[string]bool, len(ids))
	for _, id := range ids {
		known[id] = true
	}
	indeg := make(map[string]int, len(ids))
	consumers := make(map[string][]string, len(ids))
	for _, id := range ids {
		seen := map[string]bool{}
		for _, d := range deps[id] {
			if !known[d] || seen[d] {
				continue
			}
			seen[d] = true
			indeg[id]++
			consumers[d] = append(consumers[d], id)
		}
	}
	ready := &stringHeap{}
	for _, id := range ids {
		if indeg[id] == 0 {
			*ready = append(*ready, id)
		}
	}
	heap.Init(ready)
	for ready.Len() > 0 {
		id := heap.Pop(ready).(string)
		order = append(order, id)
		for _, c := range consumers[id] {
			indeg[c]--
			if indeg[c] == 0 {
				heap.Push(ready, c)
			}
		}
	}
	if len(order) == len(ids) {
		return order, nil
	}

	// Every step left has a producer that is left too, so walking from any
	// of them towards its producers must come back to a step already seen.
	left := map[string]bool{}
	var rest []string
	for _, id := range ids {
		if indeg[id] > 0 {
			left[id] = true
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	inCycle := map[string]bool{}
	for _, start := range rest {
		if inCycle[start] {
			continue
		}
		index := map[string]int{}
		var path []string
		cur := start
		for {
			if i, ok := index[cur]; ok {
				path = path[i:]
				break
			}
			index[cur] = len(path)
			path = append(path, cur)
			next := ""
			for _, d := range deps[cur] {
				if left[d] && (next == "" || d < next) {
					next = d
				}
			}
			cur = next
		}
		overlap := false
		for _, id := range path {
			overlap = overlap || inCycle[id]
		}
		if overlap {
			continue
		}
		for _, id := range path {
			inCycle[id] = true
		}
		// path runs consumer -> producer; reverse it to data-flow order
		// and rotate it to start at its smallest id.
		for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
			path[i], path[j] = path[j], path[i]
		}
		lo := 0
		for i, id := range path {
			if id < path[lo] {
				lo = i
			}
		}
		cycle := append(append([]string{}, path[lo:]...), path[:lo]...)
		cycles = append(cycles, append(cycle, cycle[0]))
	}
	return order, cycles
}
