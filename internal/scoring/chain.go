// Package scoring re-applies to new data the steps a model was trained
// behind: the load, validate and derive steps upstream of its train step
// (split steps pass every row through), as the pipeline file the training
// run read declares them, with the run's params. A registered model version
// keeps its resolved chain as an object, so scoring, monitoring and
// reporting never read the working copy of the pipeline file, which changes
// every day in pipeline-as-code.
package scoring

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/table"
)

// TypeName is the object type name of a stored chain.
const TypeName = "scoring-chain"

// Chain is the resolved scoring chain of a train step.
type Chain struct {
	// Doc is a pipeline document (YAML) holding only the steps upstream of
	// the train step, split steps replaced by their input, with the run's
	// params; its one load step declares the type of every column the
	// training run's load step read.
	Doc string `json:"doc"`
	// Final is the step output the model scores.
	Final pipeline.InputRef `json:"final"`
	// Load is the id of the chain's load step.
	Load string `json:"load"`
	// Train is the id of the train step the chain leads to.
	Train string `json:"train"`
}

// Build builds the chain of train step trainID from the pipeline source a
// run read and the params it recorded (nil: the file's). loaded returns
// the schema the run's load step read (nil when unknown: its declared
// types only).
func Build(src []byte, trainID string, params map[string]any, reg *pipeline.Registry, loaded func(loadStep string) *table.Schema) (*Chain, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 {
		return nil, pipeline.Invalidf("pipeline file: cannot parse: %v", err)
	}
	root := doc.Content[0]
	stepsNode := mapGet(root, "steps")
	if stepsNode == nil {
		return nil, pipeline.Invalidf("pipeline file has no steps")
	}
	kindOf := func(id string) string {
		if n := mapGet(stepsNode, id); n != nil {
			if k := mapGet(n, "kind"); k != nil {
				return k.Value
			}
		}
		return ""
	}
	parseRef := func(s string) pipeline.InputRef {
		step, out, ok := strings.Cut(s, ".")
		r := pipeline.InputRef{Step: step, Output: out}
		if !ok {
			if k, ok := reg.Kind(kindOf(step)); ok && len(k.Outputs()) > 0 {
				r.Output = k.Outputs()[0]
			}
		}
		return r
	}
	train := mapGet(stepsNode, trainID)
	if train == nil || mapGet(train, "input") == nil {
		return nil, pipeline.Invalidf("pipeline has no step %q with an input", trainID)
	}
	ref := parseRef(mapGet(train, "input").Value)
	for kindOf(ref.Step) == "split" {
		in := mapGet(mapGet(stepsNode, ref.Step), "input")
		if in == nil {
			return nil, pipeline.Invalidf("split step %q has no input", ref.Step)
		}
		ref = parseRef(in.Value)
	}
	keep := map[string]bool{}
	var loads []string
	var walk func(id string) error
	walk = func(id string) error {
		if keep[id] {
			return nil
		}
		n := mapGet(stepsNode, id)
		k, ok := reg.Kind(kindOf(id))
		if n == nil || !ok {
			return pipeline.Invalidf("pipeline step %q: unknown step or kind", id)
		}
		if k.Name() == "split" {
			return pipeline.Invalidf("step %q: a split upstream of the scored data is not supported", id)
		}
		keep[id] = true
		if k.Name() == "load" {
			loads = append(loads, id)
		}
		for _, port := range k.Inputs() {
			if in := mapGet(n, port.Name); in != nil && in.Kind == yaml.ScalarNode {
				if err := walk(parseRef(in.Value).Step); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(ref.Step); err != nil {
		return nil, err
	}
	if len(loads) != 1 {
		return nil, pipeline.Invalidf("scoring needs exactly one load step upstream of %q, found %d", trainID, len(loads))
	}
	// Drop the other steps.
	var content []*yaml.Node
	for i := 0; i+1 < len(stepsNode.Content); i += 2 {
		if keep[stepsNode.Content[i].Value] {
			content = append(content, stepsNode.Content[i], stepsNode.Content[i+1])
		}
	}
	stepsNode.Content = content
	// The load step declares the training types.
	load := mapGet(stepsNode, loads[0])
	cols := mapGet(load, "columns")
	if cols == nil || cols.Kind != yaml.MappingNode {
		cols = &yaml.Node{Kind: yaml.MappingNode}
		mapSet(load, "columns", cols)
	}
	if loaded != nil {
		if schema := loaded(loads[0]); schema != nil {
			for _, f := range schema.Fields {
				if mapGet(cols, f.Name) == nil && f.Type != table.Time {
					cols.Content = append(cols.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name}, &yaml.Node{Kind: yaml.ScalarNode, Value: f.Type.String()})
				}
			}
		}
	}
	if len(cols.Content) == 0 {
		mapDel(load, "columns")
	}
	// The run's params.
	if p := mapGet(root, "params"); p != nil && params != nil {
		for i := 0; i+1 < len(p.Content); i += 2 {
			rv, ok := params[p.Content[i].Value]
			if !ok {
				continue
			}
			var n yaml.Node
			if err := n.Encode(rv); err == nil {
				var fv any
				_ = p.Content[i+1].Decode(&fv)
				if fmt.Sprint(normNum(fv)) != fmt.Sprint(normNum(rv)) {
					p.Content[i+1] = &n
				}
			}
		}
	}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	return &Chain{Doc: string(b), Final: ref, Load: loads[0], Train: trainID}, nil
}

// Decode decodes a stored chain object.
func Decode(data []byte) (*Chain, error) {
	var c Chain
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("scoring chain: %w", err)
	}
	if c.Doc == "" || c.Load == "" || c.Final.Step == "" {
		return nil, fmt.Errorf("scoring chain: incomplete")
	}
	return &c, nil
}

// ForBatch returns the chain's document with its load step reading path
// and declaring only the columns of header (a batch holds no target, say).
func (c *Chain) ForBatch(header []string, path string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(c.Doc), &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("scoring chain: cannot parse its document: %v", err)
	}
	load := mapGet(mapGet(doc.Content[0], "steps"), c.Load)
	if load == nil {
		return nil, fmt.Errorf("scoring chain: no load step %q", c.Load)
	}
	mapSet(load, "path", &yaml.Node{Kind: yaml.ScalarNode, Value: path})
	if cols := mapGet(load, "columns"); cols != nil && cols.Kind == yaml.MappingNode {
		var kept []*yaml.Node
		for i := 0; i+1 < len(cols.Content); i += 2 {
			if contains(header, cols.Content[i].Value) {
				kept = append(kept, cols.Content[i], cols.Content[i+1])
			}
		}
		cols.Content = kept
		if len(kept) == 0 {
			mapDel(load, "columns")
		}
	}
	return yaml.Marshal(&doc)
}

func normNum(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func mapSet(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func mapDel(n *yaml.Node, key string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			return
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
