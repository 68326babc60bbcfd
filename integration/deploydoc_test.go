package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// embedRE matches a file embedded in docs/deploy.md: a marker comment
// naming it, then a fenced block with its text.
var embedRE = regexp.MustCompile("(?s)<!-- embed: (\\S+) -->\n```[a-z]*\n(.*?)```")

// TestDeployDocEmbedsExamples checks that each configuration shown in
// docs/deploy.md is the file the deployment tests run, byte for byte,
// and that every such file is shown.
func TestDeployDocEmbedsExamples(t *testing.T) {
	root := repoDir(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, m := range embedRE.FindAllSubmatch(doc, -1) {
		path := string(m[1])
		shown[path] = true
		file, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Errorf("docs/deploy.md embeds %s: %v", path, err)
			continue
		}
		if string(file) != string(m[2]) {
			t.Errorf("docs/deploy.md shows an old copy of %s; paste the file again", path)
		}
	}
	var want []string
	for _, pattern := range []string{"examples/nginx/*", "examples/apache/*", "examples/systemd/*",
		"examples/kubernetes/*", "examples/Procfile", "examples/Dockerfile"} {
		files, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, f := range files {
			rel, _ := filepath.Rel(root, f)
			want = append(want, rel)
		}
	}
	if len(want) < 10 {
		t.Fatalf("found only %d example files: %v", len(want), want)
	}
	for _, path := range want {
		if !shown[path] {
			t.Errorf("docs/deploy.md does not show %s", path)
		}
	}
}
