package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// Format and Version are the header of every encoded model.
const (
	Format  = "mlrun-model"
	Version = 1
)

// TypeName is the object and compile-time type name of models.
const TypeName = "model"

// Algorithm names.
const (
	// LogisticRegression is the algorithm name of *Logistic.
	LogisticRegression = "logistic_regression"
)

// Errors.
var (
	// ErrFormat is returned (wrapped) by Decode for data that is not a
	// valid model encoding.
	ErrFormat = errors.New("invalid model encoding")
	// ErrSchema is returned (wrapped) when a dataset lacks a model's
	// feature or target column, or holds it with an incompatible type.
	ErrSchema = errors.New("dataset does not fit the model")
)

// Model is a trained binary classifier.
//
// A Model is a pipeline.Object (it has the same two methods; the package
// does not import pipeline so that it builds on its own).
type Model interface {
	// TypeName returns "model".
	TypeName() string
	// Encode writes the canonical encoding.
	Encode(w io.Writer) error
	// Predict returns, for every row of ds, the probability of the positive
	// class. It uses up to jobs goroutines; the result does not depend on
	// jobs.
	Predict(ds *table.Dataset, jobs int) ([]float64, error)
	// Features returns the names of the feature columns, in model order.
	Features() []string
	// Target returns the target column and its positive value.
	Target() Target
	// Algorithm returns the algorithm name, e.g. "logistic_regression".
	Algorithm() string
	// Type returns the model's compile-time type.
	Type() *Type
}

// Type is the compile-time description of a model: what it needs from a
// dataset. It implements pipeline.Type with the name "model".
type Type struct {
	// Algorithm is the algorithm name.
	Algorithm string
	// Features are the feature columns and their types, in model order.
	Features []table.Field
	// Target is the target column and its positive value.
	Target Target
}

// TypeName implements pipeline.Type.
func (t *Type) TypeName() string { return TypeName }

// Check reports every way schema fails to provide what the model needs:
// a missing feature or target column, or one whose type is incompatible
// (a numeric feature needs a float, int or bool column; a string feature a
// string column). withTarget includes the target column in the check.
func (t *Type) Check(schema *table.Schema, withTarget bool) []error {
	var errs []error
	for _, f := range t.Features {
		got, ok := schema.Lookup(f.Name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: feature column %q is missing", ErrSchema, f.Name))
		case !Compatible(f.Type, got.Type):
			errs = append(errs, fmt.Errorf("%w: feature column %q is %s, the model was trained on %s", ErrSchema, f.Name, got.Type, f.Type))
		}
	}
	if withTarget {
		got, ok := schema.Lookup(t.Target.Name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: target column %q is missing", ErrSchema, t.Target.Name))
		case !Compatible(t.Target.Type, got.Type):
			errs = append(errs, fmt.Errorf("%w: target column %q is %s, the model was trained on %s", ErrSchema, t.Target.Name, got.Type, t.Target.Type))
		}
	}
	return errs
}

// Compatible reports whether a column of type got can feed a model input
// trained on type want: numeric types (float, int, bool) are
// interchangeable; string and time must match exactly.
func Compatible(want, got table.Type) bool {
	if want.Numeric() {
		return got.Numeric()
	}
	return want == got
}

// header is the versioned prefix of every model encoding.
type header struct {
	Format    string `json:"format"`
	Version   int    `json:"version"`
	Algorithm string `json:"algorithm"`
}

