// The API key format: new keys carry a checksum; keys from before it still pass.
package licensing

import (
	"strings"
	"testing"
)

func TestAPIKeyPlausible(t *testing.T) {
	key, prefix, _, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(prefix, APIKeyPrefix) || !strings.HasPrefix(key, prefix) {
		t.Fatalf("got prefix %q for key %q", prefix, key)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	legacy := APIKeyPrefix + strings.Repeat("x", apiKeyRandomLen)
	for _, tc := range []struct {
		name string
		key  string
		want bool
	}{
		{"new key", key, true},
		{"key made before checksums", legacy, true},
		{"one character of the random part changed", flip(key, 10), false},
		{"one character of the checksum changed", flip(key, len(key)-1), false},
		{"truncated", key[:len(key)-1], false},
		{"one character more", key + "A", false},
		{"no prefix", key[len(APIKeyPrefix):], false},
		{"other prefix", "sk_" + key[len(APIKeyPrefix):], false},
		{"character outside base64url", key[:20] + "." + key[21:], false},
		{"empty", "", false},
		{"prefix alone", APIKeyPrefix, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := APIKeyPlausible(tc.key); got != tc.want {
				t.Fatalf("APIKeyPlausible(%q) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}
