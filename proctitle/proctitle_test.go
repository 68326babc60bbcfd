package proctitle

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"
)

// The test re-runs its own binary, so the title is set on a process with
// a real kernel-made argv, then reads it back through /proc.
func TestSetShowsInProc(t *testing.T) {
	if os.Getenv("PROCTITLE_CHILD") == "1" {
		Reserve()
		before := strings.Join(os.Args, " ")
		if err := Set(Title("worker", "myapp", "app:x")); err != nil {
			t.Fatal(err)
		}
		if after := strings.Join(os.Args, " "); after != before {
			t.Fatalf("os.Args changed to %q", after)
		}
		cmdline, _ := os.ReadFile("/proc/self/cmdline")
		comm, _ := os.ReadFile("/proc/self/comm")
		os.Stdout.Write(bytes.TrimRight(cmdline, "\x00"))
		os.Stdout.WriteString("|" + strings.TrimSpace(string(comm)) + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSetShowsInProc$", "-test.v=false", "padding-so-the-title-fits")
	cmd.Env = append(os.Environ(), "PROCTITLE_CHILD=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got, _, _ := strings.Cut(string(out), "\n")
	want := "gowsgi: worker [myapp]|gowsgi: worker"
	if got != want {
		t.Fatalf("/proc shows %q; want %q", got, want)
	}
}

func TestTitleIsCutToTheArgvArea(t *testing.T) {
	mem := []byte("ab\x00cd\x00")
	args := []string{unsafeString(mem[0:2]), unsafeString(mem[3:5])}
	area := argvArea(args)
	if string(area) != "ab\x00cd" {
		t.Fatalf("area = %q", area)
	}
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func TestTitleFallsBackToTheApp(t *testing.T) {
	if got := Title("master", "", "mysite.wsgi"); got != "gowsgi: master [mysite.wsgi]" {
		t.Fatalf("Title = %q", got)
	}
}
