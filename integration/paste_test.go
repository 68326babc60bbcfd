package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPasteDeploy: --paste builds the app with PasteDeploy (Debian's
// python3-pastedeploy) from an INI file, as Gunicorn does for Pyramid's
// production.ini: the [app:main] settings and --paste-global reach the
// factory, and the file's [loggers] configure Python's logging (%(here)s
// is the file's directory).
func TestPasteDeploy(t *testing.T) {
	dir := t.TempDir()
	ini := filepath.Join(dir, "production.ini")
	if err := os.WriteFile(ini, []byte(`[app:main]
use = call:pasteapp:make_app
greeting = hello from paste

[loggers]
keys = root

[handlers]
keys = file

[formatters]
keys = plain

[logger_root]
level = INFO
handlers = file

[handler_file]
class = FileHandler
args = ('%(here)s/app.log',)
formatter = plain

[formatter_plain]
format = PASTE %(name)s %(message)s
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, preload := range []bool{false, true} {
		args := []string{"--paste", ini, "--paste-global", "ENV=test", "--pythonpath", debianPackages}
		if preload {
			args = append(args, "--preload")
		}
		s := start(t, serverOpts{args: args})
		path := fmt.Sprintf("/preload=%v", preload)
		code, body := s.get(path)
		var got struct{ Settings, Global map[string]string }
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil {
			t.Fatalf("GET %s: %d %q", path, code, body)
		}
		if got.Settings["greeting"] != "hello from paste" || got.Global["ENV"] != "test" {
			t.Errorf("preload=%v: the factory got settings %v and global_conf %v", preload, got.Settings, got.Global)
		}
		s.waitFor(func() bool {
			data, _ := os.ReadFile(filepath.Join(dir, "app.log"))
			return strings.HasSuffix(string(data), "PASTE pasteapp served "+path+"\n")
		})
	}
}
