package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"text/tabwriter"

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
		err = jw.writeJSON(w)
	default:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
			v = []struct{}{}
		}
		err = writeJSON(w, v)
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
