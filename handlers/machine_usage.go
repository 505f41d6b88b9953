// The usage report body: parsing and checking each report before app.Machine.ReportUsage records it.
package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/valyala/fastjson"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

const maxReportsPerRequest = 1000

type usageReportBody struct {
	LicenseKey   *string           `json:"licenseKey"`
	DeploymentID *string           `json:"deploymentId"`
	Reports      []json.RawMessage `json:"reports"`
}

type usageReportItem struct {
	ID          *string                    `json:"id"`
	PeriodStart *string                    `json:"periodStart"`
	PeriodEnd   *string                    `json:"periodEnd"`
	Metrics     map[string]json.RawMessage `json:"metrics"`
}

// parseUsageReports validates a batch: 1 to 1000 reports, each with a UUID
// id, an RFC 3339 period (end not before start) and metrics named
// [a-zA-Z][a-zA-Z0-9_.]{0,63} with non-negative 64-bit integer values. Every
// problem is reported with its field path, e.g. reports[3].metrics.users.
func parseUsageReports(raw []json.RawMessage) ([]db.UsageReportIn, error) {
	var pr licensing.Problems
	if len(raw) == 0 {
		pr.Add("reports", "at least one report is required")
		return nil, pr.Err()
	}
	if len(raw) > maxReportsPerRequest {
		pr.Add("reports", fmt.Sprintf("at most %d reports per request, got %d", maxReportsPerRequest, len(raw)))
		return nil, pr.Err()
	}
	out := make([]db.UsageReportIn, 0, len(raw))
	for i, r := range raw {
		at := func(f string) string { return "reports[" + strconv.Itoa(i) + "]" + f }
		var item usageReportItem
		if err := json.Unmarshal(r, &item); err != nil || bytes.TrimSpace(r)[0] != '{' {
			pr.Add(at(""), "must be an object with id, periodStart, periodEnd and metrics")
			continue
		}
		var rep db.UsageReportIn
		if item.ID == nil {
			pr.Add(at(".id"), "is required (a UUID chosen by the client)")
		} else if id, err := uuid.Parse(*item.ID); err != nil {
			pr.Add(at(".id"), "must be a UUID")
		} else {
			rep.ID = id
		}
		rep.PeriodStart = parseReportTime(&pr, at(".periodStart"), item.PeriodStart)
		rep.PeriodEnd = parseReportTime(&pr, at(".periodEnd"), item.PeriodEnd)
		if !rep.PeriodStart.IsZero() && !rep.PeriodEnd.IsZero() && rep.PeriodEnd.Before(rep.PeriodStart) {
			pr.Add(at(".periodEnd"), "must not be before periodStart")
		}
		if len(item.Metrics) == 0 {
			pr.Add(at(".metrics"), "at least one metric is required")
		}
		if len(item.Metrics) > 100 {
			pr.Add(at(".metrics"), "at most 100 metrics per report")
		}
		rep.Metrics = make(map[string]int64, len(item.Metrics))
		for name, v := range item.Metrics {
			field := at(".metrics." + truncateField(name))
			if !licensing.ValidMetricName(name) {
				pr.Add(field, "metric names match [a-zA-Z][a-zA-Z0-9_.]{0,63}")
				continue
			}
			n, ok := parseNonNegativeInt(v)
			if !ok {
				pr.Add(field, "must be a non-negative integer of at most 9223372036854775807")
				continue
			}
			rep.Metrics[name] = n
		}
		out = append(out, rep)
		if len(pr) > 50 {
			break
		}
	}
	return out, pr.Err()
}

func truncateField(s string) string {
	if len(s) > 70 {
		return s[:70] + "…"
	}
	return s
}

