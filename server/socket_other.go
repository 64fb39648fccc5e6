//go:build !linux

package server

import "net"

// socket is the net.Conn itself where raw socket calls are not written.
type socket struct{ net.Conn }

func newSocket(c net.Conn) *socket { return &socket{Conn: c} }

func (s *socket) read(p []byte) (int, error)  { return s.Conn.Read(p) }
func (s *socket) write(p []byte) (int, error) { return s.Conn.Write(p) }
