package handlers

// Editing a license from its admin page: features, limits, seats, expiry,
// grace days and notes, the fields the management API's PATCH changes,
// through the same use case (app.Licenses.Update), audited the same way.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/components"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
)

// blankLimitRows is how many empty rows a limits form offers for new limits.
const blankLimitRows = 3

// adminEditLicense handles GET /admin/licenses/:id/edit.
func (s *Server) adminEditLicense(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	f := admin.LicenseEditForm{ID: l.ID.String(), Features: strings.Join(l.Features, ", "),
		Limits: limitRowsOf(db.DecodeLimits(l.Limits)), ExpiresAt: lastValidDay(l.ExpiresAt),
		GraceDays: strconv.Itoa(int(l.GraceDays)), Notes: l.Notes}
	if l.MaxDeployments != nil {
		f.MaxDeployments = strconv.Itoa(int(*l.MaxDeployments))
	}
	return s.renderLicenseEdit(c, fiber.StatusOK, l, f)
}

func (s *Server) renderLicenseEdit(c *fiber.Ctx, status int, l db.License, f admin.LicenseEditForm) error {
	f.Title = "License " + l.ID.String()[:8]
	if cu, err := s.store.GetCustomer(c.UserContext(), l.CustomerID); err == nil {
		f.Title = cu.Name + " · " + f.Title
	}
	c.Status(status)
	return s.render(c, admin.LicenseEditPage(s.page(c, "Edit license "+l.ID.String()[:8]), f))
}

// adminUpdateLicense handles POST /admin/licenses/:id/edit. Invalid input
// shows the form again with what was typed and nothing saved (422); a saved
// edit goes back to the license page.
func (s *Server) adminUpdateLicense(c *fiber.Ctx) error {
	l, err := s.licenseByParam(c)
	if err != nil {
		return err
	}
	f := admin.LicenseEditForm{ID: l.ID.String(), Features: strings.Clone(c.FormValue("features")),
		Limits: limitRowsFrom(c), MaxDeployments: strings.Clone(c.FormValue("maxDeployments")),
		ExpiresAt: strings.Clone(c.FormValue("expiresAt")), GraceDays: strings.Clone(c.FormValue("graceDays")),
		Notes: strings.Clone(c.FormValue("notes")), Errors: formTextErrors(c)}
	features := splitList(f.Features)
	limits, msg := parseLimitRows(f.Limits)
	if msg != "" {
		f.Errors["limits"] = msg
	}
	var maxDeployments *int32
	if v := strings.TrimSpace(f.MaxDeployments); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			f.Errors["maxDeployments"] = "Enter a whole number from 1 to 1000000, or leave it blank for unlimited."
		} else {
			maxDeployments = ptr(int32(n))
		}
	}
	expires := l.ExpiresAt
	if v := strings.TrimSpace(f.ExpiresAt); v != lastValidDay(l.ExpiresAt) {
		// Only a changed date moves the expiry, so that saving other fields
		// keeps an expiry set to the second by the API or Stripe.
		expires = nil
		if v != "" {
			d, err := time.Parse(dateFormat, v)
			switch {
			case err != nil:
				f.Errors["expiresAt"] = "Enter a date as YYYY-MM-DD, or leave it blank for no expiry."
			case !inLicenseDateWindow(d):
				f.Errors["expiresAt"] = "Choose a date between 2000-01-01 and 2999-12-31."
			default:
				// Valid through the chosen day (UTC), as when issuing.
				expires = ptr(d.AddDate(0, 0, 1))
			}
		}
	}
	grace, err := strconv.Atoi(strings.TrimSpace(f.GraceDays))
	if err != nil || grace < 0 || grace > 365 {
		f.Errors["graceDays"] = "Enter a whole number of days from 0 to 365."
	}
	if len(f.Notes) > 2000 {
		f.Errors["notes"] = "Shorten the notes to at most 2000 characters."
	}
	if len(f.Errors) == 0 {
		_, err = s.licenses.Update(c.UserContext(), s.adminActor(c), l.ID, func(x *db.License) error {
			var pr licensing.Problems
			x.Features = licensing.CheckFeatures(&pr, "features", features)
			licensing.CheckLimits(&pr, "limits", limits)
			x.Limits = encodeLimits(limits)
			x.MaxDeployments = maxDeployments
			x.ExpiresAt = expires
			x.GraceDays = int32(grace)
			x.Notes = strings.TrimSpace(f.Notes)
			return pr.Err()
		})
		if err != nil {
			le := classify(err)
			if le.Code != licensing.EINVALID {
				return err
			}
			for _, d := range le.Details {
				field, _, _ := strings.Cut(d.Field, ".")
				if field == "" {
					field = "features"
				}
				f.Errors[field] = sentence(d.Message)
			}
			if len(le.Details) == 0 {
				f.Errors["features"] = problemText(err)
			}
		}
	}
	if len(f.Errors) > 0 {
		f.Limits = append(nonBlankRows(f.Limits), make([]components.LimitRow, blankLimitRows)...)
		return s.renderLicenseEdit(c, fiber.StatusUnprocessableEntity, l, f)
	}
	s.setFlash(c, components.ToastSuccess, "License saved. Installations get the new entitlements at their next validation.")
	return c.Redirect("/admin/licenses/"+l.ID.String(), fiber.StatusSeeOther)
}

