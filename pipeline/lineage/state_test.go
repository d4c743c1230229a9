package lineage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// memSource serves the nodes a builder created, for tests without a store.
type memSource struct{ b *treeBuilder }

func (m memSource) node(ctx context.Context, id ID) (*treeNode, error) { return m.b.node(ctx, id) }

// The tree of a set of records is one and the same object whatever the
// order of the writes that made it: applying random inserts, replacements
// and deletes in random batches gives, after every batch, the root that
// building the final set from scratch gives, through leaves splitting into
// branches and branches collapsing back.
func TestStateTreeCanonical(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sizes := range [][]int{{5}, {leafMax}, {leafMax + 1}, {300, 10}, {1000, 999, 2, 700}} {
		t.Run(fmt.Sprint(sizes), func(t *testing.T) {
			b := newTreeBuilder(nil)
			var root ID
			state := map[string]ID{}
			for _, target := range sizes {
				// Move toward target records in random batches.
				for len(state) != target {
					changes := map[string][]change{}
					for range 1 + rng.IntN(50) {
						ns := []string{"runs", "cache"}[rng.IntN(2)]
						if len(state) < target {
							name := fmt.Sprintf("r%06d", rng.IntN(5000))
							id := Hash([]byte(fmt.Sprint(name, rng.Int())))
							if _, dup := state[ns+"/"+name]; !dup && len(state) >= target {
								continue
							}
							state[ns+"/"+name] = id
							changes[ns] = append(changes[ns], change{name: name, id: &id})
						} else {
							for k := range state { // a random one
								delete(state, k)
								ns, name, _ := splitWrite(k)
								changes[ns] = append(changes[ns], change{name: name})
								break
							}
						}
						if len(state) == target {
							break
						}
					}
					// A batch may touch a name twice: keep the last change.
					for ns, cs := range changes {
						last := map[string]int{}
						for i, c := range cs {
							last[c.name] = i
						}
						var keep []change
						for i, c := range cs {
							if last[c.name] == i {
								keep = append(keep, c)
							}
						}
						changes[ns] = keep
					}
					var err error
					if root, err = b.apply(ctx, root, changes); err != nil {
						t.Fatal(err)
					}
					want, _ := buildState(state)
					if root != want {
						t.Fatalf("after %d records: incremental root %s, from scratch %s", len(state), root.Short(), want.Short())
					}
				}
			}
			// Every record is found, and listing gives them all.
			src := memSource{b}
			for k, id := range state {
				ns, name, _ := splitWrite(k)
				got, err := treeLookup(ctx, src, root, ns, name)
				if err != nil || got != id {
					t.Fatalf("lookup %s = %s, %v; want %s", k, got.Short(), err, id.Short())
				}
			}
			n := 0
			for _, ns := range []string{"runs", "cache"} {
				m, err := treeEntries(ctx, src, root, ns)
				if err != nil {
					t.Fatal(err)
				}
				n += len(m)
			}
			if n != len(state) {
				t.Fatalf("listed %d records, want %d", n, len(state))
			}
			if _, err := treeLookup(ctx, src, root, "runs", "absent"); err != ErrNotFound {
				t.Fatalf("lookup of an absent record: %v", err)
			}
		})
	}
}

// A namespace emptied by deletes disappears from the root, and an empty
// state is still a root.
func TestStateTreeEmpty(t *testing.T) {
	ctx := context.Background()
	b := newTreeBuilder(nil)
	id := Hash([]byte("x"))
	root, err := b.apply(ctx, ID{}, map[string][]change{"runs": {{name: "a", id: &id}}})
	if err != nil {
		t.Fatal(err)
	}
	root, err = b.apply(ctx, root, map[string][]change{"runs": {{name: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := buildState(map[string]ID{})
	if root != empty {
		t.Fatalf("root after deleting everything %s, want the empty root %s", root.Short(), empty.Short())
	}
	nss, err := treeNamespaces(ctx, memSource{b}, root)
	if err != nil || len(nss) != 0 {
		t.Fatalf("namespaces of the empty root: %v, %v", nss, err)
	}
}

func BenchmarkStateTreeUpdate(b *testing.B) {
	ctx := context.Background()
	state := map[string]ID{}
	for i := range 10_000 {
		state[fmt.Sprintf("runs/r%06d", i)] = Hash([]byte(fmt.Sprint(i)))
	}
	root, nodes := buildState(state)
	tb := newTreeBuilder(nil)
	for id, enc := range nodes {
		n, _ := decodeNode(id, enc)
		tb.decoded[id] = n
	}
	b.ResetTimer()
	for i := range b.N {
		id := Hash([]byte(fmt.Sprint("new", i)))
		nb := newTreeBuilder(memSource{tb})
		if _, err := nb.apply(ctx, root, map[string][]change{"runs": {{name: fmt.Sprintf("r%06d", i%10_000), id: &id}}}); err != nil {
			b.Fatal(err)
		}
	}
}

// Two namespaces holding the same records share their nodes; a walk
// reports every record under each namespace (verify and gc read records by
// namespace) and each node once.
func TestWalkSharedNodes(t *testing.T) {
	ctx := context.Background()
	id := Hash([]byte("run record"))
	root, nodes := buildState(map[string]ID{"active/r1": id, "runs/r1": id})
	b := newTreeBuilder(nil)
	for k, v := range nodes {
		n, _ := decodeNode(k, v)
		b.decoded[k] = n
	}
	var recs []string
	seen := map[ID]int{}
	if err := walkTree(ctx, memSource{b}, root, func(id ID, rec string, err error) error {
		if rec == "" {
			seen[id]++
		} else {
			recs = append(recs, rec)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(recs) != "[active/r1 runs/r1]" {
		t.Fatalf("records walked: %v", recs)
	}
	for n, c := range seen {
		if c != 1 {
			t.Fatalf("node %s reported %d times", n.Short(), c)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("%d nodes reported, want 2 (the root and the shared leaf)", len(seen))
	}
}
