package config

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

// WorkerIdentity resolves User and Group to numbers. A --user without
// --group takes the user's primary group (Gunicorn would keep the
// master's group, root's when started as root). A numeric --user with no
// passwd entry then needs --group.
func (c *Config) WorkerIdentity() (Identity, error) {
	id := Identity{UID: os.Getuid(), GID: os.Getgid(), Switch: c.User != "" || c.Group != ""}
	if !id.Switch {
		return id, nil
	}
	var u *user.User
	if c.User != "" {
		var err error
		if isDigits(c.User) {
			u, err = user.LookupId(c.User)
		} else {
			u, err = user.Lookup(c.User)
		}
		switch {
		case err == nil:
			id.UID, _ = strconv.Atoi(u.Uid)
			id.GID, _ = strconv.Atoi(u.Gid)
		case isDigits(c.User) && c.Group != "":
			u = nil
			id.UID, _ = strconv.Atoi(c.User)
		default:
			return Identity{}, fmt.Errorf("config: user %q: %w (a uid without a passwd entry needs --group)", c.User, err)
		}
	}
	if c.Group != "" {
		gid, err := lookupGID(c.Group)
		if err != nil {
			return Identity{}, err
		}
		id.GID = gid
	}
	id.Groups = []int{}
	if c.InitGroups && u != nil {
		gids, err := u.GroupIds()
		if err != nil {
			return Identity{}, fmt.Errorf("config: groups of user %q: %w", c.User, err)
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
	if isDigits(group) {
		return strconv.Atoi(group)
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("config: group %q: %w", group, err)
	}
	return strconv.Atoi(g.Gid)
}
