"""Exception types of the project.

Every error a user can cause (bad rule, bad file, bad shape) derives from :class:`LRPError`,
so the command line and the GUI can tell them apart from internal faults and show the message
as it is, without a traceback.
"""


class LRPError(Exception):
    """Base of every error caused by user input (files, arguments, settings)."""


class RuleError(LRPError, ValueError):
    """Unknown rule, bad rule parameter, or a rule that cannot apply to a layer."""


class ModelFormatError(LRPError, ValueError):
    """A model file that cannot be read: malformed, truncated, unsafe or unsupported."""


class ShapeError(LRPError, ValueError):
    """An input whose shape or values do not fit the model."""


class DatasetError(LRPError, ValueError):
    """A dataset file that cannot be read or does not fit what was asked."""


class ExportError(LRPError, OSError):
    """An output file that could not be written (full disk, read-only folder, file exists)."""


class BackendError(LRPError, RuntimeError):
    """A requested array backend (e.g. cupy) or dtype that is not available."""


class Cancelled(LRPError):
    """The user stopped a long job (export, insight computation, download, a GUI task); it
    removed what it had written and returned nothing. The one cancellation type of the
    project: the GUI tells a stop the user asked for from a failure by this class alone."""


class NonFiniteSample(ShapeError, DatasetError):
    """A sample holding NaN or ±inf: the one wording of every command's refusal ("FILE:
    sample 3 contains NaN or infinite values"). ``index`` counts in the batch it was found in;
    a caller that knows where that batch starts in the file renumbers it with :meth:`at`."""

    def __init__(self, index, source=None):
        self.index, self.source = int(index), source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}sample {self.index} contains NaN or infinite values")

    def at(self, index=None, source=None) -> "NonFiniteSample":
        """The same refusal numbered ``index`` in the file (None: as it is), naming ``source``."""
        return NonFiniteSample(self.index if index is None else index, source or self.source)

    @classmethod
    def check(cls, batch, source=None) -> None:
        """Raise for the first sample of ``batch`` (samples first) that is not all finite."""
        import numpy as np  # noqa: PLC0415

        bad = ~np.isfinite(np.reshape(batch, (len(batch), -1)))
        if bad.any():
            raise cls(int(np.argwhere(bad)[0][0]), source)


class RawValuesWarning(UserWarning):
    """Samples passed as raw (``raw=False``) whose values do not look like the model's raw
    input: floats within [−1, 1] for a model of 0…255 pixels (scaled a second time), or values
    beyond its raw range. The Python entry points warn and go on, as the commands do;
    ``warnings.simplefilter("error", lrpcore.RawValuesWarning)`` makes it an error."""
