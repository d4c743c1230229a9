package model

import (
	"math"

	"github.com/mlrun-cli/mlrun/steps/table"
)

// Column builders for tests; a nil pointer (or NaN) is a null.

func floatCol(name string, v []float64) *table.Column {
	c := &table.Column{Name: name, Type: table.Float, Floats: v}
	for i, x := range v {
		if math.IsNaN(x) {
			if c.Valid == nil {
				c.Valid = table.NewBitmap(len(v))
			}
			c.Valid.SetNull(i)
		}
	}
	return c
}

func intCol(name string, v []int64, null []bool) *table.Column {
	c := &table.Column{Name: name, Type: table.Int, Ints: v}
	for i, isNull := range null {
		if isNull {
			if c.Valid == nil {
				c.Valid = table.NewBitmap(len(v))
			}
			c.Valid.SetNull(i)
			c.Ints[i] = 0
		}
	}
	return c
}

func boolCol(name string, v []bool) *table.Column {
	return &table.Column{Name: name, Type: table.Bool, Bools: v}
}

// strCol builds a dictionary-encoded column; "" (with null true) is a null.
func strCol(name string, v []string, null []bool) *table.Column {
	c := &table.Column{Name: name, Type: table.String, Codes: make([]uint32, len(v))}
	index := map[string]uint32{}
	for i, s := range v {
		if null != nil && null[i] {
			if c.Valid == nil {
				c.Valid = table.NewBitmap(len(v))
			}
			c.Valid.SetNull(i)
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

func dataset(cols ...*table.Column) *table.Dataset {
	return &table.Dataset{Columns: cols, Rows: cols[0].Len()}
}

// take returns the rows idx of ds (test-only; table.Take may replace it).
func take(ds *table.Dataset, idx []int) *table.Dataset {
	out := &table.Dataset{Rows: len(idx)}
	for _, c := range ds.Columns {
		nc := &table.Column{Name: c.Name, Type: c.Type, Dict: c.Dict}
		if c.Valid != nil {
			nc.Valid = table.NewBitmap(len(idx))
		}
		for k, i := range idx {
			switch c.Type {
			case table.Float:
				nc.Floats = append(nc.Floats, c.Floats[i])
			case table.Int, table.Time:
				nc.Ints = append(nc.Ints, c.Ints[i])
			case table.Bool:
				nc.Bools = append(nc.Bools, c.Bools[i])
			case table.String:
				nc.Codes = append(nc.Codes, c.Codes[i])
			}
			if c.IsNull(i) {
				nc.Valid.SetNull(k)
			}
		}
		out.Columns = append(out.Columns, nc)
	}
	return out
}
