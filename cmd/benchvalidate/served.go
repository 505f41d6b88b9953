package main

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// histogram is a snapshot of one route's nls_http_request_duration_seconds:
// the cumulative count at each upper bound.
type histogram struct {
	bounds []float64 // seconds
	counts []uint64
	total  uint64
}

// served reads the portal's latency histogram of the route at path.
func served(reg *prometheus.Registry, path string) (histogram, error) {
	families, err := reg.Gather()
	if err != nil {
		return histogram{}, err
	}
	var h histogram
	for _, f := range families {
		if f.GetName() != "nls_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			route := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					route = l.GetValue()
				}
			}
			if route != path {
				continue
			}
			h = h.plus(fromProm(m.GetHistogram().GetBucket(), m.GetHistogram().GetSampleCount()))
		}
	}
	return h, nil
}

type promBucket interface {
	GetUpperBound() float64
	GetCumulativeCount() uint64
}

func fromProm[B promBucket](buckets []B, total uint64) histogram {
	h := histogram{total: total}
	for _, b := range buckets {
		h.bounds = append(h.bounds, b.GetUpperBound())
		h.counts = append(h.counts, b.GetCumulativeCount())
	}
	return h
}

func (h histogram) plus(o histogram) histogram {
	if h.bounds == nil {
		return o
	}
	if o.bounds == nil {
		return h
	}
	out := histogram{bounds: h.bounds, counts: make([]uint64, len(h.counts)), total: h.total + o.total}
	for i := range out.counts {
		out.counts[i] = h.counts[i] + o.counts[i]
	}
	return out
}

func (h histogram) minus(o histogram) histogram {
	if o.bounds == nil {
		return h
	}
	out := histogram{bounds: h.bounds, counts: make([]uint64, len(h.counts)), total: h.total - o.total}
	for i := range out.counts {
		out.counts[i] = h.counts[i] - o.counts[i]
	}
	return out
}

// quantileBound is the smallest upper bound under which a share q of the
// requests fell, as "≤5ms" (">5s" past the last bucket, "" without requests).
func (h histogram) quantileBound(q float64) string {
	if h.total == 0 {
		return ""
	}
	for i, c := range h.counts {
		if float64(c) >= q*float64(h.total) {
			return "≤" + time.Duration(h.bounds[i]*float64(time.Second)).String()
		}
	}
	return fmt.Sprintf(">%v", time.Duration(h.bounds[len(h.bounds)-1]*float64(time.Second)))
}
