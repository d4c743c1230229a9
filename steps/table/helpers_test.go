package table

import (
	"strconv"
	"time"
)

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }

func appendFloat(b []byte, f float64) []byte { return strconv.AppendFloat(b, f, 'f', -1, 64) }

func formatTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }
