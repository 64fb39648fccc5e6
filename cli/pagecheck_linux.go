package cli

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the page check's child end with keyden: killed if its
// parent goes (the parent's thread must stay locked while it runs: Pdeathsig
// follows the thread that started the child).
func dieWithParent(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// capMemory bounds the address space of this process, so a check that runs
// away fails its allocation instead of taking the machine's memory. A race
// build maps terabytes of shadow memory up front: it is left alone.
func capMemory(bytes uint64) {
	if raceBuild {
		return
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: bytes, Max: bytes})
}
