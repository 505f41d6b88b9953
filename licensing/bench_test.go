// Benchmarks of the hot paths: key parsing per algorithm, the cache,
// leases, decisions and effective status.
package licensing

import (
	"testing"
	"time"
)

func BenchmarkParseKey(b *testing.B) {
	for _, alg := range allAlgs {
		b.Run(string(alg), func(b *testing.B) {
			kr := testKeyring(b, alg)
			key := issueSample(b, kr)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := kr.ParseKey(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseKeyCached(b *testing.B) {
	kr := testKeyring(b, AlgEdDSA)
	c := NewKeyCache(kr, 0)
	key := issueSample(b, kr)
	if _, _, err := c.ParseKey(key); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := c.ParseKey(key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkIssueLease(b *testing.B) {
	kr := testKeyring(b, AlgEdDSA)
	c := sampleLease()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := kr.IssueLease(c, 0, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyLease(b *testing.B) {
	kr := testKeyring(b, AlgEdDSA)
	c := sampleLease()
	tok, _, err := kr.IssueLease(c, 0, testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.VerifyLease(tok, c.DeploymentID, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	in := baseInput()
	in.Now = in.License.ExpiresAt.Add(time.Hour) // grace: the richest valid path
	b.ReportAllocs()
	var d Decision
	for b.Loop() {
		d = Decide(in)
	}
	if d.Code != CodeGracePeriod {
		b.Fatalf("got %v, want %v", d.Code, CodeGracePeriod)
	}
}

func BenchmarkEffectiveStatus(b *testing.B) {
	f := baseInput().License
	now := f.ExpiresAt.Add(-time.Hour)
	b.ReportAllocs()
	var e Effective
	for b.Loop() {
		e = EffectiveStatus(f, now)
	}
	if e.State != StateActive {
		b.Fatalf("got %v, want %v", e.State, StateActive)
	}
}

func BenchmarkNormalizeKey(b *testing.B) {
	key := issueSample(b, testKeyring(b, AlgEdDSA))
	b.SetBytes(int64(len(key)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NormalizeKey(key); err != nil {
			b.Fatal(err)
		}
	}
}
