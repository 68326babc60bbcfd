package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

// Action is what the caller of Load should do with the Config.
type Action int

const (
	ActionServe       Action = iota // run the server
	ActionPrintConfig               // --print-config: write Config.WriteTOML to stdout, then exit 0
	ActionCheckConfig               // --check-config: check that the app imports, then exit
	ActionVersion                   // -v/--version: Load printed the version; exit 0
	ActionHelp                      // -h/--help: Load printed the help; exit 0
)

func (a Action) String() string {
	switch a {
	case ActionServe:
		return "serve"
	case ActionPrintConfig:
		return "print-config"
	case ActionCheckConfig:
		return "check-config"
	case ActionVersion:
		return "version"
	case ActionHelp:
		return "help"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Version is gowsgi's version, set at build time with
// -ldflags "-X github.com/gowsgi/gowsgi/config.Version=1.2.3"; when empty
// the module version from the build info is shown.
var Version = ""

// DefaultConfigFile is read when present in the working directory and no
// -c flag is given.
const DefaultConfigFile = "gowsgi.toml"

// Environment variables holding extra command-line flags. Gunicorn's is
// honoured for drop-in use; gowsgi's own wins over it.
const (
	envGunicornArgs = "GUNICORN_CMD_ARGS"
	envGowsgiArgs   = "GOWSGI_CMD_ARGS"
)

// Error is a bad flag, environment variable or config file entry. Its
// message is one line saying what is wrong and where.
type Error struct {
	// Source is where the value came from: "" for the command line, an
	// environment variable name, or "FILE:LINE" for a config file.
	Source string
	// Name is the flag as written ("-w", "--workers") or the TOML key.
	Name string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Name != "" {
		b.WriteString(e.Name)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load resolves the configuration from args (without argv[0]) and the
// environment, read only through getenv. Precedence, lowest first:
// defaults (some from PORT, WEB_CONCURRENCY, FORWARDED_ALLOW_IPS,
// VIRTUAL_ENV), the config file (-c FILE, else ./gunicorn.conf.py or
// ./gowsgi.toml when present), Uvicorn's UVICORN_* variables,
// GUNICORN_CMD_ARGS, GOWSGI_CMD_ARGS, the command line. A
// repeatable flag (-b, -e) given in a later source replaces the earlier
// list, as in Gunicorn. A MODULE:APP in *_CMD_ARGS counts when the
// command line has none (Gunicorn ignores it there).
//
// Besides reading the config file, Load checks --chdir, --user and
// --group against the system, so mistakes surface before any fork.
//
// For ActionHelp and ActionVersion, Load writes the text to stdout and
// returns a nil Config. Errors are *Error.
func Load(args []string, getenv func(string) string, stdout io.Writer) (*Config, Action, error) {
	ix := newFlagIndex()
	ix.uvicornHost, ix.uvicornPort = getenv("UVICORN_HOST"), getenv("UVICORN_PORT")
	cmdline, action, err := parseSource(ix, args, "", stdout)
	if err != nil || action == ActionHelp || action == ActionVersion {
		return nil, action, err
	}
	sources, err := uvicornEnvSources(ix, getenv, stdout) // uvicornenv.go
	if err != nil {
		return nil, action, err
	}
	for _, name := range []string{envGunicornArgs, envGowsgiArgs} {
		src, envAction, err := parseEnvSource(ix, name, getenv(name), stdout)
		if err != nil || envAction == ActionHelp || envAction == ActionVersion {
			return nil, envAction, err
		}
		if src != nil {
			sources = append(sources, src)
			action = stronger(action, src.action)
		}
	}
	sources = append(sources, cmdline)

	c := &Config{Notices: uvicornEnvNotices(getenv)}
	if err := applyDefaults(c, getenv); err != nil {
		return nil, action, err
	}
	c.WorkerClass = "" // to tell, below, whether any source names one
	c.argNames = argSettingNames(sources)
	err = applyConfigFile(c, sources, getenv)
	c.argNames = nil
	if err != nil {
		return nil, action, err
	}
	action = stronger(action, c.fileAction)
	factory := false
	for _, src := range sources {
		if err := src.apply(c); err != nil {
			return nil, action, err
		}
		c.Notices = append(c.Notices, src.notices...)
		for _, n := range src.remarks {
			c.remark(n)
		}
		factory = factory || src.factory
	}
	if err := applyFactory(c, factory); err != nil {
		return nil, action, err
	}
	if c.WorkerClass == "" {
		c.WorkerClass, c.DetectASGI = "sync", true
	}
	if err := finish(c, action, getenv); err != nil {
		return nil, action, err
	}
	return c, action, nil
}

// stronger combines the actions asked for by two sources: printing the
// config implies checking it, as in Gunicorn.
func stronger(a, b Action) Action {
	if a == ActionPrintConfig || b == ActionPrintConfig {
		return ActionPrintConfig
	}
	if a == ActionCheckConfig || b == ActionCheckConfig {
		return ActionCheckConfig
	}
	return ActionServe
}

// argSource is one parsed argument list: the command line or a *_CMD_ARGS
// variable.
type argSource struct {
	name    string                // "" for the command line, else the variable
	values  map[*setting][]string // every value given, in order
	written map[*setting]string   // the flag as last written, for errors
	app     string                // the positional argument, if any
	config  string                // -c FILE
	action  Action
	notices []string // about ignored Gunicorn flags
	remarks []string // those of notices that are remarks (setting.served)
	ignored []string // the names of the ignored Gunicorn settings it gives
	factory bool     // Uvicorn's --factory: the app is called to make the app
}

// takeIgnored returns uses without the ignored Gunicorn flags, which
// urfave/cli does not know, and keeps a notice for each; it fails on a
// value that asks for what gowsgi cannot give (setting.refuse).
func (src *argSource) takeIgnored(uses []flagUse) ([]flagUse, error) {
	kept := uses[:0:0]
	for _, u := range uses {
		if u.s.notice == "" && u.s.refuse == nil {
			kept = append(kept, u)
			continue
		}
		if u.s.refuse != nil {
			if why := u.s.refuse(u.value); why != "" {
				return nil, fmt.Errorf("%s %s: %s", u.written, u.value, why)
			}
		}
		src.ignored = append(src.ignored, u.s.name)
		n := u.written + " is accepted and ignored: " + u.s.notice
		if src.name != "" {
			n = src.name + ": " + n
		}
		src.notices = append(src.notices, n)
		if u.s.served {
			src.remarks = append(src.remarks, n)
		}
	}
	return kept, nil
}

// parseEnvSource parses the *_CMD_ARGS variable name, if set.
func parseEnvSource(ix *flagIndex, name, value string, stdout io.Writer) (*argSource, Action, error) {
	if strings.TrimSpace(value) == "" {
		return nil, ActionServe, nil
	}
	words, err := shellSplit(value)
	if err != nil {
		return nil, ActionServe, &Error{Source: name, Err: err}
	}
	return parseSource(ix, words, name, stdout)
}

// parseSource scans args with Gunicorn's rules, then parses the canonical
// form with a urfave/cli App built from the settings table.
func parseSource(ix *flagIndex, args []string, name string, stdout io.Writer) (*argSource, Action, error) {
	sc, err := ix.scanArgs(args)
	if err != nil {
		return nil, ActionServe, &Error{Source: name, Err: err}
	}
	src := &argSource{name: name, values: map[*setting][]string{}, written: map[*setting]string{}}
	takeNegations(sc.uses)      // args.go
	takeUvicornHeaders(sc.uses) // uvicorn.go
	if sc.uses, err = src.takeIgnored(sc.uses); err != nil {
		return nil, ActionServe, &Error{Source: name, Err: err}
	}
	if sc.uses, err = src.takeUvicorn(sc.uses, ix); err != nil { // uvicorn.go
		return nil, ActionServe, &Error{Source: name, Err: err}
	}
	for _, u := range sc.uses {
		src.written[u.s] = u.written
		if u.s.name == "help" {
			sc.positionals = nil // urfave/cli would take them for a help topic
		}
	}
	ran := false
	app := newCLIApp(stdout, func(ctx *cli.Context) error {
		ran = true
		return src.collect(ctx, sc)
	})
	if err := app.Run(append([]string{app.Name}, canonicalArgs(sc)...)); err != nil {
		return nil, ActionServe, asError(name, err)
	}
	if !ran { // urfave/cli printed the help or the version itself
		for _, u := range sc.uses {
			if u.s.name == "help" {
				return nil, ActionHelp, nil
			}
		}
		return nil, ActionVersion, nil
	}
	return src, src.action, nil
}

func asError(source string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Source: source, Err: err}
}

// collect copies what urfave/cli parsed into src.
func (src *argSource) collect(ctx *cli.Context, sc scannedArgs) error {
	switch len(sc.positionals) {
	case 0:
	case 1:
		src.app = sc.positionals[0]
	default:
		err := fmt.Errorf("unexpected argument %q: give one app (MODULE:APP)", sc.positionals[1])
		if sc.notMode != "" {
			err = fmt.Errorf("%w; %s", err, sc.notMode)
		}
		return &Error{Source: src.name, Err: err}
	}
	for _, s := range settings {
		if len(s.flags) == 0 || !ctx.IsSet(s.flags[0]) {
			continue
		}
		switch s.kind {
		case kindList:
			src.values[s] = ctx.StringSlice(s.flags[0])
		case kindBool:
			src.values[s] = []string{fmt.Sprint(ctx.Bool(s.flags[0]))}
		default:
			src.values[s] = []string{ctx.String(s.flags[0])}
		}
	}
	src.config = ctx.String("config")
	if ctx.Bool("print-config") {
		src.action = ActionPrintConfig
	} else if ctx.Bool("check-config") {
		src.action = ActionCheckConfig
	}
	return nil
}

// newCLIApp builds the urfave/cli App from the settings table. It never
// exits the process and prints nothing but help and version to stdout.
func newCLIApp(stdout io.Writer, action cli.ActionFunc) *cli.App {
	var flags []cli.Flag
	for _, table := range [][]*setting{settings, switches} {
		for _, s := range table {
			if len(s.flags) == 0 || s.name == "help" || s.name == "version" {
				continue // wsgi_app has no flag; urfave/cli adds help and version
			}
			flags = append(flags, cliFlag(s))
		}
	}
	return &cli.App{
		Name:      "gowsgi",
		Usage:     "a pre-fork WSGI HTTP server with Gunicorn's command line",
		UsageText: "gowsgi [OPTIONS] [MODULE:APP]",
		Description: "Gunicorn's flags, gunicorn.conf.py and its hooks (docs/gunicorn.md). ASGI apps run with\n" +
			"-k asgi (docs/asgi.md). Uvicorn's own flags are read too, for a command line written for\n" +
			"Uvicorn: --host, --port, --uds, --fd, --factory, --access-log, --timeout-keep-alive, ...",
		Version:                   version(),
		Flags:                     flags,
		Action:                    action,
		HideHelpCommand:           true,
		DisableSliceFlagSeparator: true,
		Writer:                    stdout,
		ErrWriter:                 io.Discard,
		Compiled:                  time.Unix(0, 0),
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return err
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func cliFlag(s *setting) cli.Flag {
	names := append([]string(nil), s.flags[1:]...)
	if s.short != "" {
		names = append(names, s.short)
	}
	def := s.def
	if s.env != "" {
		fromEnv := "$" + s.env
		if s.fromEnv != nil {
			fromEnv = s.fromEnv(fromEnv)
		}
		def = strings.TrimSuffix(fromEnv+" or "+def, " or ")
	}
	switch s.kind {
	case kindBool:
		return &cli.BoolFlag{Name: s.flags[0], Aliases: names, Usage: s.help, DefaultText: cmp.Or(def, "false")}
	case kindList:
		return &cli.StringSliceFlag{Name: s.flags[0], Aliases: names, Usage: s.help, DefaultText: def}
	}
	return &cli.StringFlag{Name: s.flags[0], Aliases: names, Usage: s.help, DefaultText: def}
}

func version() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// applyDefaults sets every setting to its default, taken from its
// environment variable when that is non-empty.
func applyDefaults(c *Config, getenv func(string) string) error {
	for _, s := range settings {
		raw, source := s.def, ""
		if s.env != "" {
			if v := getenv(s.env); v != "" {
				raw, source = v, s.env
				if s.fromEnv != nil {
					raw = s.fromEnv(v)
				}
			}
		}
		if err := set(c, s, func() (any, error) { return s.parseString(raw) }); err != nil {
			if source == "" {
				panic(fmt.Sprintf("config: bad default for %s: %v", s.name, err))
			}
			return &Error{Source: "environment", Name: source, Err: err}
		}
	}
	return nil
}

// set parses a value with parse, validates it and stores it in c.
func set(c *Config, s *setting, parse func() (any, error)) error {
	v, err := parse()
	if err != nil {
		return err
	}
	if s.normalize != nil {
		if v, err = s.normalize(v); err != nil {
			return err
		}
	}
	store(s.field(c), v)
	return nil
}

// apply stores the source's values in c.
func (src *argSource) apply(c *Config) error {
	for _, s := range settings { // table order makes the first error stable
		values, ok := src.values[s]
		if !ok {
			continue
		}
		if err := set(c, s, func() (any, error) { return s.parseArgs(values) }); err != nil {
			return &Error{Source: src.name, Name: src.written[s], Err: err}
		}
		c.noteFormatFrom(s, src.name, src.written[s])
	}
	if src.app != "" {
		if _, err := normalizeAppSpec(src.app); err != nil {
			return &Error{Source: src.name, Err: err}
		}
		c.App = src.app
	}
	return nil
}

// argSettingNames are the names of the settings sources give.
func argSettingNames(sources []*argSource) map[string]bool {
	names := make(map[string]bool)
	for _, src := range sources {
		for s := range src.values {
			names[s.name] = true
		}
		for _, n := range src.ignored {
			names[n] = true
		}
	}
	return names
}

// lastValue is the value of the named setting as the command-line
// sources give it (the last one wins), else def. It serves settings
// needed before the config file is read.
func lastValue(sources []*argSource, name, def string) string {
	for _, src := range sources {
		for s, values := range src.values {
			if s.name == name && len(values) > 0 {
				def = values[len(values)-1]
			}
		}
	}
	return def
}

// finish applies the rules that span settings, and reads the files
// whose contents workers need.
func finish(c *Config, action Action, getenv func(string) string) error {
	if err := resolveWorkerClass(c); err != nil { // workerclass.go
		return err
	}
	// Gunicorn runs its threaded worker when sync is asked for with threads.
	if c.WorkerClass == "sync" && c.Threads > 1 {
		c.WorkerClass = "gthread"
	}
	if err := applyPaste(c); err != nil { // paste.go
		return err
	}
	if err := underChdir(c); err != nil { // chdirpaths.go
		return err
	}
	if c.App == "" && action != ActionPrintConfig {
		return &Error{Err: errors.New("no WSGI app given: pass MODULE:APP (such as mysite.wsgi:application) " +
			"or set wsgi_app in the config file")}
	}
	if err := checkLogConfig(c); err != nil { // logconfig.go
		return err
	}
	noteUnknownAtoms(c)                             // validate.go
	if err := applyEnvFile(c, getenv); err != nil { // dotenv.go
		return err
	}
	return checkTLS(c) // tls.go
}
