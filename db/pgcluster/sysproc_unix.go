//go:build unix

package pgcluster

import "syscall"

// detached puts the server in its own process group, so the terminal's
// SIGINT reaches the portal only; the portal then stops the server cleanly.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
