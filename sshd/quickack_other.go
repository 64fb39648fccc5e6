//go:build !linux

package sshd

import "net"

func quickAck(net.Conn) func() { return func() {} }
