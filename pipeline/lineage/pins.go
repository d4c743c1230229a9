package lineage

import (
	"context"
	"fmt"
	"time"
)

// nsPins holds the pins: records/pins/<name>.json.
const nsPins = "pins"

// Pin names roots that GC keeps whatever runs it drops: objects that no run
// record references (a registered model version's description, a scored
// batch's decision log) and run records that must outlive --keep-last (the
// run that trained a registered version). Pins are written by the packages
// that need them (pipeline/registry, predict) under names of their choosing.
type Pin struct {
	// Objects are kept, with Runs' objects.
	Objects []ID `json:"objects,omitempty"`
	// Runs are run ids whose records GC never drops.
	Runs []string `json:"runs,omitempty"`
	// Why says what the pin is for, for people reading the store.
	Why string `json:"why,omitempty"`
	// Created is when the pin was made.
	Created time.Time `json:"created,omitzero"`
	// Expires marks a pin held for a retention period only (a scored
	// batch's decision log): GC releases it once Created is before
	// GCOptions.RetainSince. Other pins are kept until replaced.
	Expires bool `json:"expires,omitempty"`
}

// expired reports whether GC may release the pin at cutoff (zero: never).
func (p *Pin) expired(cutoff time.Time) bool {
	return p.Expires && !cutoff.IsZero() && !p.Created.IsZero() && p.Created.Before(cutoff)
}

// PutPin stores (or replaces) the pin with the given name. Callers should
// hold RunLock while they store the objects a pin names and commit the pin,
// so that a concurrent GC cannot remove an object in between.
func (tx *Tx) PutPin(ctx context.Context, name string, p *Pin) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("pin %q: %w", name, err)
	}
	_, err := tx.PutJSON(ctx, nsPins, name, p)
	return err
}

// DeletePin removes the named pin.
func (tx *Tx) DeletePin(ctx context.Context, name string) { tx.Delete(ctx, nsPins, name) }

// GetPin returns the named pin, or an error wrapping ErrNotFound.
func (v *View) GetPin(ctx context.Context, name string) (*Pin, error) {
	var p Pin
	if err := v.GetJSON(ctx, nsPins, name, &p); err != nil {
		return nil, fmt.Errorf("pin %q: %w", name, err)
	}
	return &p, nil
}

// Pins returns every pin by name. A pin that cannot be read is an error:
// GC must not guess what it protects.
func (v *View) Pins(ctx context.Context) (map[string]*Pin, error) {
	names, err := v.List(ctx, nsPins)
	if err != nil {
		return nil, fmt.Errorf("pins: %w", err)
	}
	out := make(map[string]*Pin, len(names))
	for _, name := range names {
		p, err := v.GetPin(ctx, name)
		if err != nil {
			return nil, err
		}
		out[name] = p
	}
	return out, nil
}

// GetPin is View.GetPin at the tip.
func (s *Store) GetPin(ctx context.Context, name string) (*Pin, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	return v.GetPin(ctx, name)
}

// Pins is View.Pins at the tip.
func (s *Store) Pins(ctx context.Context) (map[string]*Pin, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	return v.Pins(ctx)
}
