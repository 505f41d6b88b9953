//go:build windows

package pgcluster

import "syscall"

// detached starts the server in a process group of its own, so that the
// console's Ctrl-C reaches the portal, which stops the server in order,
// rather than both at once (the Windows twin of sysproc_unix.go).
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
