package e2e

// The release page's upload script in a real browser: an admin creates a
// release, picks a file and uploads it; the page shows the upload's progress
// and completion, then lists the artifact with the file's SHA-256, and the
// published artifact downloads by license key byte for byte.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// uploadLog records, in sessionStorage so that it survives the reload the
// script does when the upload is done, every status text and progress value
// the upload form shows.
const uploadLog = `(() => {
	const form = document.querySelector("[data-testid=upload-form]");
	const status = form.querySelector("[data-upload-status]");
	const bar = form.querySelector("progress");
	sessionStorage.setItem("uploadLog", "[]");
	const note = () => {
		const log = JSON.parse(sessionStorage.getItem("uploadLog"));
		log.push({status: status.textContent, value: bar.value});
		sessionStorage.setItem("uploadLog", JSON.stringify(log));
	};
	new MutationObserver(note).observe(status, {childList: true, characterData: true, subtree: true});
	// Setting a progress element's value sets its value attribute.
	new MutationObserver(note).observe(bar, {attributes: true, attributeFilter: ["value"]});
})()`

func TestReleasePageUploadsWithProgressInABrowser(t *testing.T) {
	shots := screenshotDir(t)
	requireChromium(t)
	p := startPortal(t)
	key := p.apiKey(t)

	// A product, a plan entitled to it, and a customer's license on that plan.
	callJSON(t, p.URL, key, "POST", "/api/products", map[string]any{"code": "upl-server", "name": "Upload Server",
		"repository": "upl/server"}, http.StatusCreated)
	plan := callJSON(t, p.URL, key, "POST", "/api/plans", map[string]any{"code": "upl", "name": "Upload plan",
		"maxDeployments": 1}, http.StatusCreated)
	callJSON(t, p.URL, key, "PUT", "/api/plans/"+plan["id"].(string)+"/distribution", map[string]any{
		"products": []string{"upl-server"}, "channels": []string{"stable"}}, http.StatusOK)
	cust := callJSON(t, p.URL, key, "POST", "/api/customers", map[string]any{"name": "Upload E2E Ltd",
		"email": "ops@upload-e2e.example"}, http.StatusCreated)["id"].(string)
	licenseKey := callJSON(t, p.URL, key, "POST", "/api/licenses", map[string]any{"customerId": cust, "plan": "upl"},
		http.StatusCreated)["licenseKey"].(string)

	// A file large enough for the upload to take more than one step.
	content := make([]byte, 24<<20)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	wantSum := hex.EncodeToString(sum[:])
	file := filepath.Join(t.TempDir(), "upl-server-1.2.0-linux-amd64.tar.gz")
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}

	f := newFlow(t, p, shots, 3*time.Minute)
	f.open("/login", `[data-testid=login-form]`)
	f.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=login-email]`), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=status-card]`)))
	f.open("/admin/releases", `[data-testid=release-form]`)
	f.do("create a draft release",
		chromedp.SetValue(chromedp.CSS(`#product`), "upl-server"),
		chromedp.SendKeys(chromedp.CSS(`#version`), "1.2.0"),
		chromedp.SendKeys(chromedp.CSS(`#notes`), "Uploaded from the browser."),
		chromedp.Click(chromedp.CSS(`[data-testid=release-form] [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=upload-form]`)))
	if got := f.text(`[data-testid=release-title]`); !strings.Contains(got, "1.2.0") {
		t.Fatalf("release page title %q, want version 1.2.0", got)
	}
	releaseURL := run(f, "read the release URL", chromedp.Evaluate[string](`location.pathname`))

	f.do("record the upload's progress", chromedp.Evaluate[chromedp.Void](uploadLog))
	f.do("pick the file and upload",
		chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=upload-form] input[type=file]`), []string{file}),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=upload-form] input[name=platform]`), "linux"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=upload-form] input[name=arch]`), "amd64"),
		chromedp.Click(chromedp.CSS(`[data-testid=upload-form] [type=submit]`)))
	// Done, the script reloads the page, which then lists the file.
	if !f.waitFor(`!!document.querySelector("[data-testid=artifact-row]")`) {
		f.screenshot("upload-not-listed")
		t.Fatalf("the uploaded file was never listed; the form says %q", f.text(`[data-testid=upload-form]`))
	}
	f.screenshot("release-uploaded")
	var log []struct {
		Status string  `json:"status"`
		Value  float64 `json:"value"`
	}
	raw := run(f, "read the upload log", chromedp.Evaluate[string](`sessionStorage.getItem("uploadLog") || "[]"`))
	if err := json.Unmarshal([]byte(raw), &log); err != nil {
		t.Fatalf("upload log %q: %v", raw, err)
	}
	progress := regexp.MustCompile(`^Uploading… (\d+)%$`)
	var sawProgress, sawDone bool
	lastValue := -1.0
	for _, e := range log {
		if progress.MatchString(e.Status) {
			sawProgress = true
		}
		if e.Status == "Uploaded." {
			sawDone = true
		}
		if e.Value < lastValue {
			t.Errorf("the progress bar went back from %v to %v", lastValue, e.Value)
		}
		lastValue = max(lastValue, e.Value)
	}
	t.Logf("the upload form showed %d states: %+v", len(log), log)
	if !sawProgress || !sawDone || lastValue != 100 {
		t.Fatalf("the form showed %+v; want \"Uploading… N%%\" steps, the bar at 100 and \"Uploaded.\"", log)
	}
	row := f.text(`[data-testid=artifact-row]`)
	if !strings.Contains(row, filepath.Base(file)) || !strings.Contains(row, "sha256 "+wantSum) || !strings.Contains(row, "linux") {
		t.Fatalf("artifact row %q, want the file name, linux and sha256 %s", row, wantSum)
	}
	f.do("publish", chromedp.Click(chromedp.CSS(`[data-testid=publish]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=publish]`)))
	f.noConsoleErrors("upload")

	// The customer's installation finds it and downloads it by license key.
	req, _ := http.NewRequest("GET", p.URL+"/api/releases/upgrade?product=upl-server&current=1.0.0&channel=stable", nil)
	req.Header.Set("Authorization", "License "+licenseKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Upgrade *struct {
			Version   string `json:"version"`
			Artifacts []struct {
				SHA256      string `json:"sha256"`
				Size        int64  `json:"size"`
				DownloadURL string `json:"downloadUrl"`
			} `json:"artifacts"`
		} `json:"upgrade"`
	}
	err = json.NewDecoder(res.Body).Decode(&up)
	res.Body.Close()
	if err != nil || up.Upgrade == nil || up.Upgrade.Version != "1.2.0" || len(up.Upgrade.Artifacts) != 1 {
		t.Fatalf("upgrade check after the upload at %s: %v %+v, want 1.2.0 with one artifact", releaseURL, err, up.Upgrade)
	}
	a := up.Upgrade.Artifacts[0]
	if a.SHA256 != wantSum || a.Size != int64(len(content)) {
		t.Fatalf("artifact sha256 %s size %d, want %s and %d", a.SHA256, a.Size, wantSum, len(content))
	}
	dl := a.DownloadURL
	if !strings.HasPrefix(dl, "http") {
		dl = p.URL + dl
	}
	req, _ = http.NewRequest("GET", dl, nil)
	req.SetBasicAuth("license", licenseKey)
	res, err = http.DefaultClient.Do(req) // follows the redirect to the signed link
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || !bytes.Equal(got, content) {
		t.Fatalf("download by key: status %d, %d bytes (%v); want 200 and the %d bytes uploaded", res.StatusCode, len(got), err, len(content))
	}
}
