"""The instruments: backprop step by step (`trace`), gradient checks, the training `Recorder` and `diagnose`, graph
drawing, the HTML report, attribution (saliency, gradient×input, integrated gradients, SmoothGrad, Grad-CAM,
occlusion) and attention maps."""

from glassnet.lens import plots
from glassnet.lens.attention_maps import AttentionMaps, capture_attention
from glassnet.lens.attribution import (
    grad_cam,
    gradient_x_input,
    integrated_gradients,
    occlusion,
    saliency,
    smoothgrad,
)
from glassnet.lens.diagnose import Finding, diagnose
from glassnet.lens.gradcheck_view import GradcheckReport, gradcheck_view
from glassnet.lens.graph import draw_graph
from glassnet.lens.recorder import Recorder, Recording
from glassnet.lens.report import ReportError, load_recording, report, save_recording
from glassnet.lens.trace import Step, StepInput, Trace, explain, trace

__all__ = [
    "AttentionMaps",
    "capture_attention",
    "grad_cam",
    "gradient_x_input",
    "integrated_gradients",
    "occlusion",
    "plots",
    "saliency",
    "smoothgrad",
    "Finding",
    "GradcheckReport",
    "Recorder",
    "Recording",
    "Step",
    "StepInput",
    "Trace",
    "diagnose",
    "draw_graph",
    "load_recording",
    "report",
    "save_recording",
    "ReportError",
    "explain",
    "gradcheck_view",
    "trace",
]
