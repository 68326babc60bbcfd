package pyshim

import (
	"errors"
	"testing"
)

func TestAdoptOnlyInAForkedWorker(t *testing.T) {
	if Preloaded() {
		t.Fatal("Preloaded() in a test binary; want false: no zygote forked it")
	}
	if err := Adopt(Options{}); !errors.Is(err, ErrNotPreloaded) {
		t.Fatalf("Adopt = %v; want ErrNotPreloaded", err)
	}
}

func TestZygoteSpecRefusesNUL(t *testing.T) {
	spec := &ZygoteSpec{App: "app:app", Paths: []string{"/srv/a\x00b"}}
	if err := ExecZygote(spec, []string{"x"}, nil); err == nil {
		t.Fatal("ExecZygote with a NUL in a path returned; want an error before exec")
	}
}
