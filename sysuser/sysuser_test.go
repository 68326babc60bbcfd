package sysuser

import (
	"os"
	"os/user"
	"slices"
	"strconv"
	"testing"
)

func TestResolve(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this system")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	root, _ := user.LookupGroup("root")
	rootGID, _ := strconv.Atoi(root.Gid)

	tests := []struct {
		name        string
		user, group string
		want        Identity
	}{
		{name: "no switch", want: Identity{UID: os.Getuid(), GID: os.Getgid()}},
		{name: "user takes its primary group", user: "nobody",
			want: Identity{UID: uid, GID: gid, Groups: []int{}, Switch: true}},
		{name: "uid", user: nobody.Uid, want: Identity{UID: uid, GID: gid, Groups: []int{}, Switch: true}},
		{name: "explicit group", user: "nobody", group: "root",
			want: Identity{UID: uid, GID: rootGID, Groups: []int{}, Switch: true}},
		{name: "group only", group: "12345",
			want: Identity{UID: os.Getuid(), GID: 12345, Groups: []int{}, Switch: true}},
		{name: "unknown uid with group", user: "54321", group: "54321",
			want: Identity{UID: 54321, GID: 54321, Groups: []int{}, Switch: true}},
	}
	for _, tt := range tests {
		got, err := Resolve(tt.user, tt.group, false)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.UID != tt.want.UID || got.GID != tt.want.GID || got.Switch != tt.want.Switch ||
			!slices.Equal(got.Groups, tt.want.Groups) {
			t.Errorf("%s: Resolve(%q, %q) = %+v; want %+v", tt.name, tt.user, tt.group, got, tt.want)
		}
	}

	if _, err := Resolve("54321", "", false); err == nil {
		t.Error("a uid without a passwd entry and no --group was accepted")
	}
	ig, err := Resolve("nobody", "", true)
	if err != nil || !slices.Contains(ig.Groups, gid) {
		t.Errorf("--initgroups: %+v, %v; want nobody's groups, including %d", ig, err, gid)
	}
}
