// Package ha holds the tests that run NLS as it runs in production: several
// "portal serve" processes behind HAProxy with a shared Redis, rolled,
// killed and rate limited (ha_test.go), and one process riding out a
// PostgreSQL primary's failover to its streaming replica (failover_test.go).
// They start real services from the machine's Debian packages (haproxy,
// redis-server, PostgreSQL 15); scripts/test.sh installs them. Without them
// the tests fail when CI is set and are skipped otherwise.
package ha
