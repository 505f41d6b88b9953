// The body every delivery carries, and the ping an admin sends to try an
// endpoint.

package webhooks

import (
	"encoding/json"
	"time"
)

// PingType is the type of the test event sent by the "Send test event"
// button and the API; it is not a domain event and is never recorded.
const PingType = "ping"

// Body is the JSON a delivery posts: {"type", "timestamp", "data"}, with the
// event's own time (not the attempt's), so that a receiver can order
// deliveries that arrive out of order.
func Body(typ string, occurredAt time.Time, data json.RawMessage) ([]byte, error) {
	return json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}{typ, occurredAt.UTC().Format(time.RFC3339Nano), data})
}

// PingData is the data of a ping.
type PingData struct {
	EndpointID string `json:"endpointId"`
	Message    string `json:"message"`
}
