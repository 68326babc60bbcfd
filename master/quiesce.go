package master

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// quiesceSettle is how long a stop waits, once the accept queues are
// empty, for connections a worker has just accepted to reach its
// connection table before the workers are told to stop.
const quiesceSettle = 50 * time.Millisecond

// quiesce prepares a full graceful stop so that no connection is reset:
// a connection the kernel has queued is served, and a new one is
// refused rather than queued and then dropped. Closing a listening
// socket resets every connection still in its accept queue, so first
// the queue stops growing and drains, then the workers stop.
//
// A TCP socket gets a socket filter that drops every packet: new SYNs
// are ignored (the client retries) while queued connections stay
// acceptable; once its queue is empty, the socket stops listening
// (shutdown(2)), and new connections are refused at once rather than
// retried until the master exits (a client waited up to 11 s, and
// nginx in front of two servers waited on it instead of trying the
// other). A unix socket's file is removed, so new connect(2) calls fail
// at once. Sockets this server did not create (fd://, systemd, or
// shared with a new master after USR2) are left as they are: others
// still accept on them.
//
// The returned channel is closed when every accept queue, and the queue
// of connections the workers pass each other (passQueue, -1 for none),
// is empty or after max; at once when wait is false (no worker accepts).
func quiesce(ls []*listener, passQueue int, wait bool, max time.Duration) <-chan struct{} {
	var fds, tcp []int
	if passQueue >= 0 {
		fds = append(fds, passQueue)
	}
	for _, l := range ls {
		if !l.owned {
			continue
		}
		fd := int(l.file.Fd())
		if l.unlink != "" {
			if inode(l.unlink) == l.ino {
				os.Remove(l.unlink)
			}
			l.unlink = ""
		} else if dropNewConnections(fd) != nil {
			continue
		} else {
			tcp = append(tcp, fd)
		}
		fds = append(fds, fd)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if wait && awaitEmptyQueues(fds, time.Now().Add(max)) {
			time.Sleep(quiesceSettle)
			for _, fd := range tcp {
				// No connection is queued to be reset: every process
				// holding the socket (workers, zygotes) sees it stop.
				unix.Shutdown(fd, unix.SHUT_RD)
			}
		}
	}()
	return done
}

// dropNewConnections attaches a classic BPF program "ret #0" to a
// listening TCP socket: the kernel drops every SYN before it creates a
// connection, while connections already queued stay.
func dropNewConnections(fd int) error {
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
}

// awaitEmptyQueues polls until no listener is readable (a listening
// socket is readable while its accept queue holds a connection). It
// reports whether the queues emptied before the deadline.
func awaitEmptyQueues(fds []int, deadline time.Time) bool {
	pfds := make([]unix.PollFd, len(fds))
	for {
		for i, fd := range fds {
			pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		}
		n, err := unix.Poll(pfds, 0)
		if err == nil && n == 0 {
			return true
		}
		if err != nil && err != unix.EINTR {
			return false
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}
