"""Entry point called by the launcher: parse, dispatch, report, exit.

Exits with os._exit after flushing: interpreter finalization would cost
milliseconds on every call and has nothing to clean up here."""

from __future__ import annotations

import sys

from railcar import posixos as os


def _flush() -> None:
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except Exception:
            pass


def main() -> None:
    from railcar import log, trace
    from railcar.errors import RailcarError

    code = 1
    g = None
    trace.enabled = "--trace-startup" in sys.argv or os.getenv("RAILCAR_TRACE_STARTUP") == "1"
    trace.mark("interpreter ready")
    try:
        from railcar import cli

        g, cmd, args = cli.parse(sys.argv[1:])
        log.setup(g.log, g.log_format, g.debug)
        trace.mark("argv parsed")
        if cmd == "version":
            from railcar.commands import version as mod
        elif cmd == "help":
            cli.print_help(args["topic"])
            code = 0
            mod = None
        else:
            # __import__, not importlib: importlib pulls in warnings (~0.5 ms)
            __import__(f"railcar.commands.{cmd}")
            mod = sys.modules[f"railcar.commands.{cmd}"]
        if mod is not None:
            code = mod.main(args, g)
    except RailcarError as e:
        _report(e.msg)
        code = e.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 1
    except OSError as e:  # a system call no command words itself: name the path and the cause
        from railcar.errors import strerror

        what = f"{e.filename}: " if e.filename else ""
        _report(f"{what}{strerror(e.errno)}")
        code = 1
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # a bug: say what, never a traceback unless --debug
        if g is not None and g.debug:
            import traceback

            traceback.print_exc()
        _report(f"internal error: {type(e).__name__}: {e}")
        code = 1
    if trace.enabled:
        trace.mark("exit")
        trace.report(sys.stderr.write)
    _flush()
    os._exit(code)


def _report(msg: str) -> None:
    from railcar import log

    try:
        log.error(msg)
        os.write(2, log.raw(f"railcar: {msg}\n"))
    except Exception:  # reporting must never turn into a traceback
        pass
