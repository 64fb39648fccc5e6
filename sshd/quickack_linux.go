package sshd

import (
	"net"
	"syscall"
)

// quickAck makes the kernel acknowledge what c receives at once rather
// than up to 40 ms later. OpenSSH's client leaves Nagle on until a session
// is interactive and writes twice in a row during the handshake (KEXINIT
// then the key exchange, NEWKEYS then the service request): each second
// write waited for a delayed ACK, 80 ms of every connection. Linux turns
// quick ACKs off again by itself, so it is set before every read.
func quickAck(c net.Conn) func() {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return func() {}
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return func() {}
	}
	return func() {
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
}
