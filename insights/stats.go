// Robust statistics the detectors rest on: median and MAD, the Mann-Kendall
// trend test with the Theil-Sen slope, and an ordinary least-squares line
// with its R². Plain functions over float slices, no state.

package insights

import (
	"math"
	"slices"
)

// Median of xs; 0 for none. xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MAD is the median absolute deviation from the median.
func MAD(xs []float64) float64 {
	m := Median(xs)
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = math.Abs(x - m)
	}
	return Median(d)
}

// madScale turns a MAD into an estimate of the standard deviation of
// normally distributed data.
const madScale = 1.4826

// MannKendall is the Mann-Kendall trend test: S counts rising pairs minus
// falling ones, Z its normal approximation (with continuity correction)
// and P the two-sided p-value. Ties are not corrected for: the series it
// sees are weekly sums, rarely equal.
func MannKendall(xs []float64) (s int, z, p float64) {
	n := len(xs)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			switch {
			case xs[j] > xs[i]:
				s++
			case xs[j] < xs[i]:
				s--
			}
		}
	}
	if n < 3 {
		return s, 0, 1
	}
	v := float64(n*(n-1)*(2*n+5)) / 18
	switch {
	case s > 0:
		z = float64(s-1) / math.Sqrt(v)
	case s < 0:
		z = float64(s+1) / math.Sqrt(v)
	}
	return s, z, math.Erfc(math.Abs(z) / math.Sqrt2)
}

// TheilSen is the median of the slopes between every pair of points
// (x = index): a slope that one outlier cannot move.
func TheilSen(xs []float64) float64 {
	var slopes []float64
	for i := 0; i < len(xs); i++ {
		for j := i + 1; j < len(xs); j++ {
			slopes = append(slopes, (xs[j]-xs[i])/float64(j-i))
		}
	}
	return Median(slopes)
}

// LinearFit is y = Intercept + Slope·x by least squares (x = index) and
// the share of the variance it explains.
type LinearFit struct {
	Slope, Intercept, R2 float64
}

// FitLine fits a line through ys at x = 0, 1, 2, ...
func FitLine(ys []float64) LinearFit {
	n := float64(len(ys))
	if len(ys) < 2 {
		return LinearFit{}
	}
	var sx, sy, sxx, sxy float64
	for i, y := range ys {
		x := float64(i)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return LinearFit{}
	}
	slope := (n*sxy - sx*sy) / den
	icpt := (sy - slope*sx) / n
	mean := sy / n
	var ssTot, ssRes float64
	for i, y := range ys {
		f := icpt + slope*float64(i)
		ssTot += (y - mean) * (y - mean)
		ssRes += (y - f) * (y - f)
	}
	r2 := 0.0
	if ssTot > 0 {
		r2 = 1 - ssRes/ssTot
	}
	return LinearFit{Slope: slope, Intercept: icpt, R2: r2}
}
