"""The kit's error hierarchy (after papermill's ``exceptions.py``).

Every error a user can cause by what they hand in is a :class:`UserInputError`: the command line
prints its message (no traceback) and exits with code 2. Anything else is a bug or an environment
failure and exits with code 1.
"""

from __future__ import annotations


class SimlibError(Exception):
    """Base class of every error raised on purpose by simlib."""

    exit_code: int = 1


class UserInputError(SimlibError):
    """Something the user handed in is invalid (exit code 2)."""

    exit_code = 2


class ScenarioError(UserInputError):
    """A scenario file, preset or ``--set`` override is invalid.

    ``problems`` holds one ``(key_path, message)`` pair per problem so that callers (and tests)
    can see each one; ``str()`` gives the complete human-readable report naming the file.
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: invalid scenario"]
        for key, message in self.problems:
            lines.append(f"  {key}: {message}" if key else f"  {message}")
        super().__init__("\n".join(lines))

    def __reduce__(self) -> tuple[type, tuple[str, list[tuple[str, str]]]]:
        # travels intact between processes (executors send errors back pickled)
        return (type(self), (self.source, self.problems))


class DataError(UserInputError):
    """A data file (a CSV of accounts or a retention table) is invalid."""


class CommandError(UserInputError):
    """A command-line argument is invalid."""


class StorageError(SimlibError):
    """Results could not be written (disk full, input/output error) although the destination was
    usable when the run started (exit code 1). The message names the path and the reason; the
    earlier contents of the destination are left as they were. A destination that cannot be
    used at all (a folder that cannot be created or written) is a :class:`UserInputError`."""


class SimulationError(SimlibError):
    """The engine reached a state that breaks one of its invariants (a bug, never user input)."""


class UnknownNameError(UserInputError, KeyError):
    """A name looked up in a registry (an actor, coverage policy, offer kind, churn-odds term
    or metric) is not registered. The message lists what is and suggests the closest name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
