// Package model holds mlrun's trained models and their canonical
// encodings: logistic regression first, tree ensembles next.
//
// A Model is a pipeline.Object of type "model": train produces one,
// evaluate (and later predict and monitor) reads it. Its encoding is one
// JSON object whose first keys form a versioned header,
//
//	{"format":"mlrun-model","version":1,"algorithm":"logistic_regression",...}
//
// and Decode dispatches on that header. Floating-point numbers are written
// by encoding/json, which uses the shortest representation that parses back
// to the same float64 (strconv precision -1), so an encoded model decodes to
// bit-identical coefficients and predictions. Struct fields are written in a
// fixed order and maps with sorted keys, so the encoding is canonical.
//
// At compile time a model is described by a *Type (feature names and types,
// target), which evaluate checks against the schema of its data.
package model