// parseReportTime reads an RFC 3339 time within a sane range.
func parseReportTime(pr *licensing.Problems, field string, v *string) time.Time {
	if v == nil {
		pr.Add(field, "is required (RFC 3339 time)")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		pr.Add(field, "must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
		return time.Time{}
	}
	return t.UTC()
}

// parseNonNegativeInt accepts a bare JSON integer (no quotes, fraction or exponent) in int64 range.
func parseNonNegativeInt(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s[0] == '-' || s[0] == '"' {
		return 0, false
	}
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64 {
		return 0, false
	}
	return n, true
}

// machineParsers reuses fastjson's parsers, and the memory they parse into,
// across the machine API's requests.
var machineParsers fastjson.ParserPool

// parseUsageBodyFast reads a usage body in one pass, without reflection,
// when every part of it is as it should be: a body of 100 reports was
// decoded twice by encoding/json (the envelope, then each report), a third
// of the request's CPU. ok is false at the first thing it does not accept
// exactly; the caller then decodes the body the careful way, which names
// every problem, so the answers to bad input are the same either way.
func parseUsageBodyFast(body []byte) (mb machineBody, reports []db.UsageReportIn, ok bool) {
	// strictJSON: as parseMachineBodyFast.
	if !utf8.Valid(body) || bytes.Contains(body, []byte(`\u0000`)) || !strictJSON(body) {
		return mb, nil, false
	}
	p := machineParsers.Get()
	defer machineParsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return mb, nil, false
	}
	o, err := v.Object()
	if err != nil {
		return mb, nil, false
	}
	var raw []*fastjson.Value
	ok = true
	o.Visit(func(k []byte, v *fastjson.Value) {
		switch key := string(k); {
		case key == "licenseKey":
			mb.LicenseKey = fastString(v, &ok)
		case key == "deploymentId":
			mb.DeploymentID = fastString(v, &ok)
		case key == "reports":
			if raw, err = v.Array(); err != nil {
				ok = false
			}
		case strings.EqualFold(key, "licenseKey"), strings.EqualFold(key, "deploymentId"), strings.EqualFold(key, "reports"):
			ok = false // encoding/json would match it regardless of case
		}
	})
	if !ok || len(raw) == 0 || len(raw) > maxReportsPerRequest {
		return mb, nil, false
	}
	reports = make([]db.UsageReportIn, len(raw))
	for i, r := range raw {
		if !fastReport(r, &reports[i]) {
			return mb, nil, false
		}
	}
	return mb, reports, true
}

// fastString is a JSON string's copy (null: nil), or ok false.
func fastString(v *fastjson.Value, ok *bool) *string {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil
	case fastjson.TypeString:
		s := string(v.GetStringBytes())
		return &s
	}
	*ok = false
	return nil
}

// fastReport fills rep from a report that parseUsageReports would accept
// unchanged, or answers false.
func fastReport(v *fastjson.Value, rep *db.UsageReportIn) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	ok, seen := true, 0
	var metrics *fastjson.Object
	o.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		switch key := string(k); {
		case key == "id":
			s := fastString(v, &ok)
			id, err := uuid.Parse(deref(s))
			rep.ID, ok, seen = id, ok && s != nil && err == nil, seen|1
		case key == "periodStart":
			rep.PeriodStart, seen = fastTime(v, ok), seen|2
		case key == "periodEnd":
			rep.PeriodEnd, seen = fastTime(v, ok), seen|4
		case key == "metrics":
			metrics, err = v.Object()
			ok, seen = ok && err == nil, seen|8
		case strings.EqualFold(key, "id"), strings.EqualFold(key, "periodStart"), strings.EqualFold(key, "periodEnd"),
			strings.EqualFold(key, "metrics"):
			ok = false
		}
	})
	if !ok || seen != 15 || rep.PeriodStart.IsZero() || rep.PeriodEnd.IsZero() || rep.PeriodEnd.Before(rep.PeriodStart) ||
		metrics.Len() == 0 || metrics.Len() > 100 {
		return false
	}
	rep.Metrics = make(map[string]int64, metrics.Len())
	var num []byte
	metrics.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		name := string(k)
		if _, twice := rep.Metrics[name]; twice || v.Type() != fastjson.TypeNumber || !licensing.ValidMetricName(name) {
			ok = false
			return
		}
		num = v.MarshalTo(num[:0])
		n, valid := parseNonNegativeInt(num)
		ok = valid
		rep.Metrics[name] = n
	})
	return ok
}

// fastTime is a report time as parseReportTime reads it, or zero.
func fastTime(v *fastjson.Value, ok bool) time.Time {
	if !ok || v.Type() != fastjson.TypeString {
		return time.Time{}
	}
	var pr licensing.Problems
	s := string(v.GetStringBytes())
	t := parseReportTime(&pr, "", &s)
	if len(pr) > 0 {
		return time.Time{}
	}
	return t
}
