package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// manDate is the date the man pages carry. It is fixed, not the day they
// were made, so that regenerating them changes nothing unless the
// commands did (TestManPagesAreCurrent compares them).
var manDate = time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)

func manHeader() *doc.GenManHeader {
	// No Title: cobra names each page after its command (KEYDEN-CREATE),
	// where one title gave every page's header KEYDEN(1).
	return &doc.GenManHeader{Section: "1", Date: &manDate, Source: "keyden", Manual: "keyden manual"}
}

// manCommand writes the man pages: keyden(1) and one page per command
// (keyden-create(1)…), as git has them. Packages install them from docs/man.
func (a *app) manCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "man [--dir DIR]",
		Short:  "Write keyden's man pages (keyden(1) to standard output, or every page into --dir)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			root.DisableAutoGenTag = true
			escapeForMarkdown(root)
			if dir == "" {
				return doc.GenMan(root, manHeader(), cmd.OutOrStdout())
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return &refusal{msg: fmt.Sprintf("cannot make the folder %s (%v): give --dir a folder you can write", dir, err)}
			}
			return doc.GenManTree(root, manHeader(), dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "folder to write every page into")
	return cmd
}

// escapeForMarkdown keeps the help's text as written in the pages: cobra
// turns it into a man page through Markdown, which would read
// `used:<1h|>90d` as an HTML tag and drop it.
func escapeForMarkdown(c *cobra.Command) {
	r := strings.NewReplacer("<", `\<`, ">", `\>`)
	c.Long, c.Short, c.Example = r.Replace(c.Long), r.Replace(c.Short), r.Replace(c.Example)
	c.Flags().VisitAll(func(f *pflag.Flag) { f.Usage = r.Replace(f.Usage) })
	for _, sub := range c.Commands() {
		escapeForMarkdown(sub)
	}
}
