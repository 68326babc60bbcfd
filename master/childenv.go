package master

import (
	"slices"
	"strings"

	"github.com/gowsgi/gowsgi/config"
)

// masterOnlyVars are environment variables that only the master reads:
// the key file's password decrypts the key in the master
// (config.LoadTLSMaterial), and the workers receive the key decrypted.
var masterOnlyVars = []string{config.EnvKeyfilePassword}

// childEnviron is env without masterOnlyVars: the environment of the
// processes that run the app (workers, the zygote, the hook host), so
// that an app showing os.environ (a debug page, an error report) cannot
// show the password. A USR2 master gets the environment whole: it reads
// the key file itself.
func childEnviron(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(masterOnlyVars, name)
	})
}
