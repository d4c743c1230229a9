// Package pipeline defines mlrun's pipeline format and the contracts between
// its parts: the spec types decoded (with positions) from a pipeline YAML
// file, the Kind interface every step kind implements, the Object interface
// of the values that flow between steps, and the Registry that ties kinds and
// object decoders together.
//
// Loading a pipeline is a pure function of the file, the parameter overrides
// and the registry: Load parses and checks the YAML (against the JSON Schema
// in schemas/pipeline.schema.json and the registered kinds), resolves
// parameters and step references, orders the steps and compiles each one
// against the types of its inputs, so that a typo in an expression is
// reported at its file:line:col before anything runs.
package pipeline
