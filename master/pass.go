package master

import (
	"os"

	"golang.org/x/sys/unix"
)

// passPair is the socket pair the workers pass each other connections
// on (engine/pass.go): every worker gets both ends after its listeners.
// The master only holds it for the workers to come, and at a graceful
// stop waits, as for the listeners' queues, until no passed connection
// waits in it (quiesce).
type passPair struct {
	send, recv *os.File
}

// newPassPair makes the pair, blocking as far as the master is
// concerned (its files are never polled here; the workers make the
// shared open files non-blocking, and pass with MSG_DONTWAIT).
func newPassPair() (*passPair, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	return &passPair{send: os.NewFile(uintptr(fds[0]), "pass-send"), recv: os.NewFile(uintptr(fds[1]), "pass-receive")}, nil
}

// files are what a worker gets after its listeners; none without a pair.
func (pp *passPair) files() []*os.File {
	if pp == nil {
		return nil
	}
	return []*os.File{pp.send, pp.recv}
}

// queue is the descriptor that is readable while a passed connection
// waits; -1 without a pair.
func (pp *passPair) queue() int {
	if pp == nil {
		return -1
	}
	return int(pp.recv.Fd())
}

func (pp *passPair) close() {
	if pp != nil {
		pp.send.Close()
		pp.recv.Close()
	}
}
