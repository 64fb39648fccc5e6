package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"keyden/keygen"
)

// keyPattern is a regular expression (RE2, as gitleaks and trufflehog
// read it) for this store's keys: one body length per environment tag,
// or any length a store makes when no store could be read.
func (a *app) keyPattern(ctx context.Context, st store, prefix string, f keygen.Format) string {
	var alts []string
	if st != nil {
		if envs, err := st.Environments(ctx); err == nil {
			for _, e := range envs {
				l := keygen.LayoutFor(f, prefix, e.Tag)
				alts = append(alts, fmt.Sprintf("%s_[0-9A-Za-z]{%d}", regexp.QuoteMeta(e.Tag), l.Total-len(prefix)-len(e.Tag)-2))
			}
		}
	}
	if len(alts) == 0 {
		alts = []string{fmt.Sprintf("[a-z0-9]{1,8}_[0-9A-Za-z]{%d,%d}", keygen.MinRandomCompact+keygen.ChecksumLen, keygen.MaxKeyLen-len(prefix)-3)}
	}
	sort.Strings(alts)
	return `\b(` + regexp.QuoteMeta(prefix) + `_(?:` + strings.Join(alts, "|") + `))\b`
}

// printRules writes a gitleaks or trufflehog rule for the store's keys.
func (a *app) printRules(ctx context.Context, st store, prefix string, f keygen.Format, which string) error {
	re := a.keyPattern(ctx, st, prefix, f)
	from := "any keyden store with the prefix " + prefix + " (no store could be read)"
	if st != nil {
		from = "the keyden store " + st.Location()
	}
	w := a.env.Stdout
	var err error
	if which == "gitleaks" {
		_, err = fmt.Fprintf(w, `# Keys of %s; add this to .gitleaks.toml
# (with [extend] useDefault = true there to keep gitleaks' own rules).
# A match can still be a lookalike: keyden scan checks the checksum.
[[rules]]
id = "keyden-%s"
description = "keyden API key (prefix %s_)"
regex = '''%s'''
keywords = ["%s_"]
`, tomlComment(from), prefix, prefix, re, prefix)
	} else {
		_, err = fmt.Fprintf(w, `# Keys of %s: a trufflehog custom detector
# (trufflehog filesystem --config this.yaml .). A match can still be a
# lookalike: keyden scan checks the checksum.
detectors:
  - name: keyden-%s
    keywords:
      - %s_
    regex:
      key: '%s'
`, tomlComment(from), prefix, prefix, re)
	}
	return err
}

// tomlComment keeps a location on its comment line.
func tomlComment(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// hookMarker names a pre-commit hook keyden wrote, which it may replace.
const hookMarker = "# keyden scan hook"

// installHook writes a pre-commit hook into the repository in args[0]
// (default .) that runs keyden scan --staged.
func (a *app) installHook(ctx context.Context, args []string, prefix string) error {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	var out strings.Builder
	err := runGit(ctx, dir, []string{"rev-parse", "--git-path", "hooks/pre-commit"}, func(r io.Reader) error {
		_, err := io.Copy(&out, r)
		return err
	})
	if err != nil {
		return err
	}
	path := strings.TrimSpace(out.String())
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	old, err := os.ReadFile(path)
	if err == nil && !strings.Contains(string(old), hookMarker) {
		return &refusal{fmt.Sprintf("%s is a pre-commit hook keyden did not write: add the line `keyden scan --staged --prefix %s` to it yourself", path, prefix)}
	}
	// A link to nothing would have an executable made wherever the link
	// points; a link to a hook keyden wrote is written through.
	if to, lerr := os.Readlink(path); lerr == nil && errors.Is(err, fs.ErrNotExist) {
		return &refusal{fmt.Sprintf("the hook %s is a symbolic link to %s, which does not exist: remove the link, or make the file it names", path, to)}
	}
	exe := "keyden"
	if filepath.IsAbs(a.env.Executable) {
		exe = a.env.Executable
	}
	run := shellQuote(exe)
	if db := a.dbPath; db != "" {
		run += " --db " + shellQuote(db)
	}
	hook := "#!/bin/sh\n" + hookMarker + ": refuses a commit whose staged changes add a live key.\n" +
		"# Without the key store the checksum alone decides, and keyden says so.\n" +
		"# git commit --no-verify skips it.\n" +
		"exec " + run + " scan --staged --prefix " + prefix + "\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return &refusal{fmt.Sprintf("could not make the hooks folder %s: %v", filepath.Dir(path), unwrapPath(err))}
	}
	// A new hook is made with O_EXCL, so never through a link made since.
	flag := os.O_WRONLY | os.O_TRUNC
	if errors.Is(err, fs.ErrNotExist) {
		flag = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	if err := writeHook(path, flag, []byte(hook)); err != nil {
		return &refusal{fmt.Sprintf("could not write the hook %s: %v", path, unwrapPath(err))}
	}
	if err := os.Chmod(path, 0o755); err != nil {
		return &refusal{fmt.Sprintf("could not make the hook %s executable: %v", path, unwrapPath(err))}
	}
	printf(a.env.Stdout, "Installed a pre-commit hook at %s: each commit's staged changes are scanned for keys with the prefix %s_ (offline, the checksum decides).\n", path, prefix)
	return nil
}

func writeHook(path string, flag int, text []byte) error {
	f, err := os.OpenFile(path, flag, 0o755)
	if err != nil {
		return err
	}
	_, err = f.Write(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
