package config

import (
	"crypto/tls"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// opensslNames are the OpenSSL names of what sel selects.
func opensslNames(ids []uint16) []string {
	var names []string
	for _, id := range ids {
		for _, s := range goSuites {
			if s.id == id {
				names = append(names, s.openssl)
			}
		}
	}
	return names
}

func TestSelectCiphers(t *testing.T) {
	const (
		e256  = "ECDHE-ECDSA-AES256-GCM-SHA384"
		r256  = "ECDHE-RSA-AES256-GCM-SHA384"
		eCha  = "ECDHE-ECDSA-CHACHA20-POLY1305"
		rCha  = "ECDHE-RSA-CHACHA20-POLY1305"
		e128  = "ECDHE-ECDSA-AES128-GCM-SHA256"
		r128  = "ECDHE-RSA-AES128-GCM-SHA256"
		e256s = "ECDHE-ECDSA-AES256-SHA"
		r256s = "ECDHE-RSA-AES256-SHA"
		e128s = "ECDHE-ECDSA-AES128-SHA"
		r128s = "ECDHE-RSA-AES128-SHA"
	)
	all := []string{e256, r256, eCha, rCha, e128, r128, e256s, r256s, e128s, r128s}
	for _, tt := range []struct {
		name, in  string
		want      []string
		unmatched []string
		err       string
	}{
		{name: "names in their order", in: r128 + ":" + e256, want: []string{r128, e256}},
		{name: "IANA names too", in: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", want: []string{r128}},
		{name: "Mozilla intermediate", in: e128 + ":" + r128 + ":" + e256 + ":" + r256 + ":" + eCha + ":" + rCha +
			":DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305",
			want:      []string{e128, r128, e256, r256, eCha, rCha},
			unmatched: []string{"DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305"}},
		{name: "HIGH less some", in: "HIGH:!aNULL:!MD5", want: all},
		{name: "DEFAULT", in: "DEFAULT", want: all},
		{name: "and", in: "ECDHE+AESGCM", want: []string{e256, r256, e128, r128}},
		{name: "Uvicorn's default", in: "TLSv1", want: []string{e256s, r256s, e128s, r128s}},
		{name: "TLS 1.2 only suites", in: "TLSv1.2+aRSA", want: []string{r256, rCha, r128}},
		{name: "strength sort", in: "HIGH:@STRENGTH", want: []string{e256, r256, eCha, rCha, e256s, r256s, e128, r128, e128s, r128s}},
		{name: "seclevel 4", in: "HIGH:@SECLEVEL=4", want: []string{e256, r256, eCha, rCha}},
		{name: "moved to the end", in: "ECDHE:+AES128", want: []string{e256, r256, eCha, rCha, e256s, r256s, e128, r128, e128s, r128s}},
		{name: "deleted, then added back first", in: "ALL:-ECDSA:ECDSA", want: []string{r256, rCha, r128, r256s, r128s, e256, eCha, e128, e256s, e128s}},
		{name: "killed for good", in: "ALL:!ECDSA:ECDSA", want: []string{r256, rCha, r128, r256s, r128s}},
		{name: "two items with no separator", in: "HIGH!aRSA", want: []string{e256, eCha, e128, e256s, e128s}},
		{name: "unknown words skip the item", in: "NOPE+%x:" + r128, want: []string{r128}, unmatched: []string{"NOPE+%x"}},
		{name: "a named suite and a version", in: r128s + "+TLSv1:" + r128 + "+TLSv1", want: []string{r128s}, unmatched: []string{r128 + "+TLSv1"}},
		{name: "words that cannot both hold", in: r128 + "+AES256:" + e128, want: []string{e128}, unmatched: []string{r128 + "+AES256"}},
		{name: "kRSA only", in: "RSA", want: nil, unmatched: []string{"RSA"}},
		{name: "bad character", in: "HIGH:%x:ALL", err: `"%x": not OpenSSL cipher-string syntax`},
		{name: "dangling plus", in: "HIGH+", err: `"HIGH+": not OpenSSL cipher-string syntax`},
		{name: "unknown command", in: "HIGH:@FOO", err: `"@FOO"`},
		{name: "seclevel out of range", in: "HIGH:@SECLEVEL=6", err: `"@SECLEVEL=6"`},
		{name: "Suite B", in: "SUITEB128", err: "Suite B"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := selectCiphers(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("selectCiphers(%q) = %v, %v; want an error saying %s", tt.in, opensslNames(sel.ids), err, tt.err)
				}
				return
			}
			if got := opensslNames(sel.ids); err != nil || !slices.Equal(got, tt.want) || !slices.Equal(sel.unmatched, tt.unmatched) {
				t.Errorf("selectCiphers(%q) = %q (unmatched %q), %v; want %q (unmatched %q)", tt.in, got, sel.unmatched, err, tt.want, tt.unmatched)
			}
		})
	}
}

