// Decoded policy documents for the validation hot path: a plan's limit
// enforcement, a license's policy overrides and a deployment's fingerprint
// components are JSON in their rows, and the same few texts are read on
// every validation. Decoding each distinct text once keeps the policies from
// costing a validation more than a map lookup.

package db

import (
	"encoding/json"
	"sync"

	"github.com/nectarcloud/nls/licensing"
)

// maxMemoized bounds each memo; past it the memo starts afresh (forgetting
// costs one decode per text).
const maxMemoized = 50_000

// jsonMemo maps a JSON text to its decoded value.
type jsonMemo[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

func (j *jsonMemo[T]) get(b []byte, decode func([]byte) T) T {
	j.mu.RLock()
	v, ok := j.m[string(b)] // no allocation: the conversion is only a key
	j.mu.RUnlock()
	if ok {
		return v
	}
	v = decode(b)
	j.mu.Lock()
	if j.m == nil || len(j.m) >= maxMemoized {
		j.m = map[string]T{}
	}
	j.m[string(b)] = v
	j.mu.Unlock()
	return v
}

// PolicyMemo decodes the policy documents of validation rows once per
// distinct text. What it returns is shared by every request that reads the
// same text: read it, never modify it.
type PolicyMemo struct {
	enforcement jsonMemo[map[string]licensing.Enforcement]
	overrides   jsonMemo[licensing.PolicyOverrides]
	components  jsonMemo[map[string]string]
	limits      jsonMemo[map[string]int64]
}

// Limits is DecodeLimits, shared.
func (m *PolicyMemo) Limits(b []byte) map[string]int64 { return m.limits.get(b, DecodeLimits) }

// Policy is PlanPolicy with the license's overrides applied.
func (m *PolicyMemo) Policy(fp, match string, leaseHours, transfers, periodDays int32, overage string, enforcement []byte,
	expiry string, overrides []byte) licensing.Policy {
	p := PlanPolicy(fp, match, leaseHours, transfers, periodDays, overage, nil, expiry)
	if len(enforcement) > 2 {
		p.LimitEnforcement = m.enforcement.get(enforcement, func(b []byte) map[string]licensing.Enforcement {
			var e map[string]licensing.Enforcement
			_ = json.Unmarshal(b, &e)
			return e
		})
	}
	if len(overrides) > 2 {
		p = p.With(m.overrides.get(overrides, DecodePolicyOverrides))
	}
	return p
}

// Components is DecodeComponents, shared.
func (m *PolicyMemo) Components(b []byte) map[string]string {
	if len(b) <= 2 {
		return nil
	}
	return m.components.get(b, DecodeComponents)
}
