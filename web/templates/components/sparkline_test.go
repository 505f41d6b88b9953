package components

import (
	"strings"
	"testing"
)

func TestSparklineGeometry(t *testing.T) {
	limit := 10.0
	s := Spark{Title: "users", Values: []float64{2, 4, 8}, First: "1 Oct", Last: "3 Oct", Limit: &limit}
	pts := strings.Fields(s.Points())
	if len(pts) != 3 || pts[0] != "4.0,61.6" || pts[2] != "316.0,18.4" {
		t.Errorf("points %v", pts)
	}
	// The limit is the highest value drawn: it sits at the top.
	if s.LimitY() != "4.0" {
		t.Errorf("limit y %s", s.LimitY())
	}
	if got := s.Range(); got != "3 values from 1 Oct to 3 Oct, between 2 and 8; limit 10" {
		t.Errorf("range %q", got)
	}
	flat := Spark{Values: []float64{5, 5}}
	if p := flat.Points(); !strings.Contains(p, ",") {
		t.Errorf("flat series: %q", p)
	}
}
