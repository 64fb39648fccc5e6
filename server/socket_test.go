package server

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// socketPair gives the server side of a loopback TCP connection as serve
// holds it (a limitedConn reading and writing through its socket), and the
// client side.
func socketPair(t *testing.T) (*limitedConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); sc.Close() })
	return &limitedConn{Conn: sc, socket: newSocket(sc), l: &connLimiter{}}, client
}

func TestSocketReadsTheStreamAsSent(t *testing.T) {
	server, client := socketPair(t)
	// Two pipelined requests in one segment, then one larger than a small
	// read, read as fasthttp does: a byte, then a buffer, in any sizes.
	sent := []byte("GET /verify HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: b\r\n\r\n")
	big := bytes.Repeat([]byte("0123456789abcdef"), 1300)
	go func() {
		client.Write(sent)
		client.Write(big)
		client.Close()
	}()
	want := append(append([]byte{}, sent...), big...)
	var got []byte
	sizes := []int{1, 7, 4096, 1, 1, 2000, 65536}
	for i := 0; ; i++ {
		buf := make([]byte, sizes[i%len(sizes)])
		n, err := server.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes that differ from the %d sent", len(got), len(want))
	}
	if server.buf != nil || server.pending != nil {
		t.Error("a small read's buffer is still held after the stream was read whole")
	}
}

func TestSocketWritesALargeAnswerWhole(t *testing.T) {
	server, client := socketPair(t)
	// More than the socket's buffers hold, so writing must wait for the
	// reader and carry on where it stopped.
	data := bytes.Repeat([]byte("keyden answers "), 1<<20)
	read := make(chan [32]byte)
	go func() {
		h := sha256.New()
		io.Copy(h, client)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		read <- sum
	}()
	n, err := server.Write(data)
	if n != len(data) || err != nil {
		t.Fatalf("wrote %d of %d bytes: %v", n, len(data), err)
	}
	server.Conn.Close()
	if <-read != sha256.Sum256(data) {
		t.Fatal("the client read other bytes than were written")
	}
}

func TestSocketErrorsAreWhatNetConnGives(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		server, _ := socketPair(t)
		server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err := server.Read(make([]byte, 1))
		// fasthttp answers 408 to a *net.OpError that is a timeout.
		var oe *net.OpError
		if !errors.As(err, &oe) || !oe.Timeout() {
			t.Fatalf("read past its deadline: %#v, want a timeout *net.OpError", err)
		}
		server.SetWriteDeadline(time.Now().Add(-time.Second))
		if _, err := server.Write([]byte("x")); !errors.As(err, &oe) || !oe.Timeout() {
			t.Fatalf("write past its deadline: %#v, want a timeout *net.OpError", err)
		}
	})
	t.Run("end of stream", func(t *testing.T) {
		server, client := socketPair(t)
		client.Close()
		// fasthttp compares with io.EOF itself, not errors.Is.
		if n, err := server.Read(make([]byte, 64)); n != 0 || err != io.EOF {
			t.Fatalf("read of a closed stream: %d, %v; want 0, io.EOF", n, err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		server, client := socketPair(t)
		client.(*net.TCPConn).SetLinger(0)
		client.Close()
		if _, err := server.Read(make([]byte, 64)); err == nil || err == io.EOF {
			t.Fatalf("read of a reset connection: %v, want an error", err)
		}
	})
	t.Run("closed while reading", func(t *testing.T) {
		server, _ := socketPair(t)
		done := make(chan error)
		go func() {
			_, err := server.Read(make([]byte, 64))
			done <- err
		}()
		server.Conn.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read of a connection closed under it: %v, want net.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a read went on after its connection was closed")
		}
	})
}
