package table

import (
	"fmt"
	"math"
)

// NewDataset returns a dataset of the given columns, checked with Validate.
// The row count is the columns' length (0 without columns).
func NewDataset(cols ...*Column) (*Dataset, error) {
	d := &Dataset{Columns: cols}
	if len(cols) > 0 && cols[0] != nil {
		d.Rows = cols[0].Len()
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// NewFloatColumn returns a Float column holding vals; NaN values are nulls.
// The column keeps vals.
func NewFloatColumn(name string, vals []float64) *Column {
	c := &Column{Name: name, Type: Float, Floats: vals}
	for i, v := range vals {
		if v != v {
			if c.Valid == nil {
				c.Valid = NewBitmap(len(vals))
			}
			c.Valid.SetNull(i)
			vals[i] = nan
		}
	}
	return c
}

// NewIntColumn returns an Int column holding vals with validity valid (nil
// for no nulls). Null slots are set to 0. The column keeps both slices.
func NewIntColumn(name string, vals []int64, valid Bitmap) *Column {
	c := &Column{Name: name, Type: Int, Ints: vals, Valid: normalizeValid(valid, len(vals))}
	for i := range vals {
		if !c.Valid.Valid(i) {
			vals[i] = 0
		}
	}
	return c
}

// NewTimeColumn returns a Time column of Unix nanoseconds (UTC) with
// validity valid (nil for no nulls). Null slots are set to 0.
func NewTimeColumn(name string, nanos []int64, valid Bitmap) *Column {
	c := NewIntColumn(name, nanos, valid)
	c.Type = Time
	return c
}

// NewBoolColumn returns a Bool column holding vals with validity valid (nil
// for no nulls). Null slots are set to false.
func NewBoolColumn(name string, vals []bool, valid Bitmap) *Column {
	c := &Column{Name: name, Type: Bool, Bools: vals, Valid: normalizeValid(valid, len(vals))}
	for i := range vals {
		if !c.Valid.Valid(i) {
			vals[i] = false
		}
	}
	return c
}

// NewStringColumn returns a dictionary-encoded String column of vals with
// validity valid (nil for no nulls); the dictionary holds the values of
// valid rows in first-seen order.
func NewStringColumn(name string, vals []string, valid Bitmap) *Column {
	c := &Column{Name: name, Type: String, Codes: make([]uint32, len(vals)), Valid: normalizeValid(valid, len(vals))}
	index := map[string]uint32{}
	for i, s := range vals {
		if !c.Valid.Valid(i) {
			continue
		}
		code, ok := index[s]
		if !ok {
			code = uint32(len(c.Dict))
			index[s] = code
			c.Dict = append(c.Dict, s)
		}
		c.Codes[i] = code
	}
	return c
}

// normalizeValid returns nil for a bitmap with no nulls among n rows.
func normalizeValid(v Bitmap, n int) Bitmap {
	if v == nil {
		return nil
	}
	for i := range n {
		if !v.Valid(i) {
			return v
		}
	}
	return nil
}

// Take returns a dataset of the given rows of d, in that order (rows may
// repeat). String columns share d's dictionaries. It panics if a row is
// out of range.
func (d *Dataset) Take(rows []int) *Dataset {
	out := &Dataset{Rows: len(rows), Columns: make([]*Column, len(d.Columns))}
	for j, c := range d.Columns {
		out.Columns[j] = c.Take(rows)
	}
	return out
}

// Take returns a column of the given rows of c. String columns share c's
// dictionary.
func (c *Column) Take(rows []int) *Column {
	o := &Column{Name: c.Name, Type: c.Type, Dict: c.Dict}
	switch c.Type {
	case Float:
		o.Floats = make([]float64, len(rows))
		for i, r := range rows {
			o.Floats[i] = c.Floats[r]
		}
	case Int, Time:
		o.Ints = make([]int64, len(rows))
		for i, r := range rows {
			o.Ints[i] = c.Ints[r]
		}
	case Bool:
		o.Bools = make([]bool, len(rows))
		for i, r := range rows {
			o.Bools[i] = c.Bools[r]
		}
	case String:
		o.Codes = make([]uint32, len(rows))
		for i, r := range rows {
			o.Codes[i] = c.Codes[r]
		}
	}
	if c.Valid != nil {
		var v Bitmap
		for i, r := range rows {
			if !c.Valid.Valid(r) {
				if v == nil {
					v = NewBitmap(len(rows))
				}
				v.SetNull(i)
			}
		}
		o.Valid = v
	}
	return o
}

// WithColumn returns a dataset sharing d's columns with c replacing the
// column of the same name, or appended. It panics if c's length is not
// d.Rows (unless d has no columns).
func (d *Dataset) WithColumn(c *Column) *Dataset {
	rows := d.Rows
	if len(d.Columns) == 0 {
		rows = c.Len()
	} else if c.Len() != d.Rows {
		panic(fmt.Sprintf("table: WithColumn %q: %d values for %d rows", c.Name, c.Len(), d.Rows))
	}
	out := &Dataset{Rows: rows, Columns: make([]*Column, 0, len(d.Columns)+1)}
	replaced := false
	for _, old := range d.Columns {
		if old.Name == c.Name {
			out.Columns = append(out.Columns, c)
			replaced = true
		} else {
			out.Columns = append(out.Columns, old)
		}
	}
	if !replaced {
		out.Columns = append(out.Columns, c)
	}
	return out
}

// Select returns a dataset of the named columns, in that order, sharing
// them with d.
func (d *Dataset) Select(names ...string) (*Dataset, error) {
	out := &Dataset{Rows: d.Rows, Columns: make([]*Column, len(names))}
	for i, n := range names {
		c := d.Column(n)
		if c == nil {
			return nil, fmt.Errorf("select: no column %q", n)
		}
		out.Columns[i] = c
	}
	return out, nil
}

// Equal reports whether two columns have the same name, type, length,
// nulls and values. Values are compared as the encoding sees them: floats
// bit for bit (a NaN is a null), strings by value whatever their
// dictionaries, null slots ignored.
func (c *Column) Equal(o *Column) bool {
	if c.Name != o.Name || c.Type != o.Type || c.Len() != o.Len() {
		return false
	}
	for i, n := 0, c.Len(); i < n; i++ {
		cn, on := c.null(i), o.null(i)
		if cn != on {
			return false
		}
		if cn {
			continue
		}
		switch c.Type {
		case Float:
			if math.Float64bits(c.Floats[i]) != math.Float64bits(o.Floats[i]) {
				return false
			}
		case Int, Time:
			if c.Ints[i] != o.Ints[i] {
				return false
			}
		case Bool:
			if c.Bools[i] != o.Bools[i] {
				return false
			}
		case String:
			if c.Dict[c.Codes[i]] != o.Dict[o.Codes[i]] {
				return false
			}
		}
	}
	return true
}

// null reports whether row i is null, counting a float NaN as null.
func (c *Column) null(i int) bool {
	return !c.Valid.Valid(i) || (c.Type == Float && c.Floats[i] != c.Floats[i])
}

// Equal reports whether two datasets have the same row count and equal
// columns in the same order.
func (d *Dataset) Equal(o *Dataset) bool {
	if d.Rows != o.Rows || len(d.Columns) != len(o.Columns) {
		return false
	}
	for i, c := range d.Columns {
		if !c.Equal(o.Columns[i]) {
			return false
		}
	}
	return true
}
