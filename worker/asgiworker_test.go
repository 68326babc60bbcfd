package worker

import (
	"testing"

	"github.com/gowsgi/gowsgi/config"
)

// TestASGIBudget: an ASGI app runs at most 64 KiB ahead of its
// connection (Uvicorn's flow-control mark) whatever --response-buffer
// allows the outbox, and less when --response-buffer is smaller.
func TestASGIBudget(t *testing.T) {
	for _, tc := range []struct{ responseBuffer, want int }{
		{4 << 20, 64 << 10}, // the default --response-buffer
		{64 << 10, 64 << 10},
		{16 << 10, 16 << 10},
		{0, 0}, // every send() awaits its connection (pyshim makes it at least one byte)
	} {
		if got := asgiBudget(&config.Config{ResponseBuffer: tc.responseBuffer}); got != tc.want {
			t.Errorf("--response-buffer %d: budget %d; want %d", tc.responseBuffer, got, tc.want)
		}
	}
}
