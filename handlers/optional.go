package handlers

import (
	"bytes"
	"encoding/json"
)

// optional tells an absent JSON field (keep the value) from an explicit null
// (clear it) and from a value (set it): PATCH needs all three.
type optional[T any] struct {
	Set   bool // the field was present
	Value *T   // nil when it was null
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	o.Value = &v
	return nil
}

func (o optional[T]) applyTo(dst **T) {
	if o.Set {
		*dst = o.Value
	}
}
