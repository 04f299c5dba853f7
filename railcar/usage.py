"""The CLI's one definition: docopt usage texts, global and one per command.

`railcar/_grammar.py` is generated from these by `railcar.grammar_gen` (docopt's
own parse), and the hot path matches argv against that table; a test checks the
table is current and that the matcher agrees with docopt.
"""

GLOBAL = """railcar - an OCI container runtime, a drop-in for runc

Usage:
  railcar [options] <command> [<args>...]
  railcar --version
  railcar (-h | --help)

Commands:
  create      create a container
  start       start a created container
  run         create and start a container
  state       output the state of a container
  kill        send a signal to the container's init process
  delete      delete a container and the resources it holds
  exec        run a new process inside a container
  ps          list the processes running inside a container
  list        list the containers started by railcar with the given root
  pause       suspend all processes of a container
  resume      resume all processes of a paused container
  update      update the resource limits of a container
  events      display container events and statistics
  spec        create a new specification file (config.json)
  features    show the enabled features
  checkpoint  checkpoint a running container (CRIU)
  restore     restore a container from a checkpoint (CRIU)

Options:
  --root=<dir>           state directory [default: /run/railcar]
  --log=<file>           log file (created even when nothing fails)
  --log-format=<fmt>     text or json [default: text]
  --debug                log more
  --systemd-cgroup       cgroupsPath is slice:prefix:name
  --rootless=<value>     true, false or auto [default: auto]
  --criu=<path>          path to criu [default: criu]
  --trace-startup        print where startup time goes, to stderr
  --no-init              create and run without railcar's init (for engines'
                         runtimeArgs: the process is pid 1, as with runc)
  --no-prewarm           skip the launcher's cgroup prewarm (to measure it)
  -v --version           print the version
  -h --help              show this help
"""

