//go:build !unix && !windows

// Process attributes for the managed PostgreSQL on systems with neither Unix
// nor Windows process groups: the server starts as a plain child.
package pgcluster

import "syscall"

// detached has nothing to set here; stopping the cluster signals the server
// itself.
func detached() *syscall.SysProcAttr { return nil }
