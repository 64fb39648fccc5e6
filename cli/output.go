package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"keyden/format"
)

// printer prints a command's result on standard output, one way for every
// command: with --json the value as indented JSON, raw (encoding/json
// escapes control characters, and scripts get stored text as it is; a nil
// list is []); otherwise the command's text, whose every stored or flag
// string goes through format.Safe (printf, table).
type printer struct {
	w    io.Writer
	json bool
}

func (a *app) printer() *printer { return &printer{w: a.env.Stdout} }

// jsonFlag gives cmd the --json flag, described by help.
func (p *printer) jsonFlag(cmd *cobra.Command, help string) {
	cmd.Flags().BoolVar(&p.json, "json", false, help)
}

// jsonWriter is a value that writes its own JSON (a long listing, one key a line).
type jsonWriter interface{ writeJSON(w io.Writer) error }

// print writes v with --json, else text; buffered, as a listing can be long.
func (p *printer) print(v any, text func(w io.Writer) error) error {
	w := bufio.NewWriterSize(p.w, 64<<10)
	var err error
	switch jw, ok := v.(jsonWriter); {
	case !p.json:
		err = text(w)
	case ok:
		err = jw.writeJSON(jsonSafe{w})
	default:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
			v = []struct{}{}
		}
		err = writeJSON(jsonSafe{w}, v)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonSafe writes JSON with every rune format.Safe would escape written
// as a \u escape: encoding/json leaves C1 controls and bidi overrides raw,
// and on a terminal U+009B starts a control sequence and U+202E turns the
// text around. A script decodes the same string. Each Write must end on a
// whole rune, as each Encode and each listing line does.
type jsonSafe struct{ w io.Writer }

func (j jsonSafe) Write(b []byte) (int, error) {
	var out []byte
	last := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if !unicode.IsGraphic(r) {
			if out == nil {
				out = make([]byte, 0, len(b)+16)
			}
			out = append(out, b[last:i]...)
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			last = i + size
		}
		i += size
	}
	if out == nil {
		return j.w.Write(b)
	}
	if _, err := j.w.Write(append(out, b[last:]...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// table writes header and the rows in columns two spaces apart; rows are
// written with printf.
func table(w io.Writer, header string, rows func(tw io.Writer)) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header != "" {
		fmt.Fprintln(tw, header)
	}
	rows(tw)
	return tw.Flush()
}

// printf is fmt.Fprintf for the command line's text output: the format is
// keyden's own, but every string or error argument may come from a store or
// a flag, so each goes through format.Safe (a tab or newline in a name is
// escaped too, and cannot forge a column or a line).
func printf(w io.Writer, f string, args ...any) (int, error) {
	for i, arg := range args {
		switch v := arg.(type) {
		case error:
			args[i] = format.Safe(v.Error())
		case fmt.Stringer:
			args[i] = format.Safe(v.String())
		default:
			if rv := reflect.ValueOf(arg); rv.Kind() == reflect.String {
				args[i] = format.Safe(rv.String())
			}
		}
	}
	return fmt.Fprintf(w, f, args...)
}

// columns lays out a table whose rows are written as they come, sized by
// a first pass over them (measure), the same as table's tabwriter: every
// cell but a row's last padded to its column's width in runes, two spaces
// apart. Cells are text ready for a terminal (format.Safe).
type columns struct{ widths []int }

func newColumns(header []string) *columns {
	c := &columns{widths: make([]int, len(header))}
	c.measure(header)
	return c
}

func (c *columns) measure(cells []string) {
	for i, s := range cells {
		c.widths[i] = max(c.widths[i], utf8.RuneCountInString(s))
	}
}

func (c *columns) write(w io.Writer, cells []string) error {
	var line []byte
	for i, s := range cells {
		line = append(line, s...)
		if i < len(cells)-1 {
			line = append(line, strings.Repeat(" ", max(0, c.widths[i]-utf8.RuneCountInString(s))+2)...)
		}
	}
	_, err := w.Write(append(line, '\n'))
	return err
}
