// A lease's payload written without reflection.

package licensing

import (
	"slices"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// appendLeasePayload appends json.Marshal(p)'s bytes to b
// (TestLeasePayloadIsWhatEncodingJSONWrites). ok is false, with b as given,
// when p holds text encoding/json would escape (quotes, backslashes,
// control characters, <, > and &, anything outside ASCII) or the jwt
// package is set to write dates or audiences another way: the caller then
// marshals p. encoding/json walked the struct and its maps by reflection,
// about a third of a lease's cost beside the signature itself.
func appendLeasePayload(b []byte, p *leaseJWT) (_ []byte, ok bool) {
	if jwt.TimePrecision != time.Second || !jwt.MarshalSingleStringAsArray || !plainLease(p) {
		return b, false
	}
	start := len(b)
	b = append(b, '{')
	field := func(name string) {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	str := func(name, v string, omitEmpty bool) {
		if v == "" && omitEmpty {
			return
		}
		field(name)
		b = append(append(append(b, '"'), v...), '"')
	}
	date := func(name string, d *jwt.NumericDate) {
		if d != nil {
			field(name)
			b = strconv.AppendInt(b, d.Truncate(jwt.TimePrecision).Unix(), 10)
		}
	}
	unix := func(name string, v *int64) {
		if v != nil {
			field(name)
			b = strconv.AppendInt(b, *v, 10)
		}
	}
	rc := &p.RegisteredClaims
	str("iss", rc.Issuer, true)
	str("sub", rc.Subject, true)
	if len(rc.Audience) > 0 {
		field("aud")
		b = appendStrings(b, rc.Audience)
	}
	date("exp", rc.ExpiresAt)
	date("nbf", rc.NotBefore)
	date("iat", rc.IssuedAt)
	str("jti", rc.ID, true)
	str("status", string(p.Status), false)
	str("code", string(p.Code), true)
	str("customerId", p.CustomerID, true)
	str("plan", p.Plan, true)
	if len(p.Features) > 0 {
		field("features")
		b = appendStrings(b, p.Features)
	}
	if len(p.Limits) > 0 {
		field("limits")
		var kb [8]string
		for i, k := range sortedKeys(kb[:0], p.Limits) {
			b = strconv.AppendInt(appendKey(b, i, k), p.Limits[k], 10)
		}
		b = append(b, '}')
	}
	if p.MaxDeployments != 0 {
		field("maxDeployments")
		b = strconv.AppendInt(b, int64(p.MaxDeployments), 10)
	}
	unix("startsAt", p.StartsAt)
	unix("licenseExpiresAt", p.LicenseExpiresAt)
	unix("graceEndsAt", p.GraceEndsAt)
	unix("pastDueSince", p.PastDueSince)
	unix("dunningEndsAt", p.DunningEndsAt)
	str("maxVersion", p.MaxVersion, true)
	str("fingerprint", p.Fingerprint, true)
	if len(p.LimitEnforcement) > 0 {
		field("limitEnforcement")
		var kb [8]string
		for i, k := range sortedKeys(kb[:0], p.LimitEnforcement) {
			b = append(append(append(appendKey(b, i, k), '"'), p.LimitEnforcement[k]...), '"')
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// appendStrings appends a JSON array of plain strings.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), s...), '"')
	}
	return append(b, ']')
}

// sortedKeys appends m's keys to keys in the order encoding/json writes them.
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendKey appends the i-th key of an object: the brace or comma before
// it, the key, and the colon.
func appendKey(b []byte, i int, k string) []byte {
	if i == 0 {
		b = append(b, '{')
	} else {
		b = append(b, ',')
	}
	return append(append(append(b, '"'), k...), '"', ':')
}

// plainLease reports whether every text of p is written by encoding/json as
// it is.
func plainLease(p *leaseJWT) bool {
	ok := PlainJSONText(p.Issuer) && PlainJSONText(p.Subject) && PlainJSONText(p.ID) && PlainJSONText(string(p.Status)) &&
		PlainJSONText(string(p.Code)) && PlainJSONText(p.CustomerID) && PlainJSONText(p.Plan) && PlainJSONText(p.MaxVersion) &&
		PlainJSONText(p.Fingerprint)
	for _, s := range p.Audience {
		ok = ok && PlainJSONText(s)
	}
	for _, s := range p.Features {
		ok = ok && PlainJSONText(s)
	}
	for k := range p.Limits {
		ok = ok && PlainJSONText(k)
	}
	for k, v := range p.LimitEnforcement {
		ok = ok && PlainJSONText(k) && PlainJSONText(string(v))
	}
	return ok
}

// PlainJSONText reports whether encoding/json writes s between quotes as
// it is: printable ASCII without ", \ or the characters it escapes for
// HTML. The hand-written JSON writers (leases here, validation answers in
// handlers) write such text directly and leave any other to encoding/json.
func PlainJSONText(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
