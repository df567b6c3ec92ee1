"""Errors that reach the user as one line: what failed, on which file or object, and why."""

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Ctrl-C, SIGTERM and a closed terminal: the signals that stop a command in order (Terminated).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def one_line(text: str) -> str:
    """`text` with control characters (a newline in a file name, say) written as escapes, so
    an error stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class Fs2fError(Exception):
    """An expected failure; the CLI prints its message on one line and exits non-zero."""

    exit_code = 2


class UsageProblem(Fs2fError):
    """A command line fs2f cannot run: an unknown option or command, a bad or missing value."""


class InputError(Fs2fError):
    """Bad user input: a file that is missing, empty, unreadable or not decodable audio."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def require_text_name(path: object) -> None:
    """Refuse (InputError naming `path`) a path whose absolute name, or the real path a link in it
    leads to (what intake records), holds bytes that are not UTF-8 (Python shows them as \\udcXX):
    fs2f records names as text, and its decoders take them as text."""
    try:
        os.path.abspath(path).encode("utf-8")
        os.path.realpath(path).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(path, "its name holds bytes that are not UTF-8 (shown as \\udcXX); fs2f records "
                               "names as text: use a UTF-8 name") from None


class StoreError(Fs2fError):
    """The case store refused an operation (unknown case, invalid id, locked store)."""


class Terminated(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM (a job scheduler's stop, a shutdown), raised in the main thread
    so that a command stops in order: a running analysis is recorded as failed, half-written
    outputs are removed, before the process exits. Its message is the signal's name."""


_hold_depth = 0  # how many `stops_held` blocks the main thread is in
_held_stops: list[int] = []  # stop signals that arrived while held


_received_stops: list[int] = []  # stop signals this process has received (see `stop_received`)
_lost_stops: list[int] = []  # stop signals whose Terminated Python discarded (see `keep_lost_stop`)
_ended: list[bool] = []  # one entry once the command has ended (see `command_ended`)
_recorded: list[str] = []  # what the command had recorded in full when a stop ended it (see `note_recorded`)
_failed: list[str] = []  # what the command recorded as failed as an error or a stop ended it (see `note_failed`)


def stop_received() -> str | None:
    """The name of the first stop signal this process received, or None. A stop can end a command
    through another error than its Terminated: an import it cut short leaves a package half run
    for the next import of it (a stopped `case analyze` once ended "module 'matplotlib' has no
    attribute 'get_data_path'"). Once stopped, the stop is what ended the command."""
    return signal.Signals(_received_stops[0]).name if _received_stops else None


def forget_stops() -> None:
    """Start a command afresh (`fs2f`'s entry point, which tests call several times in one process)."""
    _received_stops.clear()
    _lost_stops.clear()
    _ended.clear()
    _recorded.clear()
    _failed.clear()


def note_recorded(outcome: str) -> None:
    """For a command whose outcome is now recorded in full (`outcome` says what, as in "run 3 of
    case C1 was recorded as completed"): a stop that ends the command after this says so. Call it
    inside the `stops_held` block that holds the outcome's last write, after that write: a stop
    that arrived during the write is raised as the block ends, and the command used to end with
    only "error: interrupted", though what it was asked to do was done."""
    _recorded.append(outcome)


def recorded_before_stop() -> str | None:
    """The outcome the command had recorded in full (`note_recorded`), or None."""
    return _recorded[-1] if _recorded else None


def note_failed(outcome: str) -> None:
    """For a command that recorded its work as failed as an error or a stop ended it (`outcome`
    says what, as in "run 3 of case C1 was recorded as failed"): the command's error line says
    so. It used to say only what ended the command, as in "error: terminated (SIGTERM)", and the
    examiner had to look in the store to learn whether anything was recorded."""
    _failed.append(outcome)


def recorded_as_failed() -> str | None:
    """What the command recorded as failed (`note_failed`), or None."""
    return _failed[-1] if _failed else None


def mark_command_ended() -> None:
    """For the command as it ends, before it gives back the stop handlers it found."""
    _ended.append(True)


def command_ended() -> bool:
    """True once the command has ended: for the entry point's handlers, which a stop reaches
    before the command has put its own in place (nothing done yet) and after it has ended."""
    return bool(_ended)


def hold_stop(signal_number: int) -> bool:
    """For the stop signals' handler: True while stops are held (`stops_held`), the signal then
    kept for the end of the hold. Every stop is remembered (`stop_received`)."""
    _received_stops.append(signal_number)
    if _hold_depth == 0:
        return False
    _held_stops.append(signal_number)
    return True


def raise_held_stop() -> None:
    """A point inside a hold where stopping is safe (between the blocks of a long copy): raise
    Terminated now for a stop signal that is being held, or that was lost (`keep_lost_stop`)."""
    if (_held_stops or _lost_stops) and threading.current_thread() is threading.main_thread():
        number = (_held_stops or _lost_stops)[0]
        _held_stops.clear()
        _lost_stops.clear()
        raise Terminated(signal.Signals(number).name)



def keep_lost_stop(exception: BaseException | None) -> bool:
    """For `sys.unraisablehook`: True when `exception` is a stop's Terminated that Python
    discarded, which is then raised at the next safe point (`raise_held_stop`, `raise_lost_stop`).
    A signal's handler runs between any two steps of the main thread, also inside a garbage
    collector's or a weak reference's callback, where Python prints an exception and drops it:
    a Ctrl-C then went unheeded and the command ran on to its end (6 stops in 170)."""
    if not isinstance(exception, Terminated):
        return False
    _lost_stops.append(_received_stops[-1] if _received_stops else signal.SIGTERM)
    return True


def raise_lost_stop() -> None:
    """A point where stopping is safe outside a hold (between an analysis' steps, as a command
    ends): raise Terminated for a stop that was lost."""
    if _lost_stops and _hold_depth == 0:
        raise_held_stop()


@contextmanager
def stops_held() -> Iterator[None]:
    """Hold stop signals over the block (main thread only; blocks nest): one that arrives is
    raised as Terminated as the outermost block ends, or at a `raise_held_stop` inside it.

    Python runs a signal's handler between any two steps of the main thread, so a Terminated
    raised as a context manager's exit begins skips the exit: a store write left its lock and its
    SQLite transaction open, and the command's next write (recording the run as failed) waited
    for them. (Blocking the signals in the main thread is not enough: the kernel hands a signal
    sent to the process to another thread, and Python then runs the handler in the main thread.)"""
    global _hold_depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _hold_depth += 1
    try:
        yield
    finally:
        _hold_depth -= 1
        if _hold_depth == 0:
            raise_held_stop()
