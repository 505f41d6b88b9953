package webhooks_test

import (
	"os"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/events"
)

// The README documents every event type an endpoint can receive.
func TestREADMEDocumentsEveryEventType(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range events.Catalogue {
		if !strings.Contains(readme, "| `"+s.Type+"` |") {
			t.Errorf("README.md's webhook event table lacks %s", s.Type)
		}
	}
}
