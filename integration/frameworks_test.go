package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Real frameworks, unchanged: Flask (pyenv's and Debian's) and Django
// (Debian's python3-django, so through bin/gowsgi-debian, which embeds
// /usr/bin/python3).

var debianBuild struct {
	once sync.Once
	path string
	err  error
}

// debianBinary builds bin/gowsgi-debian once, on first use.
func debianBinary(t *testing.T) string {
	t.Helper()
	debianBuild.once.Do(func() {
		root := filepath.Join(appsDir, "..", "..", "..") // appsDir is ROOT/integration/testdata/apps
		cmd := exec.Command("make", "-C", root, "--no-print-directory", "build-debian")
		out, err := cmd.CombinedOutput()
		if err != nil {
			debianBuild.err = err
			debianBuild.path = string(out)
			return
		}
		debianBuild.path = filepath.Join(root, "bin", "gowsgi-debian")
	})
	if debianBuild.err != nil {
		t.Fatalf("make build-debian: %v\n%s", debianBuild.err, debianBuild.path)
	}
	return debianBuild.path
}

func TestFlask(t *testing.T) {
	for _, tt := range []struct {
		name   string
		binary func(*testing.T) string
	}{
		{"pyenv", func(*testing.T) string { return binary }},
		{"debian", debianBinary},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, serverOpts{args: []string{"flaskapp"}, binary: tt.binary(t)})
			checkFlask(t, s)
			noValidatorComplaints(t, s)
		})
	}
}

