package errorlog

import (
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// gunicornLevels are the level names Gunicorn's error log shows, Python's
// levelname, by zerolog's level name.
var gunicornLevels = map[string]string{
	"trace": "DEBUG", "debug": "DEBUG", "info": "INFO", "warn": "WARNING",
	"error": "ERROR", "fatal": "CRITICAL", "panic": "CRITICAL",
}

// gunicornWriter writes each event as Gunicorn's error log writes a line
// (its error_fmt "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"
// with datefmt "[%Y-%m-%d %H:%M:%S %z]", in local time), so log pipelines
// parsing Gunicorn's lines parse gowsgi's; the event's other fields
// follow the message as key=value, where Gunicorn writes them into the
// message text, and the events gunicornMessages knows are in Gunicorn's
// words:
//
//	[2026-12-07 03:23:25 +0000] [6503] [INFO] worker ready worker=1 boot=55.3 worker_pid=6512
//	[2026-12-07 03:23:31 +0000] [6503] [CRITICAL] WORKER TIMEOUT (pid:6512) worker=1 method=GET path=/slow
func gunicornWriter(out io.Writer) zerolog.ConsoleWriter {
	return zerolog.ConsoleWriter{
		Out:           out,
		NoColor:       true,
		TimeFormat:    "[2006-01-02 15:04:05 -0700]",
		PartsOrder:    []string{zerolog.TimestampFieldName, "pid", zerolog.LevelFieldName, zerolog.MessageFieldName},
		FieldsExclude: []string{"role", "pid"},
		FieldsOrder:   []string{"worker"},
		FormatLevel: func(v any) string {
			name, _ := v.(string)
			if g, ok := gunicornLevels[name]; ok {
				return "[" + g + "]"
			}
			return fmt.Sprintf("[%v]", v)
		},
		FormatPartValueByName: func(v any, name string) string { return fmt.Sprintf("[%v]", v) },
		FormatPrepare:         func(evt map[string]any) error { gunicornWords(evt); return nil },
	}
}

// gunicornWords rewrites evt in Gunicorn's words when gunicornMessages
// has its message.
func gunicornWords(evt map[string]any) {
	if msg, ok := evt[zerolog.MessageFieldName].(string); ok {
		if rewrite := gunicornMessages[msg]; rewrite != nil {
			rewrite(evt)
		}
	}
}

// The messages of the events gunicornMessages rewrites: the master,
// the engine and the workers log them by these names, so that a change
// of wording cannot leave a rewrite behind.
const (
	MsgListening      = "listening"
	MsgBooted         = "booted"
	MsgStopped        = "stopped"
	MsgSignal         = "handling signal"
	MsgGracefulStop   = "graceful stop"
	MsgWorkerExited   = "worker exited"
	MsgTimeoutSilent  = "worker timeout: no heartbeat; killing the worker"
	MsgTimeoutRequest = "worker timeout: a request outlived --timeout; killing the worker after it logs its Python stacks"
)

// gunicornMessages rewrite, in Gunicorn's words and at its level, the
// events whose Gunicorn lines log monitors, alerts and scripts match on
// (arbiter.py's and workers/base.py's texts: "WORKER TIMEOUT", "Listening
// at:"); the event's other fields stay after the message.
var gunicornMessages = map[string]func(evt map[string]any){
	MsgListening: func(evt map[string]any) {
		url := fmt.Sprint(evt["address"])
		if !strings.HasPrefix(url, "unix:") && !strings.HasPrefix(url, "fd://") {
			url = "http://" + url
		}
		evt[zerolog.MessageFieldName] = fmt.Sprintf("Listening at: %s (%v)", url, evt["pid"])
		delete(evt, "address")
	},
	MsgBooted: func(evt map[string]any) {
		evt[zerolog.MessageFieldName] = fmt.Sprintf("Booting worker with pid: %v", evt["pid"])
	},
	MsgStopped: func(evt map[string]any) { evt[zerolog.MessageFieldName] = "Shutting down: Master" },
	MsgSignal: func(evt map[string]any) {
		evt[zerolog.MessageFieldName] = fmt.Sprintf("Handling signal: %v", evt["signal"])
		delete(evt, "signal")
	},
	MsgGracefulStop: func(evt map[string]any) {
		if evt["role"] == "worker" {
			evt[zerolog.MessageFieldName] = fmt.Sprintf("Worker exiting (pid: %v)", evt["pid"])
		}
	},
	MsgTimeoutSilent:  workerTimeout,
	MsgTimeoutRequest: workerTimeout,
	MsgWorkerExited: func(evt map[string]any) {
		pid := evt["worker_pid"]
		switch code := fmt.Sprint(evt["exit_code"]); {
		case evt["signal"] != nil:
			// The level is the master's, Gunicorn main's for the
			// unexpected (master/workers.go exitLevel), so that the line
			// and its StatsD counter agree.
			msg := fmt.Sprintf("Worker (pid:%v) was sent %s!", pid, sigName(fmt.Sprint(evt["signal"])))
			if evt["signal"] == syscall.SIGKILL.String() && evt["killed_by"] != "master" {
				msg += " Perhaps out of memory?"
			}
			evt[zerolog.MessageFieldName] = msg
			delete(evt, "signal")
		case evt["exit_code"] != nil && code != "0":
			evt[zerolog.MessageFieldName] = fmt.Sprintf("Worker (pid:%v) exited with code %s.", pid, code)
			delete(evt, "exit_code")
		default:
			return
		}
		delete(evt, "worker_pid")
	},
}

// workerTimeout: the master logs it critical (fatal), as Gunicorn does.
func workerTimeout(evt map[string]any) {
	evt[zerolog.MessageFieldName] = fmt.Sprintf("WORKER TIMEOUT (pid:%v)", evt["worker_pid"])
	delete(evt, "worker_pid")
}

// sigName is the SIGNAME of a signal Go names as name ("killed" → "SIGKILL").
func sigName(name string) string {
	for sig := syscall.Signal(1); sig < 65; sig++ {
		if sig.String() == name {
			if n := unix.SignalName(sig); n != "" {
				return n
			}
		}
	}
	return name
}
