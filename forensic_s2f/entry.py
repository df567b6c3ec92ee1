"""The `fs2f` command's entry point. Loading the command (typer, rich, the store's libraries)
takes a tenth of a second or more; a stop signal in that time used to end in a
KeyboardInterrupt traceback, or with no line at all. Until the command has loaded and put its
own handlers in place, a stop ends the process at once with its one line: nothing has been
read or written yet. Once the command has ended (its handlers give these back), a stop is
ignored: the process is only exiting, with the command's own status."""

import os
import signal

from forensic_s2f.errors import STOP_SIGNALS

_loaded: list[bool] = []  # (one entry once the command has loaded)


def _stop_outside_the_command(signal_number: int, _frame: object) -> None:
    if _loaded:  # (the command has ended: its status stands)
        return
    name = signal.Signals(signal_number).name
    os.write(2, f"error: {'interrupted' if name == 'SIGINT' else 'terminated'} ({name}) while fs2f was starting; "
                "nothing was done\n".encode())
    os._exit(128 + signal_number)


def main() -> None:
    """Put the handlers in place, load the command and run it (it puts its own handlers in place
    while it runs, and gives these back when it ends)."""
    for number in STOP_SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:  # (a signal ignored, as under nohup, stays so)
            signal.signal(number, _stop_outside_the_command)
    from forensic_s2f.cli import main as run_command

    _loaded.append(True)
    run_command()
