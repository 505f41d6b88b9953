// The machine API's routes: parse the body, call one use case of app.Machine, answer.
package handlers

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/valyala/fastjson"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// The machine API: installations authenticate with the license key in the
// body. A validation answer is 200 whatever its code; 4xx means the request
// itself was malformed or unauthenticated.

func (s *Server) registerMachineRoutes(api fiber.Router) {
	perIP := s.rateLimit("machine-ip", s.cfg.MachineRateIP, keyByIP)
	api.Post("/validation/validate", perIP, s.validate)
	api.Post("/validation/heartbeat", perIP, s.heartbeat)
	api.Post("/validation/deactivate", perIP, s.deactivate)
	api.Post("/usage/report", perIP, s.reportUsage)
}

// machineBody is the common part of machine requests.
type machineBody struct {
	LicenseKey   *string `json:"licenseKey"`
	DeploymentID *string `json:"deploymentId"`
	Fingerprint  *string `json:"fingerprint"`
	// FingerprintComponents are the fingerprint's parts by name (host, mac,
	// cpu, disk): HMACs the client computes.
	FingerprintComponents map[string]string `json:"fingerprintComponents"`
	Hostname              *string           `json:"hostname"`
	AppVersion            *string           `json:"appVersion"`
	Features              []string          `json:"features"`
	Explain               bool              `json:"explain"`
}

// check validates the fields every machine request has.
func (b *machineBody) check() error {
	var pr licensing.Problems
	if b.LicenseKey == nil || strings.TrimSpace(*b.LicenseKey) == "" {
		pr.Add("licenseKey", "is required")
	} else if len(*b.LicenseKey) > 16<<10 {
		pr.Add("licenseKey", "is far longer than any license key")
	}
	if b.DeploymentID == nil || *b.DeploymentID == "" {
		pr.Add("deploymentId", "is required (a stable id the installation chooses, e.g. a UUID)")
	} else if len(*b.DeploymentID) > 128 || !printableASCII(*b.DeploymentID) {
		pr.Add("deploymentId", "must be 1 to 128 printable ASCII characters")
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"fingerprint", b.Fingerprint, 256}, {"hostname", b.Hostname, 256}, {"appVersion", b.AppVersion, 64}} {
		if f.v != nil && len(*f.v) > f.max {
			pr.Add(f.name, "is too long")
		}
	}
	if len(b.Features) > 100 {
		pr.Add("features", "at most 100 features may be required at once")
	}
	if len(b.FingerprintComponents) > 16 {
		pr.Add("fingerprintComponents", "at most 16 components")
	}
	for name, v := range b.FingerprintComponents {
		if name == "" || len(name) > 32 || !printableASCII(name) || len(v) > 128 {
			pr.Add("fingerprintComponents", "names are 1 to 32 printable ASCII characters, values at most 128 characters")
			break
		}
	}
	return pr.Err()
}

// plainBody is the request body as sent when it has no Content-Encoding,
// else c.Body() (which decompresses it). c.Body() copies every header's
// name to look for that one when strings are immutable; the fast readers
// copy what they keep.
func plainBody(c *fiber.Ctx) []byte {
	if len(c.Request().Header.Peek(fiber.HeaderContentEncoding)) == 0 {
		return c.Request().Body()
	}
	return c.Body()
}

// strictJSON reports whether body is JSON as encoding/json reads it.
// fastjson's validator is five times json.Valid's speed (0.3 against 1.6 µs
// on a usage body) but takes control characters inside strings, so a body
// with any byte below 0x20 is left to json.Valid. FuzzValidatorsAgree
// compares the two.
func strictJSON(body []byte) bool {
	for _, c := range body {
		if c < 0x20 {
			return json.Valid(body)
		}
	}
	return fastjson.ValidateBytes(body) == nil
}

// nonEmpty is m, or nil when it holds nothing.
func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// machineFields are the machine body's fields the fast reader knows, in
// the bits it marks them seen with.
var machineFields = [...]string{"licenseKey", "deploymentId", "fingerprint", "hostname", "appVersion",
	"fingerprintComponents", "features", "explain"}

// machineField is k's index in machineFields, or -1.
func machineField(k []byte) int {
	switch string(k) {
	case "licenseKey":
		return 0
	case "deploymentId":
		return 1
	case "fingerprint":
		return 2
	case "hostname":
		return 3
	case "appVersion":
		return 4
	case "fingerprintComponents":
		return 5
	case "features":
		return 6
	case "explain":
		return 7
	}
	return -1
}

