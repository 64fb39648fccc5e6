package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/storage"
)

func (a *app) migrateCommand() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate --from LOCATION --to LOCATION",
		Short: "Copy a whole key store between a file and etcd (either way), then check the copy",
		Long: `Copy a whole key store into an empty one: a file to etcd://host:2379[,…]/prefix
or back, keeping ids, hashes, records, members, environments, channels and the
audit log. The copy is read back and compared with the source. Pause writers
to the source while it runs: the copy is of one moment.`,
		Example: `  keyden migrate --from ~/.local/share/keyden/keyden.db --to etcd://10.0.0.1:2379,10.0.0.2:2379/keyden`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return usagef("migrate needs --from and --to: a file path or etcd://host:2379/prefix each")
			}
			if from == to {
				return usagef("--from and --to are the same store: give two different ones")
			}
			src, err := a.openLocation(from, storage.Options{NoCreate: true})
			if err != nil {
				return err
			}
			if b, ok := src.(*storage.Bolt); ok && !b.Exists() {
				return &refusal{msg: fmt.Sprintf("the store to copy, %s, does not exist: check --from", b.Path())}
			}
			dst, err := a.openLocation(to, storage.Options{})
			if err != nil {
				return err
			}
			n, err := storage.Copy(cmd.Context(), src, dst)
			if err != nil {
				return err
			}
			printf(a.env.Stdout, "Copied %s, with their members, environments, channels and audit log, from %s to %s; the copy matches.\n",
				format.Count(n, "key"), src.Location(), dst.Location())
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the store to copy: a file or etcd://…")
	cmd.Flags().StringVar(&to, "to", "", "an empty store to copy into: a new file or an unused etcd prefix")
	return cmd
}
