"""The `fs2f` command's entry point. Loading the command (typer, rich, the store's libraries)
takes a tenth of a second or more; a stop signal in that time used to end in a
KeyboardInterrupt traceback, or with no line at all. Until the command has put its own handlers
in place, a stop ends the process at once with its one line: nothing has been read or written
yet. Once the command has ended, a stop is ignored: the process is only exiting, with the
command's own status."""

import os
import signal

from forensic_s2f.errors import STOP_SIGNALS, command_ended


def _stop_outside_the_command(signal_number: int, _frame: object) -> None:
    if command_ended():  # (its handlers given back to these: its status stands)
        return
    name = signal.Signals(signal_number).name
    os.write(2, f"error: {'interrupted' if name == 'SIGINT' else 'terminated'} ({name}) while fs2f was starting; "
                "nothing was done\n".encode())
    os._exit(128 + signal_number)


def main() -> None:
    """Put the handlers in place, load the command and run it (it puts its own handlers in place
    while it runs, and gives these back when it ends). Once it has ended the stop signals are
    ignored outright: as Python shuts down it sets a signal it has a handler for back to the
    default action (ending the process with no line), but leaves an ignored signal ignored."""
    for number in STOP_SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:  # (a signal ignored, as under nohup, stays so)
            signal.signal(number, _stop_outside_the_command)
    from forensic_s2f.cli import main as run_command

    try:
        run_command()
    finally:
        for number in STOP_SIGNALS:
            if signal.getsignal(number) is _stop_outside_the_command:  # (after a stop, its end-at-once handler stays)
                signal.signal(number, signal.SIG_IGN)
