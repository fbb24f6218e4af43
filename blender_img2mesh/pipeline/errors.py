"""One exception type for every failure a user can act on.

An :class:`Img2MeshError` carries what went wrong, which file it concerns and what to do
about it.  The command line prints it as one line (no traceback unless ``--verbose``);
the JSON protocol sends the same three fields in its ``error`` event.
"""


class Img2MeshError(Exception):
    """A failure with a clear cause: bad input, missing model, unwritable output."""

    #: exit code of the command line for this kind of error
    exit_code = 2

    def __init__(self, message, *, file=None, hint=None, kind="input"):
        super().__init__(message)
        self.message = message
        self.file = None if file is None else str(file)
        self.hint = hint
        self.kind = kind  # input | model | output | cancelled

    def one_line(self):
        text = self.message
        if self.file and self.file not in text:
            text = f"{text} ({self.file})"
        if self.hint:
            text = f"{text}: {self.hint}"
        return text

    def as_dict(self):
        return {"message": self.message, "file": self.file, "hint": self.hint, "kind": self.kind}

    def __str__(self):
        return self.one_line()


class ModelUnavailable(Img2MeshError):
    """A model is neither in the models folder/cache nor downloadable now."""

    def __init__(self, message, *, file=None, hint=None):
        super().__init__(message, file=file, hint=hint, kind="model")
