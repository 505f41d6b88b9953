// net/http middleware: license, feature and limit gates answered from
// memory, and API-call counting. The passing path does not allocate.

package client

import (
	"net/http"
	"strconv"
)

// Middleware lets requests through while the license is valid; otherwise it
// answers 402 (paying would fix it: expired, suspended for non-payment) or
// 403 with {"error": {"code": ..., "message": ...}}.
func (c *Client) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.Allow(); err != nil {
			WriteRefusal(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireFeature is middleware that lets requests through only while the
// license is valid and includes feature (else 403 FEATURE_NOT_ENTITLED, or
// the license's own refusal).
func (c *Client) RequireFeature(feature string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := c.AllowFeature(feature); err != nil {
				WriteRefusal(w, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CheckUsageLimit is middleware that refuses a request (403
// LIMIT_EXCEEDED, with metric, limit and current) when current(r) exceeds
// the license's limit on metric; see CheckLimit.
func (c *Client) CheckUsageLimit(metric string, current func(*http.Request) int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := c.CheckLimit(metric, current(r)); err != nil {
				WriteRefusal(w, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TrackAPICalls is middleware that counts every request as one apiCalls.
func (c *Client) TrackAPICalls(next http.Handler) http.Handler {
	m := c.usage.meter(MetricAPICalls)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.v.Add(1)
		next.ServeHTTP(w, r)
	})
}

// WriteRefusal answers err (from Allow, AllowFeature or CheckLimit) as
// Refusal describes.
func WriteRefusal(w http.ResponseWriter, err error) {
	status, body := Refusal(err)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
