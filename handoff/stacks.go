package handoff

import (
	"strconv"
	"strings"
	"syscall"
)

// StacksSignal asks a ready worker for the Python stack of every thread
// while the app keeps running (gowsgi stack PID). The worker answers
// with stacks lines on ControlFD. The master sends it only to workers
// that reported ready: before that Go's default action would end them.
const StacksSignal = syscall.SIGUSR2

const (
	stacksWord = "stacks"
	// stacksChunk keeps every stacks line, quoted, within PIPE_BUF.
	stacksChunk = 900
)

// StacksLines splits a stack dump into control lines without newlines,
// each atomic on the pipe: "stacks 1 <quoted chunk>" while more follow,
// "stacks 0 <quoted chunk>" for the last.
//
//	stacks 0 "Thread 0x00007f... (most recent call first):\n  File ..."
func StacksLines(dump string) []string {
	var lines []string
	for {
		chunk, more := dump, "0"
		if len(dump) > stacksChunk {
			chunk, dump, more = dump[:stacksChunk], dump[stacksChunk:], "1"
		}
		lines = append(lines, stacksWord+" "+more+" "+strconv.Quote(chunk))
		if more == "0" {
			return lines
		}
	}
}

// ParseStacks decodes a line written by StacksLines: its chunk, and
// whether more chunks follow. ok is false when line is not one.
func ParseStacks(line string) (chunk string, more, ok bool) {
	rest, found := strings.CutPrefix(line, stacksWord+" ")
	if !found || len(rest) < 2 || (rest[0] != '0' && rest[0] != '1') || rest[1] != ' ' {
		return "", false, false
	}
	chunk, err := strconv.Unquote(rest[2:])
	if err != nil {
		return "", false, false
	}
	return chunk, rest[0] == '1', true
}
