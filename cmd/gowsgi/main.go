package main

import (
	"fmt"
	"os"

	"github.com/gowsgi/gowsgi/config"
	"github.com/gowsgi/gowsgi/errorlog"
	"github.com/gowsgi/gowsgi/handoff"
	"github.com/gowsgi/gowsgi/master"
	"github.com/gowsgi/gowsgi/proctitle"
	"github.com/gowsgi/gowsgi/worker"
)

func main() {
	proctitle.Reserve()
	if len(os.Args) > 1 && os.Args[1] == handoff.WorkerCommand {
		os.Exit(worker.Main())
	}
	if len(os.Args) > 1 && os.Args[1] == handoff.ZygoteCommand {
		os.Exit(worker.Zygote())
	}
	if len(os.Args) > 1 && os.Args[1] == config.PythonConfigCommand {
		os.Exit(worker.ReadPythonConfig(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == handoff.HookHostCommand {
		os.Exit(worker.RunHookHost(os.Args[2:]))
	}
	if len(os.Args) > 1 && (os.Args[1] == "status" || os.Args[1] == "stack") {
		os.Exit(runAdminCommand(os.Args[1], os.Args[2:])) // status.go
	}
	os.Exit(runMaster(os.Args[1:]))
}

// Exit codes of the command line itself.
const exitUsage = 2

func runMaster(args []string) int {
	showEmbeddedPython() // version.go
	cfg, action, err := config.Load(args, os.Getenv, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: %v\n", err)
		return exitUsage
	}
	switch action {
	case config.ActionHelp, config.ActionVersion:
		return 0
	case config.ActionCheckConfig, config.ActionPrintConfig:
		for _, n := range cfg.Notices {
			fmt.Fprintf(os.Stderr, "gowsgi: %s\n", n)
		}
	}
	switch action {
	case config.ActionCheckConfig:
		return worker.CheckApp(cfg)
	case config.ActionPrintConfig:
		if err := cfg.WriteTOML(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "gowsgi: %v\n", err)
			return 1
		}
		return 0
	}
	if code, exit := daemonize(cfg); exit { // daemon.go
		return code
	}
	elog, err := errorlog.Open(cfg.ErrorLogOptions())
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: %v\n", err)
		return exitUsage
	}
	defer elog.Close()
	logEmbeddedPython(elog)
	log := elog.Logger("master")
	for _, n := range cfg.Notices {
		if cfg.Remark(n) {
			log.Info().Msg(n)
		} else {
			log.Warn().Msg(n)
		}
	}
	if cfg.EnvFile != "" { // Uvicorn says "Loading environment from '.env'"
		log.Info().Str("env_file", cfg.EnvFile).Int("variables", len(cfg.EnvFileVars)).
			Msg("environment read from " + cfg.EnvFile)
	}
	proctitle.Set(proctitle.Title("master", cfg.ProcName, cfg.App)) // best effort: ps shows argv otherwise
	return master.Run(cfg, elog, args)
}
