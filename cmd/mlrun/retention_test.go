package main

import (
	"testing"
	"time"
)

func TestRetentionCutoff(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "25mo", want: time.Date(2024, 10, 26, 12, 0, 0, 0, time.UTC)},
		{in: "2y", want: time.Date(2024, 11, 26, 12, 0, 0, 0, time.UTC)},
		{in: "3w", want: time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)},
		{in: "90d", want: time.Date(2026, 8, 28, 12, 0, 0, 0, time.UTC)},
		{in: "0d", want: now},
		{in: "forever"},
		{in: "25", bad: true},
		{in: "25m", bad: true},
		{in: "-1d", bad: true},
		{in: "1.5y", bad: true},
		{in: "1001y", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		got, err := retentionCutoff(tt.in, now)
		if (err != nil) != tt.bad || !got.Equal(tt.want) {
			t.Errorf("retentionCutoff(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}
