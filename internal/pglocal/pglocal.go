// Package pglocal runs a throwaway PostgreSQL cluster on this machine: the
// database behind `strata demo` and the test suites. It finds the server
// binaries (pg_config --bindir, then the Debian layout), runs initdb and
// pg_ctl as the unprivileged `postgres` user when the caller is root (initdb
// refuses root), listens only on 127.0.0.1 on a free port, and trusts local
// connections: it is for demos and tests, never for production data.
package pglocal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Cluster is a local PostgreSQL data directory and the server running on it.
type Cluster struct {
	// Dir is the data directory.
	Dir string
	// Port is the TCP port on 127.0.0.1.
	Port int
	// BinDir holds initdb, pg_ctl and postgres.
	BinDir string

	runAs *user.User // nil when the caller is not root
}

// Options tune a new cluster.
type Options struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// Durable keeps fsync on. Tests and the demo turn it off for speed.
	Durable bool
}

// Open prepares a cluster in dir, running initdb when dir holds none yet.
// The server is not started.
func Open(ctx context.Context, dir string, opts Options) (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, BinDir: bin, Port: opts.Port}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, initdb needs an unprivileged user: create a 'postgres' user (apt-get install postgresql does): %w", err)
		}
		c.runAs = u
		c.Dir = c.reachableDir(ctx, dir)
	}
	if c.Port == 0 {
		c.Port = configuredPort(c.Dir) // keep the port a config file may name
	}
	if c.Port == 0 {
		if c.Port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "PG_VERSION")); err == nil {
		if port, ok := runningPort(c.Dir); ok && c.Running(ctx) {
			c.Port = port // already up: keep its port and settings
			return c, nil
		}
		return c, c.writeConf(opts)
	}
	if err := c.initdb(ctx); err != nil {
		return nil, err
	}
	return c, c.writeConf(opts)
}

// reachableDir returns dir when the postgres user can reach it, else a
// stable folder under the system temp dir: a checkout under /root (mode 0700)
// is out of the postgres user's reach.
func (c *Cluster) reachableDir(ctx context.Context, dir string) string {
	parent := filepath.Dir(dir)
	_ = os.MkdirAll(parent, 0o755)
	cmd := exec.CommandContext(ctx, "runuser", "-u", c.runAs.Username, "--", "test", "-x", parent)
	if cmd.Run() == nil {
		return dir
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join(os.TempDir(), "strata-pglocal-"+hex.EncodeToString(sum[:6]))
}

func (c *Cluster) initdb(ctx context.Context) error {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := c.chown(c.Dir); err != nil {
		return err
	}
	out, err := c.run(ctx, "initdb", "-D", c.Dir, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	if err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", c.Dir, err, out)
	}
	return nil
}

// writeConf (re)writes the settings Strata's demo and tests rely on.
func (c *Cluster) writeConf(opts Options) error {
	fsync := "off"
	if opts.Durable {
		fsync = "on"
	}
	conf := fmt.Sprintf(`# written by strata pglocal; edits are overwritten
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
fsync = %s
synchronous_commit = off
full_page_writes = %s
max_connections = 200
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
timezone = 'UTC'
`, c.Port, c.Dir, fsync, fsync)
	p := filepath.Join(c.Dir, "strata.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	main := filepath.Join(c.Dir, "postgresql.conf")
	b, err := os.ReadFile(main)
	if err != nil {
		return fmt.Errorf("read %s: %w", main, err)
	}
	if !strings.Contains(string(b), "include_if_exists = 'strata.conf'") {
		b = append(b, []byte("\ninclude_if_exists = 'strata.conf'\n")...)
		if err := os.WriteFile(main, b, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", main, err)
		}
	}
	if err := c.chown(p); err != nil {
		return err
	}
	return c.chown(main)
}

// Start starts the server and waits until it accepts connections. Starting a
// running cluster is not an error.
func (c *Cluster) Start(ctx context.Context) error {
	if c.Running(ctx) {
		return nil
	}
	logf := filepath.Join(c.Dir, "server.log")
	out, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-l", logf, "-w", "-t", "60", "start")
	if err != nil {
		tail, _ := os.ReadFile(logf)
		return fmt.Errorf("start PostgreSQL in %s on port %d: %w\n%s\n%s", c.Dir, c.Port, err, out, lastLines(string(tail), 15))
	}
	return nil
}

// Stop stops the server (fast shutdown). Stopping a stopped cluster is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	if !c.Running(ctx) {
		return nil
	}
	out, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "stop")
	if err != nil {
		return fmt.Errorf("stop PostgreSQL in %s: %w\n%s", c.Dir, err, out)
	}
	return nil
}

// Running reports whether a server is running on the data directory.
func (c *Cluster) Running(ctx context.Context) bool {
	_, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "status")
	return err == nil
}

// URL returns a connection URL for database db as the superuser postgres.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Remove stops the server and deletes the data directory.
func (c *Cluster) Remove(ctx context.Context) error {
	if err := c.Stop(ctx); err != nil {
		return err
	}
	return os.RemoveAll(c.Dir)
}

func (c *Cluster) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	path := filepath.Join(c.BinDir, tool)
	var cmd *exec.Cmd
	if c.runAs != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd.CombinedOutput()
}

func (c *Cluster) chown(path string) error {
	if c.runAs == nil {
		return nil
	}
	uid, _ := strconv.Atoi(c.runAs.Uid)
	gid, _ := strconv.Atoi(c.runAs.Gid)
	if err := os.Lchown(path, uid, gid); err != nil {
		return fmt.Errorf("give %s to user postgres: %w", path, err)
	}
	return nil
}

func findBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install them (apt-get install postgresql-15) or put their folder on PATH")
}

// configuredPort returns the port an earlier Open wrote, when it is free.
func configuredPort(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "strata.conf"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "port = "); ok {
			port, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0
			}
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", v))
			if err != nil {
				return 0
			}
			l.Close()
			return port
		}
	}
	return 0
}

// runningPort reads the port of a running server from postmaster.pid.
func runningPort(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	return port, err == nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitReady polls until a TCP connection to the server succeeds or ctx ends.
func (c *Cluster) WaitReady(ctx context.Context) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port))
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL on %s not ready: %w", addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
