// Semantic version order (semver.org 2.0.0), for the maintain expiry
// strategy: which application versions a version-locked license runs.

package licensing

// ValidSemver reports whether v is MAJOR.MINOR.PATCH with optional
// -prerelease and +build parts; a leading "v" is accepted.
func ValidSemver(v string) bool {
	_, ok := splitSemver(v)
	return ok
}

type semverParts struct {
	core [3]string // numeric identifiers without leading zeros
	pre  string    // dot-separated, "" when absent
}

func splitSemver(v string) (semverParts, bool) {
	var p semverParts
	if len(v) > 0 && v[0] == 'v' {
		v = v[1:]
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '+' {
			if !validIdents(v[i+1:], false) {
				return p, false
			}
			v = v[:i]
			break
		}
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '-' {
			p.pre = v[i+1:]
			if !validIdents(p.pre, true) {
				return p, false
			}
			v = v[:i]
			break
		}
	}
	n := 0
	start := 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) && v[i] != '.' {
			continue
		}
		if n == 3 {
			return p, false
		}
		part := v[start:i]
		if !numericIdent(part) {
			return p, false
		}
		p.core[n] = part
		n++
		start = i + 1
	}
	return p, n == 3
}

func numericIdent(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validIdents checks dot-separated identifiers of [0-9A-Za-z-]; numeric
// ones in a prerelease may not have leading zeros.
func validIdents(s string, pre bool) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" {
			return false
		}
		if pre && allDigits(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
		start = i + 1
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// compareNumeric compares two digit strings without leading zeros.
func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CompareSemver orders two versions: -1, 0 or +1. Build metadata is
// ignored; a prerelease sorts before its release. Invalid versions sort
// before every valid one (and equal to each other).
func CompareSemver(a, b string) int {
	pa, oka := splitSemver(a)
	pb, okb := splitSemver(b)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return -1
	case !okb:
		return 1
	}
	for i := range 3 {
		if c := compareNumeric(pa.core[i], pb.core[i]); c != 0 {
			return c
		}
	}
	switch {
	case pa.pre == pb.pre:
		return 0
	case pa.pre == "":
		return 1
	case pb.pre == "":
		return -1
	}
	// Identifier by identifier: numeric < alphanumeric, numbers by value,
	// text in ASCII order; a shorter list that is a prefix sorts first.
	x, y := pa.pre, pb.pre
	for x != "" && y != "" {
		var ix, iy string
		ix, x = cutDot(x)
		iy, y = cutDot(y)
		nx, ny := allDigits(ix), allDigits(iy)
		var c int
		switch {
		case nx && ny:
			c = compareNumeric(ix, iy)
		case nx:
			c = -1
		case ny:
			c = 1
		case ix < iy:
			c = -1
		case ix > iy:
			c = 1
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case x == "" && y == "":
		return 0
	case x == "":
		return -1
	}
	return 1
}

func cutDot(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}
