package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/pglocal"
)

func newDemoCmd(env Env, g *globalFlags) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on a throwaway local PostgreSQL and a local-disk archive",
	}
	cmd.PersistentFlags().StringVar(&state, "state", ".demo", "folder for the demo's database, archive and config")
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Start the demo's PostgreSQL (creating it if needed) and print its connection settings",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := pglocal.Open(c.Context(), filepath.Join(state, "pgdata"), pglocal.Options{})
			if err != nil {
				return err
			}
			if err := cl.Start(c.Context()); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "export STRATA_DATABASE_URL=%s\n", cl.URL("postgres"))
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "down",
		Short: "Stop the demo's PostgreSQL",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := pglocal.Open(c.Context(), filepath.Join(state, "pgdata"), pglocal.Options{})
			if err != nil {
				return err
			}
			return cl.Stop(c.Context())
		},
	})
	return cmd
}
