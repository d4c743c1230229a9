package lineage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// The state of a store is a Merkle tree of its records, stored as objects,
// whose root every audit commit names (AuditEntry.State): git's commit,
// tree and blob, with the audit chain as the commits. A record (a run, a
// cache entry, a registry model, a pin, ...) is an object; the tree maps
// "namespace/name" to its id. Reading a record walks from the tip of the
// chain down the tree, re-hashing every node and the record itself, so an
// edited, removed or substituted record is an error at once, not only in
// `mlrun verify`.
//
// Shape. The root maps each non-empty namespace to its subtree. A subtree
// holding at most leafMax names is a leaf (name -> id); a larger one is a
// branch of up to 16 children, by the next hex digit of the SHA-256 of the
// name (depth 0 reads the first digit). The shape depends only on the set
// of names, never on the order of the writes, so the tree of a set of
// records is one and the same object however it was reached: verify
// rebuilds it from the writes the chain declares (AuditEntry.Writes) and
// compares roots, and a lost node can be rebuilt from the chain.
const leafMax = 64

// Node type names (treeNode.Type).
const (
	nodeRoot   = "state-root"
	nodeLeaf   = "state-leaf"
	nodeBranch = "state-branch"
)

// treeNode is one node of the state tree, encoded as canonical JSON
// (encoding/json sorts map keys).
type treeNode struct {
	Type string `json:"type"`
	// Namespaces (root): namespace -> subtree.
	Namespaces map[string]ID `json:"namespaces,omitempty"`
	// Entries (leaf): record name -> record object.
	Entries map[string]ID `json:"entries,omitempty"`
	// Children (branch): hex digit -> subtree; Count is the number of
	// records below.
	Children map[string]ID `json:"children,omitempty"`
	Count    int           `json:"count,omitempty"`
}

func (n *treeNode) encode() []byte {
	b, err := json.Marshal(n)
	if err != nil {
		panic(err) // maps of strings to IDs always encode
	}
	return b
}

// count returns the number of records below n.
func (n *treeNode) count() int {
	if n.Type == nodeLeaf {
		return len(n.Entries)
	}
	return n.Count
}

func decodeNode(id ID, b []byte) (*treeNode, error) {
	var n treeNode
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("state node %s: %w", id.Short(), err)
	}
	switch n.Type {
	case nodeRoot, nodeLeaf, nodeBranch:
	default:
		return nil, fmt.Errorf("state node %s: not a state node (type %q)", id.Short(), n.Type)
	}
	return &n, nil
}

// nameDigit returns the hex digit of SHA-256(name) that places name at depth.
func nameDigit(name string, depth int) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])[depth : depth+1]
}

// nodeSource loads tree nodes by id: from the nodes a transaction is about
// to write, else from the store (re-hashed), memoised per Store since
// nodes are immutable.
type nodeSource interface {
	node(ctx context.Context, id ID) (*treeNode, error)
}

// nodeCache is a Store's memo of decoded tree nodes.
type nodeCache struct {
	mu    sync.Mutex
	nodes map[ID]*treeNode
}

func (c *nodeCache) get(id ID) (*treeNode, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[id]
	return n, ok
}

func (c *nodeCache) put(id ID, n *treeNode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes == nil {
		c.nodes = map[ID]*treeNode{}
	}
	if len(c.nodes) > 1<<16 { // bound the memo; nodes are cheap to read again
		clear(c.nodes)
	}
	c.nodes[id] = n
}

