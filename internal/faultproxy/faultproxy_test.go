package faultproxy

import (
	"bufio"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

// TestCutAndHeal: this process is endpoint 1; a cut between 1 and the
// proxy's endpoint 2 closes the open connection and refuses new ones,
// a cut elsewhere changes nothing, and Heal restores the link.
func TestCutAndHeal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("endpoints are identified through /proc")
	}
	n := &Net{IDs: []int{1}, Pid: func(id int) int { return os.Getpid() }}
	defer n.Close()
	p, err := n.Add(2, echo(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.Write([]byte("x\n"))
	if _, err := bufio.NewReader(open).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	n.Cut(1, 3)
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("a cut between other endpoints broke this link: %v", err)
	}
	n.Cut(2, 1)
	open.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Fatal("open connection survived the cut")
	}
	if err := roundTrip(p.Addr()); err == nil {
		t.Fatal("new connection across a cut worked")
	}
	n.Heal(1, 2)
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}
