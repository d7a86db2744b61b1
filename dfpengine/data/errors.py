"""Errors the data readers raise: each names the file and what is wrong with it."""


class DataFormatError(ValueError):
    """A data file is corrupt, truncated or does not match what its format promises."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class DatasetNotFoundError(FileNotFoundError):
    """No files of the requested data set were found in any searched place."""

    def __init__(self, name, searched, hint=""):
        places = ", ".join(str(p) for p in searched) or "(nowhere)"
        message = f"data set {name!r} not found; looked in: {places}"
        super().__init__(message + (f"; {hint}" if hint else ""))
        self.searched = [str(p) for p in searched]
