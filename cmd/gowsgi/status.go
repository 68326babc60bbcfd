package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/master"
)

// adminCommands read a running gowsgi's admin listener:
//
//	gowsgi status [--admin-bind ADDR | --pid PIDFILE | -c CONFIG]
//	gowsgi stack PID [same options]
//
// The address comes from --admin-bind, else from PIDFILE.admin, which
// the master writes next to its pidfile, else from the config file
// (admin_bind), else from the usual config sources.
func runAdminCommand(name string, args []string) int {
	fs := flag.NewFlagSet("gowsgi "+name, flag.ContinueOnError)
	bind := fs.String("admin-bind", "", "the admin listener: HOST:PORT or unix:PATH")
	pidfile := fs.String("pid", "", "the master's pidfile; its admin address is in PIDFILE.admin")
	cfgFile := fs.String("c", "", "a gowsgi TOML config file with admin_bind")
	fs.StringVar(cfgFile, "config", "", "same as -c")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	addr, err := adminAddress(*bind, *pidfile, *cfgFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi %s: %v\n", name, err)
		return exitUsage
	}
	c, base := adminClient(addr)
	if name == "stack" {
		if fs.NArg() != 1 {
			fmt.Fprintln(os.Stderr, "gowsgi stack: want one worker PID (see gowsgi status)")
			return exitUsage
		}
		pid, err := strconv.Atoi(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(os.Stderr, "gowsgi stack: %q is not a PID\n", fs.Arg(0))
			return exitUsage
		}
		return printAdmin(c, base+"/stacks?pid="+strconv.Itoa(pid), func(b []byte) { os.Stdout.Write(b) })
	}
	return printAdmin(c, base+"/status", func(b []byte) {
		var r master.StatusReport
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintf(os.Stderr, "gowsgi status: the answer is not a status report: %v\n", err)
			return
		}
		printStatus(os.Stdout, &r)
	})
}

func adminAddress(bind, pidfile, cfgFile string) (string, error) {
	switch {
	case bind != "":
		return bind, nil
	case pidfile != "":
		b, err := os.ReadFile(pidfile + ".admin")
		if err != nil {
			return "", fmt.Errorf("no admin address next to the pidfile: %w (is --admin-bind on?)", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	var args []string
	if cfgFile != "" {
		args = []string{"-c", cfgFile}
	}
	cfg, _, err := config.Load(append(args, "unused:app"), os.Getenv, io.Discard)
	if err != nil {
		return "", err
	}
	if cfg.AdminBind == "" {
		return "", errors.New("no admin address: give --admin-bind, --pid or a config file with admin_bind")
	}
	return cfg.AdminBind, nil
}

// adminClient talks HTTP to addr, a HOST:PORT or unix:PATH; base is
// the URL prefix of its paths.
func adminClient(addr string) (c *http.Client, base string) {
	tr := &http.Transport{}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", strings.TrimPrefix(path, "//"))
		}
		addr = "admin"
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}, "http://" + addr
}

func printAdmin(c *http.Client, url string, show func([]byte)) int {
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: cannot reach the admin listener: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: %v\n", err)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "gowsgi: %s: %s", resp.Status, b)
		return 1
	}
	show(b)
	return 0
}

func printStatus(w io.Writer, r *master.StatusReport) {
	ready := "ready"
	if !r.Ready {
		ready = "not ready: " + r.NotReady
	}
	fmt.Fprintf(w, "master %d, %s\n\n", r.MasterPID, ready)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tPID\tGEN\tSTATE\tAGE\tREQUESTS\tRSS\tUSS\tBUSY\tCONNS")
	for _, ws := range r.Workers {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%d\t%s\t%s\t%d/%d\t%d\n", ws.ID, ws.PID, ws.Generation, ws.State,
			seconds(ws.AgeSeconds), ws.Requests, mebibytes(ws.RSSBytes), mebibytes(ws.USSBytes),
			ws.BusyThreads, ws.Threads, ws.Connections)
	}
	tw.Flush()
	for _, ws := range r.Workers {
		if len(ws.Calls) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nworker %d (pid %d), busy threads:\n", ws.ID, ws.PID)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  THREAD\tELAPSED\tMETHOD\tPATH\tCLIENT\tREQUEST ID")
		for _, c := range ws.Calls {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", c.Thread, seconds(c.ElapsedSeconds), c.Method, c.Path,
				c.Client, c.RequestID)
		}
		tw.Flush()
	}
}

func seconds(s float64) string {
	return (time.Duration(s*1e3) * time.Millisecond).Round(100 * time.Millisecond).String()
}

func mebibytes(b uint64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + "M" }
