package master

import (
	"net"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// sdNotify sends one datagram of newline-separated KEY=VALUE lines to
// systemd's notification socket (sd_notify(3)). A name starting with
// '@' is an abstract socket, which Go's net package maps itself.
// RELOADING=1 carries MONOTONIC_USEC, as Type=notify-reload requires.
func sdNotify(socket, state string) error {
	if strings.HasPrefix(state, "RELOADING=1") {
		var ts unix.Timespec
		if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) == nil {
			state += "\nMONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10)
		}
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}
