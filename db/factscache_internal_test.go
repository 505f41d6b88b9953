// The facts cache's bookkeeping of fills and changes, without a database.
package db

import (
	"testing"

	"github.com/google/uuid"
)

func TestAFillIsKeptUnlessItsOwnLicenseChanged(t *testing.T) {
	c := NewFactsCache(nil, nil, 0)
	c.setLive(true)
	mine, other := uuid.New(), uuid.New()
	entry := func(id uuid.UUID) *cachedLicense {
		e := &cachedLicense{deps: map[string]Deployment{}}
		e.row.ID = id
		return e
	}
	begin := func() uint64 { c.mu.Lock(); defer c.mu.Unlock(); return c.gen }

	gen := begin()
	c.seated(other, Deployment{LicenseID: other, DeploymentID: "x"})
	c.invalidate(other.String())
	if !c.keep(gen, [32]byte{1}, entry(mine)) {
		t.Fatal("a fill was dropped because another license changed while it read")
	}
	gen = begin()
	c.seated(mine, Deployment{LicenseID: mine, DeploymentID: "y"})
	if c.keep(gen, [32]byte{1}, entry(mine)) {
		t.Fatal("a fill begun before its license took a seat was kept")
	}
	gen = begin()
	c.invalidate(mine.String())
	if c.keep(gen, [32]byte{1}, entry(mine)) {
		t.Fatal("a fill begun before its license changed was kept")
	}
	gen = begin()
	c.invalidate("*")
	if c.keep(gen, [32]byte{2}, entry(other)) {
		t.Fatal("a fill begun before everything was dropped was kept")
	}
	if !c.keep(begin(), [32]byte{2}, entry(other)) {
		t.Fatal("a fill begun after the changes was dropped")
	}
}
