package handoff

import (
	"strings"
	"testing"
)

func TestStacksLinesRoundTrip(t *testing.T) {
	dump := strings.Repeat("Thread 0x7f (most recent call first):\n  File \"é.py\", line 3 in f\n", 100)
	lines := StacksLines(dump)
	if len(lines) < 2 {
		t.Fatalf("%d lines for %d bytes, want several", len(lines), len(dump))
	}
	var got strings.Builder
	for i, l := range lines {
		if len(l)+1 > MaxStatsLine || strings.Contains(l, "\n") {
			t.Fatalf("line %d: %d bytes or a newline", i, len(l))
		}
		chunk, more, ok := ParseStacks(l)
		if !ok || more != (i < len(lines)-1) {
			t.Fatalf("ParseStacks(line %d) = more %v, ok %v", i, more, ok)
		}
		got.WriteString(chunk)
	}
	if got.String() != dump {
		t.Fatal("the chunks do not rebuild the dump")
	}
	for _, bad := range []string{"stacks", "stacks 2 \"x\"", "stacks 0 x", "alive 0"} {
		if _, _, ok := ParseStacks(bad); ok {
			t.Errorf("ParseStacks(%q) accepted", bad)
		}
	}
}