// parseMachineBodyFast reads a validation body in one pass, without
// reflection, when every field is one decodeJSONLenient reads exactly so:
// the strings, the features and the components' texts are copied into one
// new string. ok is false at the first thing it does not accept as is (a
// field named in another case, a field given twice, a value of another
// type, an escape, text to check); the caller then decodes the body the careful way,
// which names every problem, so that bad input is answered the same way
// either way. Unknown fields are ignored, as the lenient decoder does.
func parseMachineBodyFast(body []byte) (b machineBody, ok bool) {
	// Escapes are left to encoding/json, which reads a lone surrogate as
	// U+FFFD; strictJSON holds fastjson's parser to the grammar
	// encoding/json reads (the parser takes numbers such as "." and checks
	// them only when read).
	if !utf8.Valid(body) || bytes.IndexByte(body, '\\') >= 0 || !strictJSON(body) {
		return b, false
	}
	p := machineParsers.Get()
	defer machineParsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return b, false
	}
	o, err := v.Object()
	if err != nil {
		return b, false
	}
	var strs [5]*fastjson.Value // the five string fields, in machineFields' order
	var comps *fastjson.Object
	var feats []*fastjson.Value
	ok, seen, size := true, 0, 0
	o.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		i := machineField(k)
		if i < 0 {
			for _, f := range machineFields {
				ok = ok && !strings.EqualFold(string(k), f) // encoding/json matches names in any case
			}
			return
		}
		if seen&(1<<i) != 0 {
			ok = false
			return
		}
		seen |= 1 << i
		switch t := v.Type(); {
		case t == fastjson.TypeNull:
		case i < len(strs):
			strs[i], ok = v, t == fastjson.TypeString
			size += len(v.GetStringBytes())
		case i == 5:
			comps, err = v.Object()
			ok = err == nil
			comps.Visit(func(k []byte, v *fastjson.Value) {
				ok = ok && v.Type() == fastjson.TypeString
				size += len(k) + len(v.GetStringBytes())
			})
		case i == 6:
			feats, err = v.Array()
			ok = err == nil
			for _, f := range feats {
				ok = ok && f.Type() == fastjson.TypeString
				size += len(f.GetStringBytes())
			}
			if ok {
				b.Features = make([]string, 0, len(feats))
			}
		default:
			b.Explain, ok = t == fastjson.TypeTrue, t == fastjson.TypeTrue || t == fastjson.TypeFalse
		}
	})
	if !ok {
		return b, false
	}
	// One copy of every text, cut into the fields (a Builder's String is
	// its buffer, not a second copy).
	var buf strings.Builder
	buf.Grow(size)
	var ends [5]int
	for i, v := range strs {
		if v != nil {
			buf.Write(v.GetStringBytes())
		}
		ends[i] = buf.Len()
	}
	comps.Visit(func(k []byte, v *fastjson.Value) { buf.Write(k); buf.Write(v.GetStringBytes()) })
	for _, f := range feats {
		buf.Write(f.GetStringBytes())
	}
	all, at := buf.String(), 0
	cut := func(n int) string { s := all[at : at+n]; at += n; return s }
	var held *[5]string
	for i, v := range strs {
		if v != nil {
			if held == nil {
				held = new([5]string)
			}
			held[i] = cut(ends[i] - at)
		}
	}
	if held != nil {
		for i, p := range []**string{&b.LicenseKey, &b.DeploymentID, &b.Fingerprint, &b.Hostname, &b.AppVersion} {
			if strs[i] != nil {
				*p = &held[i]
			}
		}
	}
	if comps != nil {
		b.FingerprintComponents = make(map[string]string, comps.Len())
		comps.Visit(func(k []byte, v *fastjson.Value) {
			name := cut(len(k))
			b.FingerprintComponents[name] = cut(len(v.GetStringBytes()))
		})
	}
	for _, f := range feats {
		b.Features = append(b.Features, cut(len(f.GetStringBytes())))
	}
	return b, true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// deref is *p, or "" for nil. (Every string it is given is already the
// request's or the row's own: encoding/json, the fast readers and pgx copy
// what they read out of Fiber's and the connection's buffers.)
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// validate handles POST /api/validation/validate.
func (s *Server) validate(c *fiber.Ctx) error { return s.checkLicense(c, true) }

// heartbeat handles POST /api/validation/heartbeat: a validation without
// required features, answered with a fresh lease.
func (s *Server) heartbeat(c *fiber.Ctx) error { return s.checkLicense(c, false) }

