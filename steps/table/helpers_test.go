package table

import (
	"slices"
	"strconv"
	"time"
)

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }

func appendFloat(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'f', -1, 64) }

func formatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// equalInfo reports whether two column infos are equal, levels included
// (nil and empty levels differ).
func equalInfo(a, b ColumnInfo) bool {
	return a.Name == b.Name && a.Type == b.Type && a.Declared == b.Declared && a.Nulls == b.Nulls &&
		(a.Levels == nil) == (b.Levels == nil) && slices.Equal(a.Levels, b.Levels)
}

// equalInfos is equalInfo for lists.
func equalInfos(a, b []ColumnInfo) bool { return slices.EqualFunc(a, b, equalInfo) }
