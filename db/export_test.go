package db

// SetTopUsageBounds changes how many bounds TopUsageCustomers reads, until
// the test ends.
func SetTopUsageBounds(tb interface{ Cleanup(func()) }, n int) {
	old := topUsageBounds
	topUsageBounds = n
	tb.Cleanup(func() { topUsageBounds = old })
}
