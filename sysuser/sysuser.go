// Package sysuser resolves the user and group the workers run as
// (--user, --group, --initgroups) to the numbers setuid(2), setgid(2)
// and setgroups(2) take, from the system's passwd and group databases:
//
//	Resolve("nobody", "", false) → {UID: 65534, GID: 65534, Groups: [], Switch: true}
//
// It imports only the standard library: config checks a name with it
// and the worker switches to what it resolves.
package sysuser

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// Identity is who the workers run as (--user, --group, --initgroups).
type Identity struct {
	UID, GID int
	// Groups are the supplementary groups: the user's memberships with
	// --initgroups, else none.
	Groups []int
	// Switch is false when neither --user nor --group is set: the
	// workers keep the master's identity and the fields are the
	// master's own.
	Switch bool
}

// Resolve resolves userName and groupName (a name or a number each, "" for
// unset) to numbers; initGroups (--initgroups) adds the user's
// supplementary groups. A user without a group takes the user's primary
// group (Gunicorn would keep the master's group, root's when started as
// root). A numeric user with no passwd entry then needs a group.
func Resolve(userName, groupName string, initGroups bool) (Identity, error) {
	id := Identity{UID: os.Getuid(), GID: os.Getgid(), Switch: userName != "" || groupName != ""}
	if !id.Switch {
		return id, nil
	}
	var u *user.User
	if userName != "" {
		var err error
		if Numeric(userName) {
			u, err = user.LookupId(userName)
		} else {
			u, err = user.Lookup(userName)
		}
		switch {
		case err == nil:
			id.UID, _ = strconv.Atoi(u.Uid)
			id.GID, _ = strconv.Atoi(u.Gid)
		case Numeric(userName) && groupName != "":
			u = nil
			id.UID, _ = strconv.Atoi(userName)
		default:
			return Identity{}, fmt.Errorf("sysuser: user %q: %w (a uid without a passwd entry needs --group)", userName, err)
		}
	}
	if groupName != "" {
		gid, err := lookupGID(groupName)
		if err != nil {
			return Identity{}, err
		}
		id.GID = gid
	}
	id.Groups = []int{}
	if initGroups && u != nil {
		gids, err := u.GroupIds()
		if err != nil {
			return Identity{}, fmt.Errorf("sysuser: groups of user %q: %w", userName, err)
		}
		for _, g := range gids {
			n, err := strconv.Atoi(g)
			if err == nil {
				id.Groups = append(id.Groups, n)
			}
		}
	}
	return id, nil
}

func lookupGID(group string) (int, error) {
	if Numeric(group) {
		return strconv.Atoi(group)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("sysuser: group %q: %w", group, err)
	}
	return strconv.Atoi(g.Gid)
}

// Numeric reports whether s is a uid or gid written as a number (decimal,
// 32 bits), which is used as it is, without a lookup.
func Numeric(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}
