//go:build !linux

package testutil

import "os/exec"

// Only Linux has a parent-death signal: elsewhere a killed test binary's
// children run on.
func dieWithTestBinary(*exec.Cmd) {}
