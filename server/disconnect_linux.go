package server

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hungUp reports whether the peer of conn has closed its end, without
// reading from it: poll(2) for POLLRDHUP. fasthttp gives a handler no
// signal when a client goes away before its (non-streamed) response.
func hungUp(conn net.Conn) (hung, ok bool) {
	sc, isSys := conn.(syscall.Conn)
	if !isSys {
		return false, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	_ = raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		if n, err := unix.Poll(fds, 0); err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0 {
			hung = true
		}
		ok = true
	})
	return hung, ok
}

// disconnectPoll is how often a non-streamed request checks its client.
const disconnectPoll = 50 * time.Millisecond
