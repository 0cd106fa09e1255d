"""Optimisers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD, LBFGS), learning-rate
schedules, gradient clipping and penalties."""

from glassnet.optim import lr_scheduler
from glassnet.optim.adagrad import Adagrad
from glassnet.optim.adam import Adam, AdamW
from glassnet.optim.adaptive import ASGD, Adadelta, Adamax, NAdam, RAdam
from glassnet.optim.clip import clip_grad_norm_, clip_grad_value_
from glassnet.optim.lbfgs import LBFGS
from glassnet.optim.optimizer import Optimizer
from glassnet.optim.regularization import l1_penalty, l2_penalty
from glassnet.optim.rmsprop import RMSprop
from glassnet.optim.sgd import SGD

__all__ = [
    "ASGD",
    "Adadelta",
    "Adamax",
    "LBFGS",
    "NAdam",
    "RAdam",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm_",
    "clip_grad_value_",
    "l1_penalty",
    "l2_penalty",
    "lr_scheduler",
]