func checkFlask(t *testing.T, s *server) {
	if code, body := s.get("/hello/gowsgi"); code != 200 || body != "Hello, gowsgi!" {
		t.Errorf("routing: %d %q", code, body)
	}
	if code, _ := s.get("/nowhere"); code != 404 {
		t.Errorf("unknown route: %d; want 404", code)
	}

	var j struct {
		Method string
		Args   map[string]string
		Items  []int
	}
	code, body := s.get("/json?a=1&b=%C3%A9")
	if err := json.Unmarshal([]byte(body), &j); code != 200 || err != nil || j.Method != "GET" ||
		j.Args["a"] != "1" || j.Args["b"] != "é" || len(j.Items) != 3 {
		t.Errorf("JSON: %d %q", code, body)
	}

	resp, err := client.PostForm(s.url("/form"), url.Values{"name": {"Ada"}, "age": {"36"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "Ada is 36" {
		t.Errorf("form POST: %d %q", resp.StatusCode, b)
	}

	upload := bytes.Repeat([]byte("upload\x00\xff"), 300000) // 2.4 MB, binary
	form, contentType := flaskUploadForm("a note", upload)
	resp, err = client.Post(s.url("/upload"), contentType, bytes.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		Filename, Sha256, Note string
		Size                   int
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(upload)
	if err := json.Unmarshal(b, &u); resp.StatusCode != 200 || err != nil || u.Filename != "data.bin" ||
		u.Size != len(upload) || u.Sha256 != hex.EncodeToString(sum[:]) || u.Note != "a note" {
		t.Errorf("file upload: %d %q", resp.StatusCode, b)
	}

	resp, err = client.Get(s.url("/stream?n=200&tag=t"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if resp.StatusCode != 200 || len(lines) != 200 || lines[199] != "chunk 199 of t" {
		t.Errorf("streaming: %d, %d lines, last %q", resp.StatusCode, len(lines), lines[len(lines)-1])
	}

	if code, body := s.get("/warn?tag=W42"); code != 200 || body != "warned" {
		t.Errorf("warn: %d %q", code, body)
	}
	s.waitFor(func() bool {
		return len(s.logWhere(func(l logLine) bool {
			return l.str("source") == "wsgi.errors" && strings.Contains(l.str("message"), "flask says W42")
		})) == 1
	})
}

// flaskUploadForm is a multipart form for flaskapp's /upload: a note
// field and data as the file data.bin.
func flaskUploadForm(note string, data []byte) (form []byte, contentType string) {
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("note", note)
	fw, _ := mw.CreateFormFile("file", "data.bin")
	fw.Write(data)
	mw.Close()
	return mp.Bytes(), mw.FormDataContentType()
}

func TestDjango(t *testing.T) {
	bin := debianBinary(t)
	db := []string{"DJSITE_DB_DIR=" + t.TempDir()}
	s := start(t, serverOpts{args: []string{"djsite.validated"}, env: db, binary: bin})
	checkDjangoPages(t, s)
	noValidatorComplaints(t, s)

	// Static files go through wsgi.file_wrapper (Django's FileResponse),
	// which the worker sends with sendfile.
	s = start(t, serverOpts{args: []string{"djsite.wsgi"}, env: db, binary: bin})
	checkDjangoStatic(t, s)
}

// TestDjangoASGI: the same site through django.core.asgi (Django's own
// ASGI handler, which runs the views in a thread through asgiref): the
// pages, the form and its CSRF check, a static file, and keep-alive
// connections kept open (Gunicorn's ASGI worker closed them after each
// response for Django apps, benoitc/gunicorn#3655). Django refuses the
// lifespan protocol; with --lifespan auto the worker goes on without it.
func TestDjangoASGI(t *testing.T) {
	db := []string{"DJSITE_DB_DIR=" + t.TempDir()}
	s := start(t, serverOpts{args: []string{"-k", "asgi", "djsite.asgi"}, env: db, binary: debianBinary(t)})
	checkDjangoPages(t, s)
	checkDjangoStatic(t, s)
	if len(s.linesWhere(func(m string) bool { return strings.HasPrefix(m, "ASGI 'lifespan' protocol appears unsupported") })) != 1 {
		t.Errorf("want one line saying Django does not support lifespan; output:\n%s", s.output())
	}
	w := dialWire(t, "tcp", s.address())
	for i := range 3 {
		resp, body := w.roundTrip("GET", "GET /admin/login/ HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || resp.Close || !strings.Contains(body, "Django administration") {
			t.Fatalf("request %d on one connection: %d, close %v, %.200q", i+1, resp.StatusCode, resp.Close, body)
		}
	}
}

// checkDjangoPages checks djsite's admin login page and its form, with
// and without the CSRF token.
func checkDjangoPages(t *testing.T, s *server) {
	t.Helper()
	code, body := s.get("/admin/login/")
	if code != 200 || !strings.Contains(body, "Django administration") || !strings.Contains(body, `name="csrfmiddlewaretoken"`) {
		t.Fatalf("admin login page: %d %.300q", code, body)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: client.Timeout}
	resp, err := c.Get(s.url("/form/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrfmiddlewaretoken" value="([^"]+)"`).FindSubmatch(b)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("form page: %d %q", resp.StatusCode, b)
	}
	post := func(c *http.Client, form url.Values) (int, string) {
		resp, err := c.PostForm(s.url("/form/"), form)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if code, body := post(c, url.Values{"csrfmiddlewaretoken": {string(m[1])}, "name": {"Grace"}}); code != 200 || body != "thanks, Grace" {
		t.Errorf("form POST with the CSRF token: %d %.200q", code, body)
	}
	if code, _ := post(c, url.Values{"name": {"Mallory"}}); code != 403 {
		t.Errorf("form POST without the CSRF token: %d; want 403", code)
	}
}

// checkDjangoStatic fetches one of the admin's static files through
// Django's FileResponse, whole and with its length.
func checkDjangoStatic(t *testing.T, s *server) {
	t.Helper()
	resp, err := client.Get(s.url("/static/admin/css/base.css"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := djangoStatic(t, "css/base.css")
	if resp.StatusCode != 200 || !bytes.Equal(b, want) || resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) {
		t.Fatalf("static file: %d, %d bytes, Content-Length %q; want %d bytes", resp.StatusCode, len(b),
			resp.Header.Get("Content-Length"), len(want))
	}
}

// djangoStatic reads one of the admin's static files from Debian's Django.
func djangoStatic(t *testing.T, name string) []byte {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import django, os; print(os.path.dirname(django.__file__))").Output()
	if err != nil {
		t.Fatalf("locating Django: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "contrib", "admin", "static", "admin", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