COMMANDS = {
    "create": """Usage: railcar create [options] <id>

Options:
  -b --bundle=<dir>          bundle directory [default: .]
  --pid-file=<file>          write the container's init pid here
  --console-socket=<sock>    unix socket receiving the pty master
  --no-pivot                 do not use pivot_root
  --no-new-keyring           do not create a session keyring
  --preserve-fds=<n>         pass N extra fds (3..3+N-1) [default: 0]
  --no-init                  run the process as pid 1, without railcar's init
  -h --help                  show this help
""",
    "start": """Usage: railcar start [options] <id>

Options:
  -h --help  show this help
""",
    "run": """Usage: railcar run [options] <id>

Options:
  -b --bundle=<dir>          bundle directory [default: .]
  --pid-file=<file>          write the container's init pid here
  --console-socket=<sock>    unix socket receiving the pty master
  -d --detach                do not wait for the container to exit
  --keep                     do not delete the container after it exits
  --no-pivot                 do not use pivot_root
  --no-new-keyring           do not create a session keyring
  --preserve-fds=<n>         pass N extra fds (3..3+N-1) [default: 0]
  --no-init                  run the process as pid 1, without railcar's init
  -h --help                  show this help
""",
    "state": """Usage: railcar state [options] <id>

Options:
  -h --help  show this help
""",
    "kill": """Usage: railcar kill [options] <id> [<signal>]

Options:
  -a --all   send the signal to every process of the container
  -h --help  show this help
""",
    "delete": """Usage: railcar delete [options] <id>

Options:
  -f --force  kill the container first if it is running
  -h --help   show this help
""",
    "exec": """
Usage: railcar exec [options] [--env=<kv>]... [--cap=<cap>]... [--additional-gids=<g>]... <id> [<command>...]

Options:
  -p --process=<file>        process.json to run
  -d --detach                do not wait for the process
  --pid-file=<file>          write the process's pid here
  --console-socket=<sock>    unix socket receiving the pty master
  -t --tty                   allocate a pseudo-TTY
  -e --env=<kv>              set an environment variable (repeatable)
  -u --user=<uid:gid>        user to run as
  -g --additional-gids=<g>   an additional gid (repeatable)
  --cwd=<dir>                working directory
  -c --cap=<cap>             add a capability (repeatable)
  --no-new-privs             set no_new_privileges
  --preserve-fds=<n>         pass N extra fds [default: 0]
  --ignore-paused            allow exec in a paused container
  --apparmor=<profile>       apparmor profile
  --process-label=<label>    selinux label
  -h --help                  show this help
""",
    "ps": """Usage: railcar ps [options] <id> [<ps-args>...]

Options:
  -f --format=<fmt>  table or json [default: table]
  -h --help          show this help
""",
    "list": """Usage: railcar list [options]

Options:
  -f --format=<fmt>  table or json [default: table]
  -q --quiet         print only the container ids
  -h --help          show this help
""",
    "pause": """Usage: railcar pause [options] <id>

Options:
  -h --help  show this help
""",
    "resume": """Usage: railcar resume [options] <id>

Options:
  -h --help  show this help
""",
    "update": """Usage: railcar update [options] <id>

Options:
  -r --resources=<file>        resources JSON (- for stdin)
  --blkio-weight=<n>           block IO weight
  --cpu-period=<n>             CPU CFS period
  --cpu-quota=<n>              CPU CFS quota
  --cpu-share=<n>              CPU shares
  --cpu-rt-period=<n>          realtime period
  --cpu-rt-runtime=<n>         realtime runtime
  --cpuset-cpus=<cpus>         CPUs allowed
  --cpuset-mems=<mems>         memory nodes allowed
  --memory=<bytes>             memory limit
  --memory-reservation=<bytes> memory soft limit
  --memory-swap=<bytes>        memory plus swap limit
  --pids-limit=<n>             maximum number of pids
  -h --help                    show this help
""",
    "events": """Usage: railcar events [options] <id>

Options:
  --stats              print one statistics object and exit
  --interval=<dur>     statistics interval [default: 5s]
  -h --help            show this help
""",
    "spec": """Usage: railcar spec [options]

Options:
  -b --bundle=<dir>  where to write config.json [default: .]
  --rootless         a spec for a rootless container
  -h --help          show this help
""",
    "features": """Usage: railcar features [options]

Options:
  -h --help  show this help
""",
    "checkpoint": """Usage: railcar checkpoint [options] <id>

Options:
  --image-path=<dir>            where to write the checkpoint [default: ./checkpoint]
  --work-path=<dir>             CRIU work directory and logs (default: the image path)
  --parent-path=<dir>           previous (pre-)dump, relative to the image path
  --leave-running               leave the container running after the checkpoint
  --tcp-established             allow established TCP connections
  --ext-unix-sk                 allow external unix sockets
  --shell-job                   allow shell jobs
  --file-locks                  handle file locks
  --pre-dump                    dump memory only, leave the container running
  --manage-cgroups-mode=<mode>  soft, full, strict or ignore [default: soft]
  --empty-ns=<ns>               create this namespace but do not restore it (network)
  --auto-dedup                  deduplicate against the parent image
  --lazy-pages                  leave memory pages to be fetched on demand
  --page-server=<addr:port>     send pages to this CRIU page server
  --status-fd=<fd>              CRIU writes \\0 to this fd when lazy pages are ready
  -h --help                     show this help
""",
    "restore": """Usage: railcar restore [options] <id>

Options:
  -b --bundle=<dir>             bundle directory [default: .]
  --image-path=<dir>            checkpoint to restore [default: ./checkpoint]
  --work-path=<dir>             CRIU work directory and logs (default: the image path)
  --pid-file=<file>             write the container's init pid here
  --console-socket=<sock>       unix socket receiving the pty master
  -d --detach                   do not wait for the container
  --no-pivot                    do not use pivot_root
  --no-subreaper                do not become a subreaper
  --tcp-established             allow established TCP connections
  --ext-unix-sk                 allow external unix sockets
  --shell-job                   allow shell jobs
  --file-locks                  handle file locks
  --manage-cgroups-mode=<mode>  soft, full, strict or ignore [default: soft]
  --empty-ns=<ns>               create this namespace but do not restore it (network)
  --auto-dedup                  deduplicate the images while restoring
  --lazy-pages                  fetch memory pages on demand (criu lazy-pages)
  --status-fd=<fd>              CRIU writes \\0 to this fd once restored
  -h --help                     show this help
""",
}

# Commands whose trailing positionals are someone else's argv: option parsing
# stops at the first positional, as runc's flag parser does.
STOP_AT_POSITIONAL = ("exec", "ps")
