package table

// Type is a column's type.
type Type uint8

// Column types.
const (
	// Float columns hold float64 values; a null is also stored as NaN.
	Float Type = iota + 1
	// Int columns hold int64 values (0 where null).
	Int
	// Bool columns hold bools (false where null).
	Bool
	// String columns are dictionary-encoded categoricals.
	String
	// Time columns hold instants as int64 Unix nanoseconds, UTC (0 where null).
	Time
)

// String returns the type's name as written in pipeline files:
// float, int, bool, string, time.
func (t Type) String() string {
	switch t {
	case Float:
		return "float"
	case Int:
		return "int"
	case Bool:
		return "bool"
	case String:
		return "string"
	case Time:
		return "time"
	}
	return "invalid"
}

// ParseType parses a type name: float, int, bool, string (or category,
// categorical), time (or date, datetime).
func ParseType(s string) (Type, bool) {
	switch s {
	case "float", "float64", "number":
		return Float, true
	case "int", "int64", "integer":
		return Int, true
	case "bool", "boolean":
		return Bool, true
	case "string", "category", "categorical", "str":
		return String, true
	case "time", "date", "datetime", "timestamp":
		return Time, true
	}
	return 0, false
}

// Numeric reports whether values of t convert to float64 (float, int, bool).
func (t Type) Numeric() bool { return t == Float || t == Int || t == Bool }

// Field is a column's name and type.
type Field struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
	// Info is what the load step that read the column learnt about it when
	// the pipeline was compiled; nil when nothing is known (a derived
	// column, a schema not from a load step). Steps that pass rows through
	// unchanged or keep a subset of them (validate, split) keep it; a step
	// that changes a column's values must drop it. It is not part of the
	// JSON form, and fields are equal only if their Info pointers are: to
	// compare columns, compare names and types.
	Info *FieldInfo `json:"-"`
}

// FieldInfo describes a column as a load step read it at compile time.
type FieldInfo struct {
	// Declared reports whether the type was declared (`columns:`) rather
	// than inferred.
	Declared bool
	// Levels are the column's distinct non-missing values as written in
	// the file, in first-seen order, when there are few of them (see
	// CSVOptions.Levels); nil when there are more. After a step keeping a
	// subset of the rows they are a superset of the column's values.
	Levels []string
}

// Schema is the ordered list of a dataset's columns. It implements
// pipeline.Type with the name "dataset".
type Schema struct {
	Fields []Field
}

// TypeName implements pipeline.Type.
func (s *Schema) TypeName() string { return "dataset" }

// Index returns the position of the named column, or -1.
func (s *Schema) Index(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Lookup returns the named field.
func (s *Schema) Lookup(name string) (Field, bool) {
	if i := s.Index(name); i >= 0 {
		return s.Fields[i], true
	}
	return Field{}, false
}

// Names returns the column names in order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		out[i] = f.Name
	}
	return out
}

// Bitmap is a validity bitmap: bit i set means row i holds a value. A nil
// Bitmap means every row is valid.
type Bitmap []uint64

// NewBitmap returns a bitmap of n rows, all valid.
func NewBitmap(n int) Bitmap {
	b := make(Bitmap, (n+63)/64)
	for i := range b {
		b[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		b[len(b)-1] = (uint64(1) << r) - 1
	}
	return b
}

// Valid reports whether row i holds a value.
func (b Bitmap) Valid(i int) bool { return b == nil || b[i>>6]&(1<<(uint(i)&63)) != 0 }

// SetNull marks row i null. The bitmap must be non-nil.
func (b Bitmap) SetNull(i int) { b[i>>6] &^= 1 << (uint(i) & 63) }

// SetValid marks row i valid. The bitmap must be non-nil.
func (b Bitmap) SetValid(i int) { b[i>>6] |= 1 << (uint(i) & 63) }

// Column is one typed column. Exactly one of the value slices is used,
// according to Type; its length is the dataset's row count.
type Column struct {
	Name string
	Type Type
	// Floats holds Float values; nulls are NaN.
	Floats []float64
	// Ints holds Int values and Time values (Unix nanoseconds, UTC).
	Ints []int64
	// Bools holds Bool values.
	Bools []bool
	// Codes indexes Dict for String columns.
	Codes []uint32
	// Dict holds the distinct values of a String column in first-seen order.
	Dict []string
	// Valid is the validity bitmap; nil means no nulls.
	Valid Bitmap
}

// Len returns the number of rows.
func (c *Column) Len() int {
	switch c.Type {
	case Float:
		return len(c.Floats)
	case Int, Time:
		return len(c.Ints)
	case Bool:
		return len(c.Bools)
	case String:
		return len(c.Codes)
	}
	return 0
}

// IsNull reports whether row i is null.
func (c *Column) IsNull(i int) bool { return !c.Valid.Valid(i) }

// NullCount returns the number of null rows.
func (c *Column) NullCount() int {
	if c.Valid == nil {
		return 0
	}
	n := 0
	for i, l := 0, c.Len(); i < l; i++ {
		if !c.Valid.Valid(i) {
			n++
		}
	}
	return n
}

// Float returns row i as float64 for numeric columns (NaN when null).
func (c *Column) Float(i int) float64 {
	if !c.Valid.Valid(i) {
		return nan
	}
	switch c.Type {
	case Float:
		return c.Floats[i]
	case Int:
		return float64(c.Ints[i])
	case Bool:
		if c.Bools[i] {
			return 1
		}
		return 0
	}
	return nan
}

// Str returns row i of a String column ("" when null).
func (c *Column) Str(i int) string {
	if c.Type != String || !c.Valid.Valid(i) {
		return ""
	}
	return c.Dict[c.Codes[i]]
}

// Dataset is a columnar table. It implements pipeline.Object with the type
// name "dataset"; its canonical encoding is written by Encode.
type Dataset struct {
	Columns []*Column
	Rows    int
}

// TypeName implements pipeline.Object.
func (d *Dataset) TypeName() string { return "dataset" }

// Schema returns the dataset's schema.
func (d *Dataset) Schema() *Schema {
	s := &Schema{Fields: make([]Field, len(d.Columns))}
	for i, c := range d.Columns {
		s.Fields[i] = Field{Name: c.Name, Type: c.Type}
	}
	return s
}

// Column returns the named column, or nil.
func (d *Dataset) Column(name string) *Column {
	for _, c := range d.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}
