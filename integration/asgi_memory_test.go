package integration

import (
	"io"
	"testing"
)

// TestASGIResponsesQueuedWholeLeaveNoMemoryBehind: an app that sends a
// 1 MiB response as fast as it can is answered in chunks, and a worker
// serving hundreds of them one after another does not grow by what it
// served. Each slot's Caller once kept the largest response it had
// gathered: about 2.5 MiB per request here, while requests rotated
// through all of the worker's ASGI slots (up to 1,000) and an app could
// queue a whole response (its budget was --response-buffer, 4 MiB).
func TestASGIResponsesQueuedWholeLeaveNoMemoryBehind(t *testing.T) {
	s := start(t, serverOpts{args: []string{"-w", "1", "-k", "asgi", "asgi_stream:app"}})
	get := func() {
		t.Helper()
		resp, err := client.Get(s.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != 64<<14 {
			t.Fatalf("%d bytes, %v; want %d", n, err, 64<<14)
		}
		if te := resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
			t.Fatalf("transfer encoding %v; want chunked (no Step gathers the whole response)", te)
		}
	}
	for range 10 {
		get()
	}
	pid := s.workerPIDs()[0]
	before := rssOf(t, pid)
	const requests = 300
	for range requests {
		get()
	}
	// Before the fix: +760 MiB. The bound leaves room for the Go heap's
	// garbage between collections (a few MiB) many times over.
	if grew := rssOf(t, pid) - before; grew > 64<<20 {
		t.Fatalf("the worker grew by %d MiB over %d responses of 1 MiB", grew>>20, requests)
	}
}
