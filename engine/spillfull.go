package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// spillFailed answers a failed write to a spilled body's file. When the
// disk is full (a small tmpfs on /tmp, as containers often mount, or a
// quota), the body streams to the app, as past the disk budget: first
// what the file holds, then tail, the bytes read but not stored, then
// the rest from the client. It was a 500 for every upload that did not
// fit, where Gunicorn, which never stores bodies, serves it. Any other
// failure is errBodyStore.
func (c *conn) spillFailed(err error, tail []byte, src io.Reader, length int64) error {
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) && !errors.Is(err, syscall.EFBIG) {
		return fmt.Errorf("%w: %w", errBodyStore, err)
	}
	b := &c.body
	if _, serr := b.file.Seek(0, io.SeekStart); serr != nil {
		return fmt.Errorf("%w: %w", errBodyStore, serr)
	}
	b.mem.data = tail
	if !c.srv.spillFull.Swap(true) {
		c.srv.log.Warn().Err(err).Str("dir", os.TempDir()).Msg("a request body did not fit in the temporary " +
			"directory; it streams to the app instead, as will others that do not fit (logged once)")
	}
	return c.startStream(src, length)
}
