package config

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Gunicorn's --paste: the app is built by PasteDeploy from an INI file
// (Pyramid's production.ini), in each worker (pyshim's bootstrap.py
// loads an app spec "config:/abs/file.ini[#name]"); the file's
// [loggers] sections configure Python's logging unless logconfig says
// otherwise, as Gunicorn sets it.
var pasteSettings = []*setting{
	{
		name: "paste", flags: []string{"paste", "paster"}, kind: kindString, def: "",
		help:  "load the app from the PasteDeploy `CONFIG` file (FILE, or FILE#NAME for an [app:NAME] other than main), as Gunicorn does; needs PasteDeploy in the app's Python",
		field: func(c *Config) any { return &c.Paste },
	},
	{
		name: "raw_paste_global_conf", flags: []string{"paste-global"}, kind: kindList, def: "",
		help:      "with --paste, give the app's global_conf `KEY=VALUE` (repeatable; \\= for an = in KEY)",
		normalize: eachItem(pasteGlobalItem),
		field:     func(c *Config) any { return &c.PasteGlobalConf },
	},
}

// pasteGlobalItem checks a KEY=VALUE of raw_paste_global_conf.
func pasteGlobalItem(item string) (string, error) {
	if !strings.Contains(strings.ReplaceAll(item, `\=`, ""), "=") {
		return "", fmt.Errorf("%q is not KEY=VALUE", item)
	}
	return item, nil
}

// applyPaste makes --paste the app spec, as Gunicorn's WSGIApplication
// does (it wins over a MODULE:APP): the file must exist; its [loggers]
// section becomes logconfig when none is set. A relative path is from
// the working directory, as Gunicorn makes it absolute before it changes
// to --chdir; a file found only under --chdir is taken from there.
func applyPaste(c *Config) error {
	if c.Paste == "" {
		return nil
	}
	file, name, hasName := strings.Cut(c.Paste, "#")
	if !filepath.IsAbs(file) {
		cwd, _ := os.Getwd()
		rel := file
		file = filepath.Join(cwd, rel)
		if _, err := os.Stat(file); err != nil && c.Chdir != "" {
			if _, err := os.Stat(filepath.Join(c.Chdir, rel)); err == nil {
				file = filepath.Join(c.Chdir, rel)
			}
		}
	}
	hasLoggers, err := iniHasSection(file, "loggers")
	if err != nil {
		return &Error{Name: "--paste", Err: fmt.Errorf("%q: %w", c.Paste, pathless(err))}
	}
	c.App = "config:" + file
	if hasName {
		c.App += "#" + name
	}
	if hasLoggers && c.LogConfig == "" {
		c.LogConfig = file
	}
	return nil
}

// iniHasSection reports whether the INI file has the section [name].
func iniHasSection(path, name string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "["+name+"]" {
			return true, nil
		}
	}
	return false, sc.Err()
}
