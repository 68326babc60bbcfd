package integration

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// Config files that import gunicorn for its top-level names (a real
// idiom: gunicorn.SERVER = "..." to hide the server), run under a gowsgi
// whose Python has no Gunicorn (bin/gowsgi) and under one whose Python
// has Debian's Gunicorn 20.1 (bin/gowsgi-debian).
func TestConfigSetsGunicornServerNames(t *testing.T) {
	conf := `
import gunicorn
assert gunicorn.version_info >= (20, 1)
gunicorn.SERVER = "hidden"
gunicorn.SERVER_SOFTWARE = "sw/1.0"

def post_fork(server, worker):
    server.log.info("post_fork sees %s" % gunicorn.SERVER)
`
	for name, binary := range map[string]string{"without Gunicorn": "", "with Gunicorn 20.1": debianBinary(t)} {
		t.Run(name, func(t *testing.T) {
			path := writeConf(t, t.TempDir(), "gunicorn.conf.py", conf)
			s := start(t, serverOpts{binary: binary, args: []string{"-c", path, "gunicornmod:app"}})
			resp, err := client.Get(s.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got struct {
				ServerSoftware   string `json:"server_software"`
				GunicornImported bool   `json:"gunicorn_imported"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if resp.Header.Get("Server") != "hidden" || got.ServerSoftware != "sw/1.0" {
				t.Errorf("Server %q, SERVER_SOFTWARE %q; want hidden and sw/1.0", resp.Header.Get("Server"), got.ServerSoftware)
			}
			if binary == "" && got.GunicornImported {
				t.Errorf("the stand-in gunicorn module is left in the app's sys.modules")
			}
			s.waitFor(func() bool { return len(s.loggedContaining("post_fork sees hidden")) == 1 })
		})
	}
	// The command line's Server wins over the file's.
	path := writeConf(t, t.TempDir(), "gunicorn.conf.py", conf)
	s := start(t, serverOpts{args: []string{"-c", path, "--response-header", "server:cli", "gunicornmod:app"}})
	resp, err := client.Get(s.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Server") != "cli" {
		t.Errorf("with --response-header server:cli: Server %q", resp.Header.Get("Server"))
	}
	// Gunicorn's modules but glogging (a logger class's base,
	// loggerclass_test.go) are not stood in for: the file stops gowsgi,
	// saying why.
	path = writeConf(t, t.TempDir(), "gunicorn.conf.py", "from gunicorn.workers.sync import SyncWorker\n")
	out, err := exec.Command(binary, "-c", path, "--check-config", "gunicornmod:app").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No module named 'gunicorn.workers': Gunicorn is not installed where gowsgi's Python looks") {
		t.Errorf("a config importing gunicorn.workers.sync: %v\n%s", err, out)
	}
	path = writeConf(t, t.TempDir(), "gunicorn.conf.py", "import gunicorn.glogging\nfrom gunicorn.glogging import Logger, CONFIG_DEFAULTS\n"+
		"class L(gunicorn.glogging.Logger):\n    pass\nlogconfig_dict = dict(CONFIG_DEFAULTS)\n")
	if out, err := exec.Command(binary, "-c", path, "--chdir", appsDir, "--check-config", "gunicornmod:app").CombinedOutput(); err != nil {
		t.Errorf("a config importing gunicorn.glogging: %v\n%s", err, out)
	}
}