// lastValidDay is the date field's value for an expiry: the last day the
// license is valid, so an expiry at midnight UTC shows the day before.
func lastValidDay(exp *time.Time) string {
	if exp == nil {
		return ""
	}
	return exp.UTC().Add(-time.Nanosecond).Format(dateFormat)
}

// limitRowsOf turns limits into form rows sorted by name, plus blank rows.
func limitRowsOf(limits map[string]int64) []components.LimitRow {
	names := make([]string, 0, len(limits))
	for n := range limits {
		names = append(names, n)
	}
	sort.Strings(names)
	rows := make([]components.LimitRow, 0, len(names)+blankLimitRows)
	for _, n := range names {
		rows = append(rows, components.LimitRow{Name: n, Value: strconv.FormatInt(limits[n], 10)})
	}
	return append(rows, make([]components.LimitRow, blankLimitRows)...)
}

// limitRowsFrom reads the limitName, limitValue and (on a plan's form)
// limitLabel fields of a posted form, row by row.
func limitRowsFrom(c *fiber.Ctx) []components.LimitRow {
	args := c.Request().PostArgs()
	names, values, labels := args.PeekMulti("limitName"), args.PeekMulti("limitValue"), args.PeekMulti("limitLabel")
	rows := make([]components.LimitRow, 0, len(names))
	for i, n := range names {
		r := components.LimitRow{Name: string(n)}
		if i < len(values) {
			r.Value = string(values[i])
		}
		if i < len(labels) {
			r.Label = string(labels[i])
		}
		rows = append(rows, r)
	}
	return rows
}

func nonBlankRows(rows []components.LimitRow) []components.LimitRow {
	out := rows[:0:0]
	for _, r := range rows {
		if strings.TrimSpace(r.Name) != "" || strings.TrimSpace(r.Value) != "" || strings.TrimSpace(r.Label) != "" {
			out = append(out, r)
		}
	}
	return out
}

// parseLimitRows turns form rows into limits; a row with a blank name is
// skipped, so clearing a name removes the limit.
func parseLimitRows(rows []components.LimitRow) (map[string]int64, string) {
	out := map[string]int64{}
	for i, r := range rows {
		name, value := strings.TrimSpace(r.Name), strings.TrimSpace(strings.ReplaceAll(r.Value, ",", ""))
		if name == "" {
			if value != "" {
				return nil, fmt.Sprintf("Row %d has a number but no metric: name the metric or clear the number.", i+1)
			}
			continue
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Sprintf("Row %d (%s): enter the most allowed as a whole number, e.g. 25.", i+1, name)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Sprintf("Row %d: %s is listed twice; keep one row per metric.", i+1, name)
		}
		out[name] = n
	}
	return out, ""
}