// node implements nodeSource for the Store.
func (s *Store) node(ctx context.Context, id ID) (*treeNode, error) {
	if n, ok := s.nodes.get(id); ok {
		return n, nil
	}
	b, err := s.GetObject(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("state node %s (mlrun verify --repair rebuilds it): %w", id.Short(), ErrMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("state node %s: %w", id.Short(), err)
	}
	n, err := decodeNode(id, b)
	if err != nil {
		return nil, err
	}
	s.nodes.put(id, n)
	return n, nil
}

// treeLookup returns the record id of ns/name under root, or ErrNotFound.
func treeLookup(ctx context.Context, src nodeSource, root ID, ns, name string) (ID, error) {
	if root.IsNull() {
		return ID{}, ErrNotFound
	}
	r, err := src.node(ctx, root)
	if err != nil {
		return ID{}, err
	}
	id, ok := r.Namespaces[ns]
	if !ok {
		return ID{}, ErrNotFound
	}
	for depth := 0; ; depth++ {
		n, err := src.node(ctx, id)
		if err != nil {
			return ID{}, err
		}
		switch n.Type {
		case nodeLeaf:
			rec, ok := n.Entries[name]
			if !ok {
				return ID{}, ErrNotFound
			}
			return rec, nil
		case nodeBranch:
			child, ok := n.Children[nameDigit(name, depth)]
			if !ok {
				return ID{}, ErrNotFound
			}
			id = child
		default:
			return ID{}, fmt.Errorf("state node %s: a %s inside namespace %q", id.Short(), n.Type, ns)
		}
		if depth >= 63 {
			return ID{}, fmt.Errorf("state tree of %q is deeper than a SHA-256", ns)
		}
	}
}

// treeEntries returns every record of ns under root: name -> id.
func treeEntries(ctx context.Context, src nodeSource, root ID, ns string) (map[string]ID, error) {
	out := map[string]ID{}
	if root.IsNull() {
		return out, nil
	}
	r, err := src.node(ctx, root)
	if err != nil {
		return nil, err
	}
	id, ok := r.Namespaces[ns]
	if !ok {
		return out, nil
	}
	return out, collectEntries(ctx, src, id, out)
}

func collectEntries(ctx context.Context, src nodeSource, id ID, out map[string]ID) error {
	n, err := src.node(ctx, id)
	if err != nil {
		return err
	}
	switch n.Type {
	case nodeLeaf:
		for k, v := range n.Entries {
			out[k] = v
		}
	case nodeBranch:
		for _, d := range sortedKeys(n.Children) {
			if err := collectEntries(ctx, src, n.Children[d], out); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("state node %s: a %s inside a namespace", id.Short(), n.Type)
	}
	return nil
}

// treeNamespaces returns the namespaces of root, sorted.
func treeNamespaces(ctx context.Context, src nodeSource, root ID) ([]string, error) {
	if root.IsNull() {
		return nil, nil
	}
	r, err := src.node(ctx, root)
	if err != nil {
		return nil, err
	}
	return sortedKeys(r.Namespaces), nil
}

// treeBuilder computes new trees from an existing one and a set of
// changes, collecting the nodes it creates (to be stored before the commit
// that names the new root).
type treeBuilder struct {
	base nodeSource
	// created holds the encodings of the nodes built, by id.
	created map[ID][]byte
	decoded map[ID]*treeNode
}

func newTreeBuilder(base nodeSource) *treeBuilder {
	return &treeBuilder{base: base, created: map[ID][]byte{}, decoded: map[ID]*treeNode{}}
}

// node implements nodeSource: created nodes first, then the base.
func (b *treeBuilder) node(ctx context.Context, id ID) (*treeNode, error) {
	if n, ok := b.decoded[id]; ok {
		return n, nil
	}
	if b.base == nil {
		return nil, fmt.Errorf("state node %s: %w", id.Short(), ErrNotFound)
	}
	return b.base.node(ctx, id)
}

func (b *treeBuilder) store(n *treeNode) ID {
	enc := n.encode()
	id := Hash(enc)
	if _, ok := b.decoded[id]; !ok {
		b.created[id] = enc
		b.decoded[id] = n
	}
	return id
}

// change is one record write: id nil removes the record.
type change struct {
	name string
	id   *ID
}

// apply returns the root after changes (ns -> changes), building the new
// nodes. An empty namespace disappears from the root; the root itself
// always exists (an empty store has an empty root).
func (b *treeBuilder) apply(ctx context.Context, root ID, changes map[string][]change) (ID, error) {
	nss := map[string]ID{}
	if !root.IsNull() {
		r, err := b.node(ctx, root)
		if err != nil {
			return ID{}, err
		}
		if r.Type != nodeRoot {
			return ID{}, fmt.Errorf("state root %s is a %s", root.Short(), r.Type)
		}
		for k, v := range r.Namespaces {
			nss[k] = v
		}
	}
	for _, ns := range sortedKeys(changes) {
		sub, err := b.update(ctx, nss[ns], 0, changes[ns])
		if err != nil {
			return ID{}, fmt.Errorf("namespace %s: %w", ns, err)
		}
		if sub.IsNull() {
			delete(nss, ns)
		} else {
			nss[ns] = sub
		}
	}
	return b.store(&treeNode{Type: nodeRoot, Namespaces: nss}), nil
}

// update returns the subtree at depth after changes (the zero ID when it
// ends empty).
func (b *treeBuilder) update(ctx context.Context, id ID, depth int, changes []change) (ID, error) {
	if len(changes) == 0 {
		return id, nil
	}
	var n *treeNode
	if id.IsNull() {
		n = &treeNode{Type: nodeLeaf}
	} else {
		var err error
		if n, err = b.node(ctx, id); err != nil {
			return ID{}, err
		}
	}
	switch n.Type {
	case nodeLeaf:
		entries := make(map[string]ID, len(n.Entries)+len(changes))
		for k, v := range n.Entries {
			entries[k] = v
		}
		for _, c := range changes {
			if c.id == nil {
				delete(entries, c.name)
			} else {
				entries[c.name] = *c.id
			}
		}
		return b.build(entries, depth), nil
	case nodeBranch:
		byDigit := map[string][]change{}
		for _, c := range changes {
			d := nameDigit(c.name, depth)
			byDigit[d] = append(byDigit[d], c)
		}
		children := make(map[string]ID, 16)
		for k, v := range n.Children {
			children[k] = v
		}
		count := 0
		for _, d := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"} {
			child := children[d]
			if cs := byDigit[d]; len(cs) > 0 {
				var err error
				if child, err = b.update(ctx, child, depth+1, cs); err != nil {
					return ID{}, err
				}
				if child.IsNull() {
					delete(children, d)
				} else {
					children[d] = child
				}
			}
			if !child.IsNull() {
				cn, err := b.node(ctx, child)
				if err != nil {
					return ID{}, err
				}
				count += cn.count()
			}
		}
		if count > leafMax {
			return b.store(&treeNode{Type: nodeBranch, Children: children, Count: count}), nil
		}
		// Few enough to be a leaf again.
		entries := map[string]ID{}
		for _, d := range sortedKeys(children) {
			if err := collectEntries(ctx, b, children[d], entries); err != nil {
				return ID{}, err
			}
		}
		return b.build(entries, depth), nil
	default:
		return ID{}, fmt.Errorf("state node %s: a %s inside a namespace", id.Short(), n.Type)
	}
}

// build returns the canonical subtree at depth holding entries.
func (b *treeBuilder) build(entries map[string]ID, depth int) ID {
	if len(entries) == 0 {
		return ID{}
	}
	if len(entries) <= leafMax || depth >= 63 {
		return b.store(&treeNode{Type: nodeLeaf, Entries: entries})
	}
	parts := map[string]map[string]ID{}
	for k, v := range entries {
		d := nameDigit(k, depth)
		if parts[d] == nil {
			parts[d] = map[string]ID{}
		}
		parts[d][k] = v
	}
	children := make(map[string]ID, len(parts))
	for d, p := range parts {
		children[d] = b.build(p, depth+1)
	}
	return b.store(&treeNode{Type: nodeBranch, Children: children, Count: len(entries)})
}

// buildState returns the canonical root of a whole state: "ns/name" -> id.
func buildState(state map[string]ID) (ID, map[ID][]byte) {
	b := newTreeBuilder(nil)
	byNS := map[string]map[string]ID{}
	for k, v := range state {
		ns, name, _ := strings.Cut(k, "/")
		if byNS[ns] == nil {
			byNS[ns] = map[string]ID{}
		}
		byNS[ns][name] = v
	}
	nss := map[string]ID{}
	for ns, entries := range byNS {
		nss[ns] = b.build(entries, 0)
	}
	root := b.store(&treeNode{Type: nodeRoot, Namespaces: nss})
	return root, b.created
}

// walkTree calls fn for every node reachable from root (each once) and
// every record: node ids with rec == "", record ids with rec = "ns/name".
// A node that cannot be read is reported to fn with its error and not
// descended.
func walkTree(ctx context.Context, src nodeSource, root ID, fn func(id ID, rec string, err error) error) error {
	if root.IsNull() {
		return nil
	}
	r, err := src.node(ctx, root)
	if err := fn(root, "", err); err != nil {
		return err
	}
	if err != nil {
		return nil
	}
	// Two namespaces holding the same records share their nodes (runs/
	// and active/ after a store's first run started): a node is reported
	// once, but walked once per namespace, so that every record is
	// reported under each namespace that holds it.
	type visit struct {
		id ID
		ns string
	}
	nodes := map[ID]bool{root: true}
	seen := map[visit]bool{}
	var walk func(id ID, ns string) error
	walk = func(id ID, ns string) error {
		if seen[visit{id, ns}] {
			return nil
		}
		seen[visit{id, ns}] = true
		n, err := src.node(ctx, id)
		if !nodes[id] {
			nodes[id] = true
			if ferr := fn(id, "", err); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return nil
		}
		switch n.Type {
		case nodeLeaf:
			for _, name := range sortedKeys(n.Entries) {
				if err := fn(n.Entries[name], ns+"/"+name, nil); err != nil {
					return err
				}
			}
		case nodeBranch:
			for _, d := range sortedKeys(n.Children) {
				if err := walk(n.Children[d], ns); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, ns := range sortedKeys(r.Namespaces) {
		if err := walk(r.Namespaces[ns], ns); err != nil {
			return err
		}
	}
	return nil
}

// errStop ends a walk early without an error.
var errStop = errors.New("stop")

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
