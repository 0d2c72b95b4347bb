//! The `limen` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "limen",
    version,
    about = "A web dashboard for the virtual machines of a libvirt/QEMU host"
)]
pub struct Cli {
    /// Settings file (TOML). Default: ./.limen/limen.toml, then /etc/limen/limen.toml.
    #[arg(long, global = true, env = "LIMEN_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard, the REST API and the live event stream (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Compare libvirt, the database and the disk directory; correct status drift, mark
    /// missing VMs, finish cut-off operations, and print the report as JSON. Beside a running
    /// server it only reports (the server corrects). Nothing is deleted.
    Reconcile,
    /// Check what Limen needs of this host (libvirt, KVM, the data dir, the database, disk
    /// space, the clock, the listen address, the certificate) and say what to do about each
    /// problem. Exit status 1 when a check failed.
    Doctor {
        /// One JSON object on stdout, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Write the database and every managed VM's definition to one archive (not the disks:
    /// those are in the data dir's disks/). Safe beside a running server.
    Backup {
        /// The archive to write (a gzip'd tar; `-` is not supported).
        file: PathBuf,
    },
    /// Load an archive made by `limen backup` into an empty database, define the VMs the host
    /// no longer has, and reconcile. Stop the server first.
    Restore { file: PathBuf },
    /// Print the REST API's OpenAPI 3.1 description (JSON) and exit: the document
    /// `GET /api/v1/openapi.json` serves, without a server, a database or a settings file.
    Openapi,
    /// Manage users (the first admin of a fresh install: `limen user add NAME --admin`).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the libvirt hosts Limen follows (the local one is always there).
    #[command(subcommand)]
    Host(HostCommand),
    /// Tests only (a build with the `failpoints` feature): sets the stage for the registered
    /// saga KIND, prints its parameters as one JSON line, then runs it (the crash tests arm a
    /// failpoint that aborts the process after a step).
    #[cfg(feature = "failpoints")]
    #[command(hide = true)]
    SagaExample {
        kind: String,
        /// Print the parameters after setting the stage, and stop there.
        #[arg(long)]
        setup_only: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Add a host: Limen connects to it first and refuses one it cannot reach. A running
    /// server follows it from its next reconcile (LIMEN_RECONCILE_SECS), or at once when
    /// added in the dashboard or through the API.
    Add {
        /// What people call it: letters, digits, '.', '_' and '-'; its lower case is its key.
        name: String,
        /// libvirt's URI of it, e.g. qemu+ssh://root@10.0.0.2/system
        uri: String,
    },
    /// List the hosts, one JSON object per line.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is asked for twice on the terminal, or read from stdin.
    Add {
        /// The username: letters, digits, '.', '_' and '-'.
        name: String,
        /// Make the user an admin (sees and manages everything).
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of stdin (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
}
