// The validation answer written without reflection.
package handlers

import (
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/licensing"
)

// writeValidation answers ans as c.JSON(ans) does, byte for byte
// (TestValidationAnswerIsWhatEncodingJSONWrites), written by hand into the
// response's own buffer when every text in it is one encoding/json writes
// as it is; else through c.JSON. encoding/json's reflection over the
// answer, its license and its maps was about a tenth of a heartbeat's CPU.
func writeValidation(c *fiber.Ctx, ans *app.Validation) error {
	var room [2048]byte
	b, ok := appendValidation(room[:0], ans)
	if !ok {
		return c.JSON(ans)
	}
	c.Response().SetBody(b) // a copy: room is on this function's stack
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// appendValidation appends json.Marshal(v)'s bytes, or reports false.
func appendValidation(b []byte, v *app.Validation) ([]byte, bool) {
	ok := true
	str := func(s string) {
		ok = ok && licensing.PlainJSONText(s)
		b = append(append(append(b, '"'), s...), '"')
	}
	tm := func(t time.Time) {
		_, off := t.Zone()
		ok = ok && t.Year() >= 0 && t.Year() <= 9999 && off > -24*3600 && off < 24*3600
		b = append(t.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
	}
	tmPtr := func(t *time.Time) {
		if t == nil {
			b = append(b, "null"...)
		} else {
			tm(*t)
		}
	}
	strs := func(ss []string) {
		if ss == nil {
			b = append(b, "null"...)
			return
		}
		b = append(b, '[')
		for i, s := range ss {
			if i > 0 {
				b = append(b, ',')
			}
			str(s)
		}
		b = append(b, ']')
	}
	b = append(append(b, `{"valid":`...), strconv.FormatBool(v.Valid)...)
	b = append(b, `,"code":`...)
	str(v.Code)
	b = append(b, `,"detail":`...)
	str(v.Detail)
	b = append(b, `,"license":`...)
	if l := v.License; l == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":"`...)
		b = append(appendUUID(b, l.ID), `","status":`...)
		str(l.Status)
		b = append(b, `,"plan":`...)
		str(l.Plan)
		b = append(b, `,"features":`...)
		strs(l.Features)
		b = append(b, `,"limits":`...)
		if l.Limits == nil {
			b = append(b, "null"...)
		} else {
			var room [8]string
			keys := room[:0]
			for k := range l.Limits {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			b = append(b, '{')
			for i, k := range keys {
				if i > 0 {
					b = append(b, ',')
				}
				str(k)
				b = strconv.AppendInt(append(b, ':'), l.Limits[k], 10)
			}
			b = append(b, '}')
		}
		b = append(b, `,"maxDeployments":`...)
		if l.MaxDeployments == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, int64(*l.MaxDeployments), 10)
		}
		b = strconv.AppendInt(append(b, `,"activeDeployments":`...), int64(l.ActiveDeployments), 10)
		b = append(b, `,"expiresAt":`...)
		tmPtr(l.ExpiresAt)
		b = append(b, `,"graceEndsAt":`...)
		tmPtr(l.GraceEndsAt)
		if l.DunningEndsAt != nil {
			b = append(b, `,"dunningEndsAt":`...)
			tm(*l.DunningEndsAt)
		}
		if l.NewestAllowedVersion != "" {
			b = append(b, `,"newestAllowedVersion":`...)
			str(l.NewestAllowedVersion)
		}
		b = append(b, '}')
	}
	b = append(b, `,"deployment":`...)
	if d := v.Deployment; d == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"id":`...)
		str(d.ID)
		b = append(b, `,"status":`...)
		str(d.Status)
		b = append(b, `,"firstSeenAt":`...)
		tm(d.FirstSeenAt)
		b = append(b, `,"lastSeenAt":`...)
		tm(d.LastSeenAt)
		b = append(b, '}')
	}
	b = append(b, `,"lease":`...)
	if v.Lease == nil {
		b = append(b, "null"...)
	} else {
		str(*v.Lease)
	}
	b = append(b, `,"leaseExpiresAt":`...)
	tmPtr(v.LeaseExpiresAt)
	b = append(b, `,"serverTime":`...)
	tm(v.ServerTime)
	if len(v.Explain) > 0 {
		b = append(b, `,"explain":[`...)
		for i, ch := range v.Explain {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			str(ch.Name)
			b = append(append(b, `,"passed":`...), strconv.FormatBool(ch.Passed)...)
			if ch.Detail != "" {
				b = append(b, `,"detail":`...)
				str(ch.Detail)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(v.Warnings) > 0 {
		b = append(b, `,"warnings":`...)
		strs(v.Warnings)
	}
	return append(b, '}'), ok
}
