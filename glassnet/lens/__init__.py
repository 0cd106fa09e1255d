"""The instruments: backprop step by step (`trace`), gradient checks, the training `Recorder` and `diagnose`."""

from glassnet.lens.diagnose import Finding, diagnose
from glassnet.lens.gradcheck_view import GradcheckReport, gradcheck_view
from glassnet.lens.recorder import Recorder, Recording
from glassnet.lens.trace import Step, StepInput, Trace, explain, trace

__all__ = [
    "Finding",
    "GradcheckReport",
    "Recorder",
    "Recording",
    "Step",
    "StepInput",
    "Trace",
    "diagnose",
    "explain",
    "gradcheck_view",
    "trace",
]
