// Package steps wires mlrun's built-in step kinds and object types into a
// pipeline.Registry. Each kind lives in its own package under steps/; adding
// a kind is one new folder and one line in Builtin.
package steps

import (
	"fmt"

	"github.com/mlrun-cli/mlrun/pipeline"
	"github.com/mlrun-cli/mlrun/steps/derive"
	"github.com/mlrun-cli/mlrun/steps/evaluate"
	"github.com/mlrun-cli/mlrun/steps/load"
	"github.com/mlrun-cli/mlrun/steps/model"
	"github.com/mlrun-cli/mlrun/steps/monitor"
	"github.com/mlrun-cli/mlrun/steps/register"
	"github.com/mlrun-cli/mlrun/steps/report"
	"github.com/mlrun-cli/mlrun/steps/split"
	"github.com/mlrun-cli/mlrun/steps/table"
	"github.com/mlrun-cli/mlrun/steps/train"
	"github.com/mlrun-cli/mlrun/steps/validate"
)

// Builtin returns a registry holding every built-in step kind and the
// decoders of the object types they produce.
func Builtin() (*pipeline.Registry, error) {
	reg := pipeline.NewRegistry()
	kinds := []pipeline.Kind{
		load.Kind(),
		validate.Kind(),
		derive.Kind(),
		split.Kind(),
		train.Kind(),
		evaluate.Kind(),
		monitor.Kind(),
		register.Kind(),
		report.Kind(),
	}
	for _, k := range kinds {
		if err := reg.Register(k); err != nil {
			return nil, err
		}
	}
	decoders := map[string]pipeline.DecodeFunc{
		"dataset":         func(b []byte) (pipeline.Object, error) { return table.Decode(b) },
		"model":           func(b []byte) (pipeline.Object, error) { return model.Decode(b) },
		"validation":      pipeline.DocumentDecoder("validation"),
		"metrics":         pipeline.DocumentDecoder("metrics"),
		"profile":         pipeline.DocumentDecoder("profile"),
		"monitor":         pipeline.DocumentDecoder("monitor"),
		register.TypeName: pipeline.DocumentDecoder(register.TypeName),
		report.TypeName:   pipeline.DocumentDecoder(report.TypeName),
	}
	for _, name := range []string{"dataset", "model", "validation", "metrics", "profile", "monitor", register.TypeName, report.TypeName} {
		if err := reg.RegisterObject(name, decoders[name]); err != nil {
			return nil, fmt.Errorf("register object %s: %w", name, err)
		}
	}
	return reg, nil
}
