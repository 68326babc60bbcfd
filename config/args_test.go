package config

import (
	"reflect"
	"testing"
)

// The expectations follow Gunicorn 20.1's argparse parser, checked with
// `Config().parser().parse_args(argv)` on Debian's python3-gunicorn.
func TestScanArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string // canonicalArgs of the result
		wantErr string
	}{
		{name: "flags after the app, as in Procfiles",
			args: []string{"app.wsgi", "--log-file", "-", "--timeout", "120"},
			want: []string{"--error-logfile=-", "--timeout=120", "--", "app.wsgi"}},
		{name: "short flag with glued value", args: []string{"-w4", "app"},
			want: []string{"--workers=4", "--", "app"}},
		{name: "short flag with = glued value", args: []string{"-w=4"}, want: []string{"--workers=4", "--"}},
		{name: "long flag with =", args: []string{"--workers=4"}, want: []string{"--workers=4", "--"}},
		{name: "long flag with separate value", args: []string{"--workers", "4"}, want: []string{"--workers=4", "--"}},
		{name: "comma in a repeatable value stays", args: []string{"-e", "KEY=a,b", "-e", "X=1"},
			want: []string{"--env=KEY=a,b", "--env=X=1", "--"}},
		{name: "short flag with glued KEY=VALUE", args: []string{"-ekey=v"}, want: []string{"--env=key=v", "--"}},
		{name: "unique prefix", args: []string{"--max-requests-j", "5"},
			want: []string{"--max-requests-jitter=5", "--"}},
		{name: "StatsD flag by prefix", args: []string{"--statsd-h", "x:1"}, want: []string{"--statsd-host=x:1", "--"}},
		{name: "unique prefix with =", args: []string{"--chec"}, want: []string{"--check-config", "--"}},
		{name: "exact name beats longer names", args: []string{"--reload"}, want: []string{"--reload", "--"}},
		{name: "prefix of two aliases of one setting", args: []string{"--limit-request-field-", "9"},
			want: []string{"--limit-request-field_size=9", "--"}},
		{name: "dash is a value", args: []string{"--access-logfile", "-"}, want: []string{"--access-logfile=-", "--"}},
		{name: "negative number is a value", args: []string{"-w", "-1"}, want: []string{"--workers=-1", "--"}},
		{name: "double dash ends flags", args: []string{"--preload", "--", "-w", "3"},
			want: []string{"--preload", "--", "-w", "3"}},
		{name: "switches cluster", args: []string{"-vw4"}, want: []string{"--version", "--workers=4", "--"}},
		{name: "boolean with explicit false", args: []string{"--preload=false"},
			want: []string{"--preload=false", "--"}},
		{name: "empty value with =", args: []string{"--bind="}, want: []string{"--bind=", "--"}},
		{name: "lone dash is positional", args: []string{"-"}, want: []string{"--", "-"}},

		{name: "ambiguous prefix", args: []string{"--work", "3"},
			wantErr: "--work: ambiguous flag, could be --worker-class, --worker-connections, --worker-tmp-dir, --workers"},
		{name: "prefix shared with longer names", args: []string{"--rel"},
			wantErr: "--rel: ambiguous flag, could be --reload, --reload-delay, --reload-dir, --reload-engine, --reload-exclude, --reload-extra-file, --reload-include"},
		{name: "unknown long flag", args: []string{"--bogus"}, wantErr: "--bogus: unknown flag (see --help)"},
		{name: "mistyped long flag", args: []string{"--wokers", "3"}, wantErr: "--wokers: unknown flag; did you mean --workers? (see --help)"},
		{name: "mistyped long flag with a value", args: []string{"--graceful-timout=5"}, wantErr: "--graceful-timout: unknown flag; did you mean --graceful-timeout? (see --help)"},
		{name: "unknown short flag", args: []string{"-x"}, wantErr: "-x: unknown flag (see --help)"},
		{name: "unsupported Gunicorn flag", args: []string{"app", "--spew"},
			wantErr: "--spew: Gunicorn's flag is not supported by gowsgi: use a Python tracer in the app instead"},
		{name: "unsupported flag by prefix", args: []string{"--sp"},
			wantErr: "--spew: Gunicorn's flag is not supported by gowsgi: use a Python tracer in the app instead"},
		{name: "value looks like a flag", args: []string{"--bind", "--workers"},
			wantErr: "--bind: needs a value (ADDRESS)"},
		{name: "value missing at the end", args: []string{"app", "-w"}, wantErr: "-w: needs a value (N)"},
		{name: "double dash is not a value", args: []string{"-b", "--"}, wantErr: "-b: needs a value (ADDRESS)"},
	}
	ix := newFlagIndex()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := ix.scanArgs(tt.args)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("scanArgs(%q) error = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("scanArgs(%q): %v", tt.args, err)
			}
			if got := canonicalArgs(sc); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("scanArgs(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

// The expectations are Python's shlex.split results.
func TestShellSplit(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr error
	}{
		{in: "", want: nil},
		{in: "  -w 4\t--timeout\n120 ", want: []string{"-w", "4", "--timeout", "120"}},
		{in: `--env 'A=b c' -e "B=x y"`, want: []string{"--env", "A=b c", "-e", "B=x y"}},
		{in: `'it''s'`, want: []string{"its"}},
		{in: `"a\"b\\c\$d"`, want: []string{`a"b\c\$d`}},
		{in: `a\ b c\\d`, want: []string{"a b", `c\d`}},
		{in: `x'y z'"w"`, want: []string{"xy zw"}},
		{in: `'' ""`, want: []string{"", ""}},
		{in: `'$HOME'`, want: []string{"$HOME"}},
		{in: `'open`, wantErr: errUnterminatedQuote},
		{in: `"open\"`, wantErr: errUnterminatedQuote},
		{in: `end\`, wantErr: errTrailingBackslash},
	}
	for _, tt := range tests {
		got, err := shellSplit(tt.in)
		if err != tt.wantErr {
			t.Errorf("shellSplit(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("shellSplit(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
