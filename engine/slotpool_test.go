package engine

import (
	"testing"
	"time"
)

func TestSlotPoolLastGivenGoesFirst(t *testing.T) {
	p := newSlotPool(3)
	a, b, c := &slot{index: 0}, &slot{index: 1}, &slot{index: 2}
	for _, sl := range []*slot{a, b, c} {
		p.give(sl)
	}
	for _, want := range []*slot{c, b} {
		if got, waited := p.take(); got != want || waited {
			t.Fatalf("take = slot %d (waited %v); want slot %d at once", got.index, waited, want.index)
		}
	}
	p.give(c)
	if got, _ := p.take(); got != c {
		t.Fatalf("take = slot %d; want slot 2, the last given back", got.index)
	}
}

func TestSlotPoolWaitersInOrder(t *testing.T) {
	p := newSlotPool(1)
	got := make(chan [2]int, 2)
	for i := range 2 {
		go func() {
			sl, waited := p.take()
			if !waited {
				t.Errorf("waiter %d did not wait", i)
			}
			got <- [2]int{i, sl.index}
		}()
		// The next waiter queues only once this one has.
		deadline := time.Now().Add(10 * time.Second)
		for {
			p.mu.Lock()
			n := len(p.waiters)
			p.mu.Unlock()
			if n == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiter %d never queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	p.give(&slot{index: 10})
	if w := <-got; w != [2]int{0, 10} {
		t.Fatalf("the first slot given went to waiter %d (slot %d); want waiter 0", w[0], w[1])
	}
	p.give(&slot{index: 11})
	if w := <-got; w != [2]int{1, 11} {
		t.Fatalf("the second went to waiter %d (slot %d); want waiter 1", w[0], w[1])
	}
	if len(p.free) != 0 {
		t.Fatalf("%d slots left free; the waiters took them all", len(p.free))
	}
}