// Decode decodes a model from its canonical encoding, dispatching on the
// header's algorithm. It never panics; malformed data gives an error
// wrapping ErrFormat.
func Decode(data []byte) (Model, error) {
	var h header
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("decode model: %w: %v", ErrFormat, err)
	}
	if h.Format != Format {
		return nil, fmt.Errorf("decode model: %w: format %q, want %q", ErrFormat, h.Format, Format)
	}
	if h.Version != Version {
		return nil, fmt.Errorf("decode model: %w: version %d, this mlrun reads version %d", ErrFormat, h.Version, Version)
	}
	switch h.Algorithm {
	case LogisticRegression:
		m, err := decodeLogistic(data)
		if err != nil {
			return nil, fmt.Errorf("decode model: %w", err)
		}
		return m, nil
	case RandomForest, GradientBoosting:
		m, err := decodeEnsemble(data)
		if err != nil {
			return nil, fmt.Errorf("decode model: %w", err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("decode model: %w: unknown algorithm %q", ErrFormat, h.Algorithm)
}

// Target is the target column of a binary classifier and the value that
// counts as the positive class (label 1).
type Target struct {
	// Name is the column name.
	Name string `json:"name"`
	// Type is the column type.
	Type table.Type `json:"-"`
	// Positive is the positive value as written in the pipeline: required
	// for a string target; for an int, float or bool target it may be
	// empty, and then the column must hold 0/1 (false/true) with 1 (true)
	// positive.
	Positive string `json:"positive,omitempty"`
}

// CheckPositive reports whether Positive suits the target's type.
func (t Target) CheckPositive() error {
	switch t.Type {
	case table.String:
		if t.Positive == "" {
			return fmt.Errorf("target %q is a string column: set positive to the value that counts as 1", t.Name)
		}
	case table.Int:
		if t.Positive != "" {
			if _, err := strconv.ParseInt(t.Positive, 10, 64); err != nil {
				return fmt.Errorf("target %q is an int column: positive %q is not an integer", t.Name, t.Positive)
			}
		}
	case table.Float:
		if t.Positive != "" {
			if _, err := strconv.ParseFloat(t.Positive, 64); err != nil {
				return fmt.Errorf("target %q is a float column: positive %q is not a number", t.Name, t.Positive)
			}
		}
	case table.Bool:
		if t.Positive != "" {
			if _, err := strconv.ParseBool(t.Positive); err != nil {
				return fmt.Errorf("target %q is a bool column: positive %q is not true or false", t.Name, t.Positive)
			}
		}
	default:
		return fmt.Errorf("target %q is a %s column: a target must be int, float, bool or string", t.Name, t.Type)
	}
	return nil
}

// Labels returns the 0/1 labels of ds's target column: 1 where the value
// equals Positive (or, with no Positive, where it is 1 or true). A null
// target, a missing column, or (with no Positive) a numeric value other
// than 0 and 1 is an error naming the count of offending rows.
func (t Target) Labels(ds *table.Dataset) ([]float64, error) {
	c := ds.Column(t.Name)
	if c == nil {
		return nil, fmt.Errorf("%w: target column %q is missing", ErrSchema, t.Name)
	}
	if !Compatible(t.Type, c.Type) {
		return nil, fmt.Errorf("%w: target column %q is %s, want %s", ErrSchema, t.Name, c.Type, t.Type)
	}
	tt := t
	tt.Type = c.Type
	if err := tt.CheckPositive(); err != nil {
		return nil, err
	}
	if n := c.NullCount(); n > 0 {
		return nil, fmt.Errorf("target %q has %d null values of %d rows", t.Name, n, ds.Rows)
	}
	y := make([]float64, ds.Rows)
	bad, first := 0, -1
	switch c.Type {
	case table.String:
		for i := range y {
			if c.Dict[c.Codes[i]] == t.Positive {
				y[i] = 1
			}
		}
	case table.Bool:
		want := true
		if t.Positive != "" {
			want, _ = strconv.ParseBool(t.Positive)
		}
		for i := range y {
			if c.Bools[i] == want {
				y[i] = 1
			}
		}
	default: // Int, Float
		pos := 1.0
		if t.Positive != "" {
			pos, _ = strconv.ParseFloat(t.Positive, 64)
		}
		for i := range y {
			v := c.Float(i)
			switch {
			case v == pos:
				y[i] = 1
			case t.Positive == "" && v != 0:
				bad++
				if first < 0 {
					first = i
				}
			}
		}
	}
	if bad > 0 {
		return nil, fmt.Errorf("target %q has %d values that are neither 0 nor 1 (first: row %d = %v); set positive to the value that counts as 1",
			t.Name, bad, first+1, c.Float(first))
	}
	return y, nil
}

// RawValues returns the target column's values as strings (the class
// weight map keys): string values as is, ints in base 10, floats in
// strconv 'g' -1 format, bools as true/false.
func RawValues(c *table.Column) []string {
	out := make([]string, c.Len())
	for i := range out {
		switch c.Type {
		case table.String:
			out[i] = c.Str(i)
		case table.Int:
			out[i] = strconv.FormatInt(c.Ints[i], 10)
		case table.Float:
			out[i] = strconv.FormatFloat(c.Floats[i], 'g', -1, 64)
		case table.Bool:
			out[i] = strconv.FormatBool(c.Bools[i])
		}
	}
	return out
}

// featureNames returns the names of fields.
func featureNames(fs []table.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}