// TestGoSuitesAreGos: the table holds every TLS 1.2 suite Go implements
// (tls.CipherSuites), under Go's IANA name.
func TestGoSuitesAreGos(t *testing.T) {
	var want []uint16
	for _, cs := range tls.CipherSuites() {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			want = append(want, cs.ID)
		}
	}
	var got []uint16
	for _, s := range goSuites {
		got = append(got, s.id)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("goSuites hold %v; Go's TLS 1.2 suites are %v", got, want)
	}
}

// TestCiphersAsOpenSSLSelects runs cipher strings through the openssl
// command (`ciphers -s`: what a server on this OpenSSL would offer) and
// through selectCiphers: the same suites of Go's, in the same order, and
// an error where OpenSSL's is a syntax error. The strings are every
// keyword alone and with each prefix, and random combinations of items
// (lookupCipherWord says why they are kept apart by separators).
func TestCiphersAsOpenSSLSelects(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is not installed: make test installs it")
	}
	words := []string{"NOPE", "DHE-RSA-AES128-GCM-SHA256", "AES128-SHA", "RC4", "GOST89MAC"}
	for w := range cipherAliases {
		words = append(words, w)
	}
	for _, s := range goSuites {
		words = append(words, s.openssl)
	}
	slices.Sort(words)
	var cases []string
	for _, w := range words {
		for _, prefix := range []string{"", "-", "+", "!"} {
			cases = append(cases, "HIGH:"+prefix+w, "ALL:-HIGH:"+prefix+w)
		}
		cases = append(cases, w)
	}
	rng := rand.New(rand.NewPCG(27, 7))
	items := []string{"@STRENGTH", "@SECLEVEL=4", "@SECLEVEL=1"}
	for range 300 {
		var b strings.Builder
		for range 1 + rng.IntN(6) {
			if b.Len() > 0 {
				b.WriteString([]string{":", ":", " ", ",", ";"}[rng.IntN(5)])
			} else if rng.IntN(6) == 0 {
				b.WriteString("DEFAULT:")
			}
			if rng.IntN(12) == 0 {
				b.WriteString(items[rng.IntN(len(items))])
				continue
			}
			b.WriteString([]string{"", "", "", "-", "+", "!"}[rng.IntN(6)])
			for k := range 1 + rng.IntN(2) {
				if k > 0 {
					b.WriteByte('+')
				}
				b.WriteString(words[rng.IntN(len(words))])
			}
		}
		cases = append(cases, b.String())
	}
	mismatches := 0
	for _, in := range cases {
		if strings.Contains(in, "TLS_") || strings.HasPrefix(in, "SUITEB") {
			continue // IANA names are gowsgi's own; Suite B is refused
		}
		arg := in
		if strings.HasPrefix(in, "-") {
			arg = ":" + in // not an option; OpenSSL skips a leading separator
		}
		out, runErr := exec.Command(openssl, "ciphers", "-s", arg).CombinedOutput()
		var want []string
		syntaxErr := strings.Contains(string(out), "invalid command")
		if runErr == nil {
			for _, name := range strings.Split(strings.TrimSpace(string(out)), ":") {
				if slices.ContainsFunc(goSuites, func(s goSuite) bool { return s.openssl == name }) {
					want = append(want, name)
				}
			}
		} else if !syntaxErr && !strings.Contains(string(out), "no cipher match") {
			t.Fatalf("openssl ciphers -s %q: %v %s", in, runErr, out)
		}
		sel, err := selectCiphers(in)
		if got := opensslNames(sel.ids); (err != nil) != syntaxErr || !slices.Equal(got, want) {
			t.Errorf("%q: gowsgi selects %q (error %v), OpenSSL %q (syntax error %v)", in, got, err, want, syntaxErr)
			if mismatches++; mismatches > 10 {
				t.FailNow()
			}
		}
	}
}

// FuzzSelectCiphers: any string is read without a panic; what it selects
// is Go's suites, each once, and the names of a selection, listed,
// select it again in the same order.
func FuzzSelectCiphers(f *testing.F) {
	for _, seed := range []string{"HIGH:!aNULL:!MD5", "ECDHE+AESGCM:-SHA1:+AES128 @STRENGTH", "DEFAULT:@SECLEVEL=4",
		"ALL:-ECDSA:ECDSA", "NOPE+%x:ECDHE-RSA-AES128-SHA+TLSv1", "HIGH!aRSA,TLSv1.2+aRSA;kRSA"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := selectCiphers(s)
		if err != nil {
			return
		}
		seen := map[uint16]bool{}
		for _, id := range sel.ids {
			if seen[id] || !slices.ContainsFunc(goSuites, func(g goSuite) bool { return g.id == id }) {
				t.Fatalf("selectCiphers(%q) = %v: a suite twice, or not Go's", s, sel.ids)
			}
			seen[id] = true
		}
		if len(sel.ids) == 0 {
			return
		}
		again, err := selectCiphers(strings.Join(opensslNames(sel.ids), ":"))
		if err != nil || !slices.Equal(again.ids, sel.ids) {
			t.Fatalf("selectCiphers(%q) = %v; its names select %v, %v", s, sel.ids, again.ids, err)
		}
	})
}
