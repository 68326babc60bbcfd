package handoff

import (
	"math"
	"testing"
)

func TestConnLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured int
		nofile     uint64
		want       int
	}{
		{name: "room to spare", configured: 20000, nofile: 1 << 20, want: 20000},
		{name: "lowered to the descriptor limit", configured: 20000, nofile: 20000, want: 20000 - FDReserve},
		{name: "a small limit", configured: 20000, nofile: 1024, want: 1024 - FDReserve},
		{name: "a tiny limit keeps a few", configured: 20000, nofile: 100, want: 16},
		{name: "unlimited", configured: 20000, nofile: math.MaxUint64, want: 20000},
		{name: "configured below", configured: 10, nofile: 1024, want: 10},
	} {
		if got := ConnLimit(tc.configured, tc.nofile); got != tc.want {
			t.Errorf("%s: ConnLimit(%d, %d) = %d; want %d", tc.name, tc.configured, tc.nofile, got, tc.want)
		}
	}
}
