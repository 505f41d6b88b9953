// The one-pass usage body reader agrees with the careful one on every body
// it accepts, and leaves every body the careful one refuses to it.
package handlers

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func TestFastUsageBodyAgreesWithTheCarefulReading(t *testing.T) {
	const rep = `{"id":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:01:00Z","metrics":{"apiCalls":3,"users":2}}`
	bodies := map[string]bool{ // body → the fast reader should take it
		`{"licenseKey":"k","deploymentId":"d","reports":[` + rep + `]}`:                                 true,
		`{"licenseKey":"k","deploymentId":"d","extra":{"x":[1,2]},"reports":[` + rep + `,` + rep + `]}`: true,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"9b2c1a4e-0000-4000-8000-000000000002","periodStart":"2026-11-01T00:00:00.5+01:00","periodEnd":"2026-11-01T00:00:00.5+01:00","metrics":{"api\u0043alls":0}}]}`: true,
		`{"LicenseKey":"k","deploymentId":"d","reports":[` + rep + `]}`:          false, // case-folded key
		`{"licenseKey":"k","deploymentId":"d","reports":[` + rep + `]} trailing`: false,
		`{"licenseKey":"k","deploymentId":"d","reports":[]}`:                     false,
		`{"licenseKey":"k","deploymentId":"d","reports":[null]}`:                 false,
		`{"licenseKey":1,"deploymentId":"d","reports":[` + rep + `]}`:            false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"x","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:00:00Z","metrics":{"a":1}}]}`:                                          false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-10-01T00:00:00Z","metrics":{"a":1}}]}`:       false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:00:00Z","metrics":{"a":1.5}}]}`:     false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:00:00Z","metrics":{"a":-1}}]}`:      false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:00:00Z","metrics":{"a":1,"a":2}}]}`: false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:00:00Z","metrics":{"9a":1}}]}`:      false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:00:00Z","metrics":{"a":"1"}}]}`:     false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"id":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:00:00Z","metrics":{}}]}`:            false,
		`{"licenseKey":"k","deploymentId":"d","reports":[{"ID":"9b2c1a4e-0000-4000-8000-000000000001","periodStart":"2026-11-01T00:00:00Z","periodEnd":"2026-11-01T00:00:00Z","metrics":{"a":1}}]}`:       false,
		"{\"licenseKey\":\"k\\u0000\",\"deploymentId\":\"d\",\"reports\":[" + rep + "]}":                                                                                                                  false,
		`[1,2]`: false,
		`{"licenseKey":"k","deploymentId":"d","x":.,"reports":[` + rep + `]}`: false, // fastjson alone takes "."
	}
	for body, want := range bodies {
		mb, fast, ok := parseUsageBodyFast([]byte(body))
		if ok != want {
			t.Errorf("%s: taken by the fast reader %v, want %v", body, ok, want)
			continue
		}
		if !ok {
			continue
		}
		var b usageReportBody
		if err := json.Unmarshal([]byte(body), &b); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		careful, err := parseUsageReports(b.Reports)
		if err != nil {
			t.Errorf("%s: the fast reader took what the careful one refuses: %v", body, err)
			continue
		}
		if !reflect.DeepEqual(fast, careful) || *mb.LicenseKey != *b.LicenseKey || *mb.DeploymentID != *b.DeploymentID {
			t.Errorf("%s: the fast reader read\n%+v\nthe careful one\n%+v", body, fast, careful)
		}
	}
}

func TestUsageAnswerIsWhatEncodingJSONWrites(t *testing.T) {
	app := fiber.New()
	rec := appUsageReceiptForTest()
	app.Get("/hand", func(c *fiber.Ctx) error { return writeUsageAnswer(c, rec) })
	app.Get("/json", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"results": rec.Results, "usage": rec.Usage}) })
	read := func(path string) (string, string) {
		res, err := app.Test(httptest.NewRequest("GET", path, nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return string(b), res.Header.Get("Content-Type")
	}
	hand, handType := read("/hand")
	want, wantType := read("/json")
	if hand != want || handType != wantType {
		t.Fatalf("written by hand:\n%s (%s)\nby encoding/json:\n%s (%s)", hand, handType, want, wantType)
	}
}

func appUsageReceiptForTest() app.UsageReceipt {
	return app.UsageReceipt{
		Results: []db.UsageReportResult{{ID: uuid.MustParse("9b2c1a4e-0000-4000-8000-00000000abcd"), Status: "accepted"},
			{ID: uuid.New(), Status: "duplicate"}},
		Usage: map[string]licensing.LimitUsage{"users": {Used: 3, Limit: 10}, "apiCalls": {Used: 12, Limit: 5, Exceeded: true}},
	}
}
