package cli

import (
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// noEmptyFlags refuses a flag given with an empty value (--env ""): a
// script whose variable is unset must not get what leaving the flag out
// gives, such as a verify that accepts every environment. --db has its
// own sentence where the store is opened.
func noEmptyFlags(cmd *cobra.Command) error {
	var bad string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if bad != "" || f.Name == "db" || f.Value.Type() == "bool" {
			return
		}
		empty := f.Value.String() == ""
		if s, ok := f.Value.(pflag.SliceValue); ok {
			empty = slices.Contains(s.GetSlice(), "")
		}
		if empty {
			bad = f.Name
		}
	})
	if bad != "" {
		return usagef("--%s is empty: give it a value, or leave --%s out", bad, bad)
	}
	return nil
}
