package config

import (
	"os"
	"os/user"
	"slices"
	"strconv"
	"testing"
)

func TestWorkerIdentity(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this system")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	root, _ := user.LookupGroup("root")
	rootGID, _ := strconv.Atoi(root.Gid)

	tests := []struct {
		name string
		cfg  Config
		want Identity
	}{
		{name: "no switch", cfg: Config{}, want: Identity{UID: os.Getuid(), GID: os.Getgid()}},
		{name: "user takes its primary group", cfg: Config{User: "nobody"},
			want: Identity{UID: uid, GID: gid, Groups: []int{}, Switch: true}},
		{name: "uid", cfg: Config{User: nobody.Uid}, want: Identity{UID: uid, GID: gid, Groups: []int{}, Switch: true}},
		{name: "explicit group", cfg: Config{User: "nobody", Group: "root"},
			want: Identity{UID: uid, GID: rootGID, Groups: []int{}, Switch: true}},
		{name: "group only", cfg: Config{Group: "12345"},
			want: Identity{UID: os.Getuid(), GID: 12345, Groups: []int{}, Switch: true}},
		{name: "unknown uid with group", cfg: Config{User: "54321", Group: "54321"},
			want: Identity{UID: 54321, GID: 54321, Groups: []int{}, Switch: true}},
	}
	for _, tt := range tests {
		got, err := tt.cfg.WorkerIdentity()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.UID != tt.want.UID || got.GID != tt.want.GID || got.Switch != tt.want.Switch ||
			!slices.Equal(got.Groups, tt.want.Groups) {
			t.Errorf("%s: WorkerIdentity() = %+v; want %+v", tt.name, got, tt.want)
		}
	}

	if _, err := (&Config{User: "54321"}).WorkerIdentity(); err == nil {
		t.Error("a uid without a passwd entry and no --group was accepted")
	}
	ig, err := (&Config{User: "nobody", InitGroups: true}).WorkerIdentity()
	if err != nil || !slices.Contains(ig.Groups, gid) {
		t.Errorf("--initgroups: %+v, %v; want nobody's groups, including %d", ig, err, gid)
	}
}