func (s *Server) checkLicense(c *fiber.Ctx, withFeatures bool) error {
	b, ok := machineBody{}, false
	if ct := c.Get(fiber.HeaderContentType); ct == "" || strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		b, ok = parseMachineBodyFast(plainBody(c))
	}
	if !ok {
		if err := decodeJSONLenient(c, &b); err != nil {
			return err
		}
	}
	if err := b.check(); err != nil {
		return err
	}
	if !withFeatures {
		b.Features = nil
	}
	ans, err := s.machine.Validate(c.UserContext(), app.ValidateRequest{Credentials: s.credentials(c, &b),
		Fingerprint: deref(b.Fingerprint), Hostname: deref(b.Hostname), IP: clientIP(c), AppVersion: deref(b.AppVersion),
		FingerprintComponents: nonEmpty(b.FingerprintComponents), Features: b.Features, Explain: b.Explain,
		UserAgent: string([]byte(c.Get(fiber.HeaderUserAgent))), RequestID: requestIDOf(c)})
	if err != nil {
		return err
	}
	s.metrics.validation(ans.Code, ans.Lease != nil)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return writeValidation(c, &ans)
}

// keyRateLimit limits one license key's requests, wherever they come from.
func (s *Server) keyRateLimit(c *fiber.Ctx) func(hash [32]byte) error {
	return func(hash [32]byte) error {
		return s.allow(c, "machine-key:"+hexString(hash[:8]), s.cfg.MachineRateKey)
	}
}

// credentials are what a machine request authenticates with.
func (s *Server) credentials(c *fiber.Ctx, b *machineBody) app.Credentials {
	return app.Credentials{Key: *b.LicenseKey, DeploymentID: deref(b.DeploymentID), Throttle: s.keyRateLimit(c)}
}

// deactivate handles POST /api/validation/deactivate: the installation
// releases its own seat (e.g. on uninstall).
func (s *Server) deactivate(c *fiber.Ctx) error {
	var b machineBody
	if err := decodeJSONLenient(c, &b); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	actor := licensing.Actor{Type: licensing.ActorClient, ID: deref(b.DeploymentID), Label: "installation " + deref(b.DeploymentID),
		IP: c.IP(), UserAgent: string([]byte(c.Get(fiber.HeaderUserAgent))), RequestID: requestIDOf(c)}
	rel, err := s.machine.Deactivate(c.UserContext(), s.credentials(c, &b), actor)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"released": true, "deployment": rel.Deployment, "serverTime": rel.ServerTime})
}

// reportUsage handles POST /api/usage/report.
func (s *Server) reportUsage(c *fiber.Ctx) error {
	mb, reports, ok := machineBody{}, []db.UsageReportIn(nil), false
	if ct := c.Get(fiber.HeaderContentType); ct == "" || strings.HasPrefix(strings.ToLower(ct), fiber.MIMEApplicationJSON) {
		mb, reports, ok = parseUsageBodyFast(plainBody(c))
	}
	if !ok {
		var b usageReportBody
		if err := decodeJSONLenient(c, &b); err != nil {
			return err
		}
		mb = machineBody{LicenseKey: b.LicenseKey, DeploymentID: b.DeploymentID}
		if err := mb.check(); err != nil {
			return err
		}
		var err error
		if reports, err = parseUsageReports(b.Reports); err != nil {
			return err
		}
	} else if err := mb.check(); err != nil {
		return err
	}
	rec, err := s.machine.ReportUsage(c.UserContext(), s.credentials(c, &mb), reports)
	if err != nil {
		return err
	}
	s.metrics.usageIngested(reports, rec.Results)
	return writeUsageAnswer(c, rec)
}

// writeUsageAnswer writes {"results":[{"id","status"}...],"usage":{...}}
// as c.JSON(fiber.Map{...}) would, the results by hand: for a batch of
// 100 reports, encoding/json's reflection over them was a tenth of the
// request's CPU.
func writeUsageAnswer(c *fiber.Ctx, rec app.UsageReceipt) error {
	usage, err := json.Marshal(rec.Usage)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 24+len(rec.Results)*64+len(usage))
	b = append(b, `{"results":[`...)
	for i, r := range rec.Results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":"`...)
		b = appendUUID(b, r.ID)
		b = append(b, `","status":`...)
		b = strconv.AppendQuote(b, r.Status)
		b = append(b, '}')
	}
	b = append(b, `],"usage":`...)
	b = append(b, usage...)
	b = append(b, '}')
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// appendUUID appends id in its canonical form, as uuid.UUID.String writes it.
func appendUUID(b []byte, id uuid.UUID) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], id[10:])
	return append(b, buf[:]...)
}

// flushStats makes this process's validation counts and last-seen times
// visible before a page or answer that shows them.
func (s *Server) flushStats(c *fiber.Ctx) {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.stats.Flush(ctx); err != nil {
		s.log.Warn("flushing validation counts failed", "err", err)
	}
	if err := s.seen.Flush(ctx); err != nil {
		s.log.Warn("flushing last-seen times failed", "err", err)
	}
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
