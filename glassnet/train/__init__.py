"""Training: the Trainer (fit/evaluate/predict), callbacks, metrics, History, checkpoints and run folders."""

from glassnet.train import metrics
from glassnet.train.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    JSONLLogger,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from glassnet.train.checkpoint import RunDir, load_checkpoint, save_checkpoint
from glassnet.train.gan import GANSampleGrid, GANTrainer, GeneratorEMA, gradient_penalty
from glassnet.train.history import History
from glassnet.train.metrics import Metric
from glassnet.train.progress import ProgressBar
from glassnet.train.runlog import RunLog, RunLogger, SummaryWriter
from glassnet.train.trainer import Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "GANSampleGrid",
    "GANTrainer",
    "GeneratorEMA",
    "History",
    "JSONLLogger",
    "LambdaCallback",
    "LearningRateScheduler",
    "Metric",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "RunDir",
    "RunLog",
    "RunLogger",
    "SummaryWriter",
    "TerminateOnNaN",
    "Trainer",
    "gradient_penalty",
    "load_checkpoint",
    "metrics",
    "save_checkpoint",
]
