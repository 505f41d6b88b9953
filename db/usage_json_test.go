package db

// metricsJSON writes a report's metrics by hand; it must always be the JSON
// object json.Marshal would write, whatever the names.

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMetricsJSONIsTheMetricsObject(t *testing.T) {
	for _, m := range []map[string]int64{
		{},
		{"apiCalls": 9223372036854775807, "users": 0, "storage.gb_2": 7},
		{"apiCalls": 1, `quote"d\name`: 2, "ünïcode": 3},
	} {
		b, err := metricsJSON(m)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]int64
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%v written as %s, not JSON: %v", m, b, err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Errorf("%v written as %s", m, b)
		}
	}
}
